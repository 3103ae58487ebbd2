#ifndef C_METER_LINUX_H
#define C_METER_LINUX_H

// What Swift cannot take from the kernel headers or from libgpiod directly:
// - ioctl request numbers built by function-like macros (_IOW, SPI_IOC_MESSAGE(n));
// - one GPIO interface over libgpiod 1.6 and 2.x, chosen when this file is compiled.

#include <stddef.h>
#include <stdint.h>
#include <linux/i2c.h>
#include <linux/i2c-dev.h>
#include <linux/spi/spidev.h>

// MARK: spidev ioctl numbers (linux/spi/spidev.h)

/// SPI_IOC_MESSAGE(count), or 0 when `count` transfers do not fit in one ioctl.
unsigned long meter_spi_ioc_message(unsigned int count);
extern const unsigned long meter_spi_ioc_wr_mode;
extern const unsigned long meter_spi_ioc_rd_mode;
extern const unsigned long meter_spi_ioc_wr_bits_per_word;
extern const unsigned long meter_spi_ioc_wr_max_speed_hz;
extern const unsigned long meter_spi_ioc_rd_max_speed_hz;

// MARK: GPIO lines through libgpiod

typedef struct meter_gpio_chip meter_gpio_chip;
typedef struct meter_gpio_line meter_gpio_line;

typedef enum {
    METER_GPIO_BIAS_AS_IS = 0,
    METER_GPIO_BIAS_DISABLED = 1,
    METER_GPIO_BIAS_PULL_UP = 2,
    METER_GPIO_BIAS_PULL_DOWN = 3,
} meter_gpio_bias;

/// libgpiod's major version this file was compiled against (1 or 2).
int meter_gpio_api_major(void);
/// libgpiod's version string at run time.
const char *meter_gpio_library_version(void);

/// Opens a GPIO character device; NULL with errno set on failure.
meter_gpio_chip *meter_gpio_chip_open(const char *path);
void meter_gpio_chip_close(meter_gpio_chip *chip);
/// Number of lines of the chip, or -1 with errno set.
int meter_gpio_chip_line_count(meter_gpio_chip *chip);
/// Copies the consumer holding a line into `buffer`: 1 when the line is in use, 0 when free,
/// -1 with errno set on failure.
int meter_gpio_chip_line_consumer(meter_gpio_chip *chip, unsigned int offset, char *buffer,
                                  size_t size);

/// Requests one line as an output driven to `initial_value`; NULL with errno set on failure.
/// A line requested from a v1 chip must be released before its chip is closed.
meter_gpio_line *meter_gpio_request_output(meter_gpio_chip *chip, unsigned int offset,
                                           const char *consumer, int initial_value);
/// Requests one line as an input with the given bias, reporting both edges when
/// `detect_edges` is non-zero; NULL with errno set on failure.
meter_gpio_line *meter_gpio_request_input(meter_gpio_chip *chip, unsigned int offset,
                                          const char *consumer, meter_gpio_bias bias,
                                          int detect_edges);
void meter_gpio_line_release(meter_gpio_line *line);
/// 0 or 1, or -1 with errno set.
int meter_gpio_line_get_value(meter_gpio_line *line);
/// 0, or -1 with errno set.
int meter_gpio_line_set_value(meter_gpio_line *line, int value);
/// The file descriptor that becomes readable when an edge event is queued.
int meter_gpio_line_event_fd(meter_gpio_line *line);
/// Reads one queued edge event (blocks if none is queued): 0 on success, -1 with errno set.
int meter_gpio_line_read_edge(meter_gpio_line *line, int *rising, uint64_t *timestamp_ns);

#endif
