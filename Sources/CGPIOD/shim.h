// libgpiod, the GPIO character device library: 1.6 (Debian 12, Raspberry Pi OS bookworm) or
// 2.x (Debian 13, trixie). CMeterLinux adapts the two APIs; Swift code never calls either.
#include <gpiod.h>
