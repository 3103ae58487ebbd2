// libFuzzer's driver, for an executable whose `main` SwiftPM provides (LLVM libFuzzer docs,
// "Using libFuzzer as a library").
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*UserCb)(const uint8_t *Data, size_t Size));
