// meter-cuse: serves /dev/i2c-N or /dev/spidevB.C from userspace through CUSE, with the
// kernel's real ioctl numbers and structures, forwarding each transaction to a device-model
// process (meter-models) over a pipe. Test harness only: it lets the project's Linux backends
// run unmodified against the project's chip models inside the kernel-in-the-loop guest.
//
//   meter-cuse i2c DEVNAME -- MODEL-COMMAND...     e.g. meter-cuse i2c i2c-1 -- meter-models i2c
//   meter-cuse spi DEVNAME -- MODEL-COMMAND...
//
// CUSE ioctls are "unrestricted": the kernel passes no data until the server names, with
// fuse_reply_ioctl_retry, which user memory to copy in and out; I2C_RDWR and SPI_IOC_MESSAGE
// need up to three rounds (the top structure, the message array, then the data buffers).
#define FUSE_USE_VERSION 31
#include <cuse_lowlevel.h>
#include <fuse_lowlevel.h>

#include <errno.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <linux/spi/spidev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "model-pipe.h"

#define MAX_IOV 128

static int is_spi = 0;
static uint8_t spi_mode = 0, spi_bits = 8;
static uint32_t spi_speed = 500000;

// MARK: I2C (linux/i2c-dev.h)

static void i2c_ioctl(fuse_req_t req, unsigned int cmd, void *arg, const void *in_buf,
                      size_t in_size, size_t out_size) {
    if (cmd == I2C_FUNCS) {
        unsigned long functions = I2C_FUNC_I2C;
        if (out_size < sizeof functions) {
            struct iovec out = {arg, sizeof functions};
            fuse_reply_ioctl_retry(req, NULL, 0, &out, 1);
            return;
        }
        fuse_reply_ioctl(req, 0, &functions, sizeof functions);
        return;
    }
    if (cmd != I2C_RDWR) {
        fuse_reply_err(req, ENOTTY);
        return;
    }
    struct i2c_rdwr_ioctl_data data;
    struct iovec in[MAX_IOV], out[MAX_IOV];
    if (in_size < sizeof data) {
        in[0] = (struct iovec){arg, sizeof data};
        fuse_reply_ioctl_retry(req, in, 1, NULL, 0);
        return;
    }
    memcpy(&data, in_buf, sizeof data);
    if (data.nmsgs == 0 || data.nmsgs > I2C_RDWR_IOCTL_MAX_MSGS) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    size_t messages_size = data.nmsgs * sizeof(struct i2c_msg);
    if (in_size < sizeof data + messages_size) {
        in[0] = (struct iovec){arg, sizeof data};
        in[1] = (struct iovec){data.msgs, messages_size};
        fuse_reply_ioctl_retry(req, in, 2, NULL, 0);
        return;
    }
    const struct i2c_msg *messages = (const void *)((const uint8_t *)in_buf + sizeof data);
    size_t write_total = 0, read_total = 0;
    int in_count = 2, out_count = 0;
    in[0] = (struct iovec){arg, sizeof data};
    in[1] = (struct iovec){data.msgs, messages_size};
    for (unsigned i = 0; i < data.nmsgs; i++) {
        if (messages[i].addr != messages[0].addr) {
            fprintf(stderr, "meter-cuse: one I2C_RDWR to several addresses is not modelled\n");
            fuse_reply_err(req, EINVAL);
            return;
        }
        if (messages[i].flags & I2C_M_RD) {
            out[out_count++] = (struct iovec){messages[i].buf, messages[i].len};
            read_total += messages[i].len;
        } else {
            in[in_count++] = (struct iovec){messages[i].buf, messages[i].len};
            write_total += messages[i].len;
        }
    }
    if (in_size < sizeof data + messages_size + write_total) {
        fuse_reply_ioctl_retry(req, in, in_count, out, out_count);
        return;
    }
    // 'I', address, count, then per message: 'W' len16 bytes | 'R' len16.
    static uint8_t request[65536], reply[65536];
    uint32_t size = 0;
    request[size++] = 'I';
    request[size++] = (uint8_t)messages[0].addr;
    request[size++] = (uint8_t)data.nmsgs;
    const uint8_t *written = (const uint8_t *)in_buf + sizeof data + messages_size;
    for (unsigned i = 0; i < data.nmsgs; i++) {
        int reading = messages[i].flags & I2C_M_RD;
        request[size++] = reading ? 'R' : 'W';
        request[size++] = messages[i].len & 0xFF;
        request[size++] = messages[i].len >> 8;
        if (!reading) {
            memcpy(request + size, written, messages[i].len);
            written += messages[i].len;
            size += messages[i].len;
        }
    }
    uint32_t reply_size = 0;
    int status = ask_model(request, size, reply, sizeof reply, &reply_size);
    if (status) {
        fuse_reply_err(req, status);
    } else if (reply_size != read_total) {
        fuse_reply_err(req, EIO);
    } else {
        // i2c-dev returns the number of messages transferred.
        fuse_reply_ioctl(req, (int)data.nmsgs, reply, reply_size);
    }
}

// MARK: SPI (linux/spi/spidev.h)

static void spi_setting(fuse_req_t req, unsigned int cmd, void *arg, const void *in_buf,
                        size_t in_size, size_t out_size, void *value) {
    size_t size = _IOC_SIZE(cmd);
    if (_IOC_DIR(cmd) & _IOC_WRITE) {
        if (in_size < size) {
            struct iovec in = {arg, size};
            fuse_reply_ioctl_retry(req, &in, 1, NULL, 0);
            return;
        }
        memcpy(value, in_buf, size);
        fuse_reply_ioctl(req, 0, NULL, 0);
        return;
    }
    if (out_size < size) {
        struct iovec out = {arg, size};
        fuse_reply_ioctl_retry(req, NULL, 0, &out, 1);
        return;
    }
    fuse_reply_ioctl(req, 0, value, size);
}

