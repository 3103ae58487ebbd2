// The declarations are in include/CLibFuzzer.h; libFuzzer itself comes from -sanitize=fuzzer.
