#include "CMeterLinux.h"

#include <linux/ioctl.h>

unsigned long meter_spi_ioc_message(unsigned int count) {
    // SPI_MSGSIZE yields 0 for a count too large for the ioctl's size field; refuse those here
    // instead of issuing a request number that means something else.
    if (count == 0 || SPI_MSGSIZE(count) == 0) {
        return 0;
    }
    return SPI_IOC_MESSAGE(count);
}

const unsigned long meter_spi_ioc_wr_mode = SPI_IOC_WR_MODE;
const unsigned long meter_spi_ioc_rd_mode = SPI_IOC_RD_MODE;
const unsigned long meter_spi_ioc_wr_bits_per_word = SPI_IOC_WR_BITS_PER_WORD;
const unsigned long meter_spi_ioc_wr_max_speed_hz = SPI_IOC_WR_MAX_SPEED_HZ;
const unsigned long meter_spi_ioc_rd_max_speed_hz = SPI_IOC_RD_MAX_SPEED_HZ;