static void spi_ioctl(fuse_req_t req, unsigned int cmd, void *arg, const void *in_buf,
                      size_t in_size, size_t out_size) {
    if (_IOC_TYPE(cmd) != SPI_IOC_MAGIC) {
        fuse_reply_err(req, ENOTTY);
        return;
    }
    switch (_IOC_NR(cmd)) {
    case 1: spi_setting(req, cmd, arg, in_buf, in_size, out_size, &spi_mode); return;
    case 3: spi_setting(req, cmd, arg, in_buf, in_size, out_size, &spi_bits); return;
    case 4: spi_setting(req, cmd, arg, in_buf, in_size, out_size, &spi_speed); return;
    case 0: break;
    default: fuse_reply_err(req, ENOTTY); return;
    }
    size_t size = _IOC_SIZE(cmd);
    if (size == 0 || size % sizeof(struct spi_ioc_transfer) || !(_IOC_DIR(cmd) & _IOC_WRITE)) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    unsigned count = size / sizeof(struct spi_ioc_transfer);
    struct iovec in[MAX_IOV], out[MAX_IOV];
    if (count + 1 > MAX_IOV) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (in_size < size) {
        in[0] = (struct iovec){arg, size};
        fuse_reply_ioctl_retry(req, in, 1, NULL, 0);
        return;
    }
    const struct spi_ioc_transfer *transfers = in_buf;
    size_t transmit_total = 0, receive_total = 0, length_total = 0;
    int in_count = 1, out_count = 0;
    in[0] = (struct iovec){arg, size};
    for (unsigned i = 0; i < count; i++) {
        if (transfers[i].tx_buf) {
            in[in_count++] = (struct iovec){(void *)(uintptr_t)transfers[i].tx_buf, transfers[i].len};
            transmit_total += transfers[i].len;
        }
        if (transfers[i].rx_buf) {
            out[out_count++] = (struct iovec){(void *)(uintptr_t)transfers[i].rx_buf, transfers[i].len};
            receive_total += transfers[i].len;
        }
        length_total += transfers[i].len;
    }
    if (in_size < size + transmit_total) {
        fuse_reply_ioctl_retry(req, in, in_count, out, out_count);
        return;
    }
    // 'S', count, then per operation: 'T' len16 bytes | 'W' len16 bytes | 'R' len16 | 'D' us16.
    static uint8_t request[65536], reply[65536];
    uint32_t request_size = 0;
    uint8_t operations = 0;
    request[request_size++] = 'S';
    request_size++;
    const uint8_t *transmitted = (const uint8_t *)in_buf + size;
    for (unsigned i = 0; i < count; i++) {
        const struct spi_ioc_transfer *t = &transfers[i];
        // A zero-length transfer only carries a delay (LinuxSPIDevice's leading delay).
        if (t->len > 0) {
            char kind = t->tx_buf ? (t->rx_buf ? 'T' : 'W') : 'R';
            request[request_size++] = (uint8_t)kind;
            request[request_size++] = t->len & 0xFF;
            request[request_size++] = t->len >> 8;
            if (t->tx_buf) {
                memcpy(request + request_size, transmitted, t->len);
                transmitted += t->len;
                request_size += t->len;
            }
            operations++;
        }
        if (t->delay_usecs) {
            request[request_size++] = 'D';
            request[request_size++] = t->delay_usecs & 0xFF;
            request[request_size++] = t->delay_usecs >> 8;
            operations++;
        }
    }
    request[1] = operations;
    uint32_t reply_size = 0;
    int status = ask_model(request, request_size, reply, sizeof reply, &reply_size);
    if (status) {
        fuse_reply_err(req, status);
        return;
    }
    // The model returns bytes for 'T' and 'R' operations; a write-only transfer has no rx_buf
    // and a read-only one is 'R', so the reply lines up with the out iovecs.
    if (reply_size != receive_total) {
        fuse_reply_err(req, EIO);
        return;
    }
    fuse_reply_ioctl(req, (int)length_total, reply, reply_size);
}

// MARK: CUSE

static void device_open(fuse_req_t req, struct fuse_file_info *fi) { fuse_reply_open(req, fi); }

static void device_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
                         unsigned flags, const void *in_buf, size_t in_size, size_t out_size) {
    (void)fi;
    if (flags & FUSE_IOCTL_COMPAT) {
        fuse_reply_err(req, ENOSYS);
        return;
    }
    if (is_spi) {
        spi_ioctl(req, (unsigned int)cmd, arg, in_buf, in_size, out_size);
    } else {
        i2c_ioctl(req, (unsigned int)cmd, arg, in_buf, in_size, out_size);
    }
}

static const struct cuse_lowlevel_ops operations = {
    .open = device_open,
    .ioctl = device_ioctl,
};

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[3], "--") != 0 ||
        (strcmp(argv[1], "i2c") != 0 && strcmp(argv[1], "spi") != 0)) {
        fprintf(stderr, "usage: meter-cuse i2c|spi DEVNAME -- MODEL-COMMAND...\n");
        return 2;
    }
    is_spi = strcmp(argv[1], "spi") == 0;
    start_model(argv + 4);
    char devname[128];
    snprintf(devname, sizeof devname, "DEVNAME=%s", argv[2]);
    const char *info[] = {devname};
    struct cuse_info ci = {
        .dev_info_argc = 1,
        .dev_info_argv = info,
        .flags = CUSE_UNRESTRICTED_IOCTL,
    };
    char *fuse_argv[] = {argv[0], "-f", "-s", NULL};
    return cuse_lowlevel_main(3, fuse_argv, &ci, &operations, NULL);
}
