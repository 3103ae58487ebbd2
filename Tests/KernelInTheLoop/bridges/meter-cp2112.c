// meter-cp2112: an emulated Silicon Labs CP2112 USB-to-SMBus bridge, created through /dev/uhid,
// whose I2C side is the project's chip models (meter-models i2c, over a pipe). The kernel's own
// hid-cp2112 driver binds to it and registers a real I2C adapter, so an I2C_RDWR on its
// /dev/i2c-N goes through the kernel's i2c-dev, I2C core and adapter driver before reaching the
// models. Test harness only (the kernel-in-the-loop guest has no I2C controller).
//
//   meter-cp2112 -- MODEL-COMMAND...          e.g. meter-cp2112 -- meter-models i2c
//
// Protocol: Silicon Labs AN495 "CP2112 Interface Specification", as driven by Linux 6.1
// drivers/hid/hid-cp2112.c. What the bridge can carry is what the real part can: one write of
// at most 61 bytes, one read of at most 512, or one write (at most 16 bytes) then one read with
// a repeated START; an address nobody acknowledges reports "timeout, address NACKed", which the
// driver turns into ETIMEDOUT.
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <linux/uhid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model-pipe.h"

// USB IDs hid-cp2112 binds to (drivers/hid/hid-ids.h: USB_VENDOR_ID_CYGNAL, _CP2112).
#define CP2112_VENDOR 0x10C4
#define CP2112_PRODUCT 0xEA90

// AN495 report IDs.
enum {
    GPIO_CONFIG = 0x02,
    GPIO_GET = 0x03,
    GPIO_SET = 0x04,
    GET_VERSION_INFO = 0x05,
    SMBUS_CONFIG = 0x06,
    DATA_READ_REQUEST = 0x10,
    DATA_WRITE_READ_REQUEST = 0x11,
    DATA_READ_FORCE_SEND = 0x12,
    DATA_READ_RESPONSE = 0x13,
    DATA_WRITE_REQUEST = 0x14,
    TRANSFER_STATUS_REQUEST = 0x15,
    TRANSFER_STATUS_RESPONSE = 0x16,
    CANCEL_TRANSFER = 0x17,
    LOCK_BYTE = 0x20,
};

// AN495 transfer status: Status 0, and Status 1 when Status 0 is "error".
enum { STATUS0_IDLE = 0x00, STATUS0_COMPLETE = 0x02, STATUS0_ERROR = 0x03 };
enum {
    STATUS1_TIMEOUT_NACK = 0x00,
    STATUS1_TIMEOUT_BUS = 0x01,
    STATUS1_ARBITRATION_LOST = 0x02,
    STATUS1_WRITE_INCOMPLETE = 0x04,
    STATUS1_SUCCESS = 0x05,
};

// CP2112 part number 0x0C; device version 2, because hid-cp2112 refuses write-then-read
// (repeated START) on version 1 parts.
static const uint8_t version_info[] = {GET_VERSION_INFO, 0x0C, 0x02};

#define REPORT_SIZE 64
#define WRITE_MAX 61
#define READ_MAX 512
#define TARGET_ADDRESS_MAX 16
#define READ_RESPONSE_MAX 61

// One vendor-defined collection declaring every report hid-cp2112 uses, 63 bytes after the ID:
// the HID core only delivers input reports the descriptor declares.
static size_t report_descriptor(uint8_t *d) {
    static const uint8_t inputs[] = {DATA_READ_RESPONSE, TRANSFER_STATUS_RESPONSE};
    static const uint8_t outputs[] = {DATA_READ_REQUEST,    DATA_WRITE_READ_REQUEST,
                                      DATA_READ_FORCE_SEND, DATA_WRITE_REQUEST,
                                      TRANSFER_STATUS_REQUEST, CANCEL_TRANSFER};
    static const uint8_t features[] = {GPIO_CONFIG, GPIO_GET,     GPIO_SET,
                                       GET_VERSION_INFO, SMBUS_CONFIG, LOCK_BYTE};
    size_t n = 0;
    const uint8_t head[] = {0x06, 0x00, 0xFF, 0x09, 0x01, 0xA1, 0x01,
                            0x15, 0x00, 0x26, 0xFF, 0x00, 0x75, 0x08};
    memcpy(d, head, sizeof head);
    n += sizeof head;
    struct {
        const uint8_t *ids;
        size_t count;
        uint8_t item;
    } kinds[] = {{inputs, sizeof inputs, 0x81}, {outputs, sizeof outputs, 0x91},
                 {features, sizeof features, 0xB1}};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < kinds[k].count; i++) {
            const uint8_t report[] = {0x85, kinds[k].ids[i], 0x95, REPORT_SIZE - 1,
                                      0x09, 0x01,            kinds[k].item, 0x02};
            memcpy(d + n, report, sizeof report);
            n += sizeof report;
        }
    }
    d[n++] = 0xC0;
    return n;
}

static int uhid = -1;

static void send_event(struct uhid_event *event) {
    if (write(uhid, event, sizeof *event) != (ssize_t)sizeof *event) {
        perror("meter-cp2112: write /dev/uhid");
        exit(1);
    }
}

static void send_input(const uint8_t *report, size_t size) {
    struct uhid_event event = {.type = UHID_INPUT2};
    memcpy(event.u.input2.data, report, size);
    event.u.input2.size = REPORT_SIZE;
    send_event(&event);
}

// The transfer the host started last: its status, and the bytes read not yet fetched.
static struct {
    uint8_t status0, status1;
    uint8_t data[READ_MAX];
    size_t length, fetched;
} transfer = {.status0 = STATUS0_IDLE};

static uint8_t status1_for(int error) {
    switch (error) {
    case ENXIO:
    case EREMOTEIO: return STATUS1_TIMEOUT_NACK;
    case EAGAIN: return STATUS1_ARBITRATION_LOST;
    case ETIMEDOUT: return STATUS1_TIMEOUT_BUS;
    default: return STATUS1_WRITE_INCOMPLETE;
    }
}

// Runs one I2C transaction on the models: an optional write, then an optional read.
static void run_transfer(uint8_t address, const uint8_t *written, size_t write_length,
                         size_t read_length) {
    uint8_t request[8 + WRITE_MAX + TARGET_ADDRESS_MAX];
    uint32_t size = 0;
    request[size++] = 'I';
    request[size++] = address;
    request[size++] = (uint8_t)((write_length || !read_length) + (read_length > 0));
    if (write_length || !read_length) {
        request[size++] = 'W';
        request[size++] = write_length & 0xFF;
        request[size++] = write_length >> 8;
        memcpy(request + size, written, write_length);
        size += write_length;
    }
    if (read_length) {
        request[size++] = 'R';
        request[size++] = read_length & 0xFF;
        request[size++] = read_length >> 8;
    }
    uint32_t reply_size = 0;
    int error = ask_model(request, size, transfer.data, sizeof transfer.data, &reply_size);
    transfer.fetched = 0;
    if (error || reply_size != read_length) {
        transfer.status0 = STATUS0_ERROR;
        transfer.status1 = status1_for(error ? error : EIO);
        transfer.length = 0;
    } else {
        transfer.status0 = STATUS0_COMPLETE;
        transfer.status1 = STATUS1_SUCCESS;
        transfer.length = read_length;
    }
}

static uint16_t big_endian16(const uint8_t *bytes) { return (uint16_t)(bytes[0] << 8 | bytes[1]); }

// An output report: a transfer request, a status request, or a request for read data.
static void handle_output(const uint8_t *report, size_t size) {
    uint8_t reply[REPORT_SIZE] = {0};
    switch (report[0]) {
    case DATA_READ_REQUEST:
        if (size < 4) break;
        run_transfer(report[1] >> 1, NULL, 0, big_endian16(report + 2));
        break;
    case DATA_WRITE_READ_REQUEST:
        if (size < 5 || report[4] > TARGET_ADDRESS_MAX || size < 5u + report[4]) break;
        run_transfer(report[1] >> 1, report + 5, report[4], big_endian16(report + 2));
        break;
    case DATA_WRITE_REQUEST:
        if (size < 3 || report[2] > WRITE_MAX || size < 3u + report[2]) break;
        run_transfer(report[1] >> 1, report + 3, report[2], 0);
        break;
    case TRANSFER_STATUS_REQUEST: {
        size_t length = transfer.status0 == STATUS0_COMPLETE ? transfer.length : 0;
        const uint8_t status[] = {TRANSFER_STATUS_RESPONSE, transfer.status0, transfer.status1,
                                  0, 0, (uint8_t)(length >> 8), (uint8_t)length};
        memcpy(reply, status, sizeof status);
        send_input(reply, sizeof reply);
        break;
    }
    case DATA_READ_FORCE_SEND: {
        if (size < 3) break;
        size_t wanted = big_endian16(report + 1);
        size_t left = transfer.length - transfer.fetched;
        size_t count = wanted < left ? wanted : left;
        if (count > READ_RESPONSE_MAX) count = READ_RESPONSE_MAX;
        reply[0] = DATA_READ_RESPONSE;
        reply[1] = transfer.status0;
        reply[2] = (uint8_t)count;
        memcpy(reply + 3, transfer.data + transfer.fetched, count);
        transfer.fetched += count;
        send_input(reply, sizeof reply);
        break;
    }
    case CANCEL_TRANSFER:
        transfer.status0 = STATUS0_IDLE;
        transfer.length = transfer.fetched = 0;
        break;
    default:
        fprintf(stderr, "meter-cp2112: output report 0x%02x ignored\n", report[0]);
    }
}

// Feature reports: the version and SMBus configuration the driver reads at probe time, the
// lock byte (all fields still programmable), and the GPIO side, whose pins are unused here
// (inputs, all low).
static void handle_get_report(uint32_t id, uint8_t number) {
    struct uhid_event event = {.type = UHID_GET_REPORT_REPLY};
    event.u.get_report_reply.id = id;
    uint8_t *data = event.u.get_report_reply.data;
    uint16_t size = 0;
    switch (number) {
    case GET_VERSION_INFO:
        memcpy(data, version_info, sizeof version_info);
        size = sizeof version_info;
        break;
    case SMBUS_CONFIG: {
        // 400 kHz, no timeouts, no retry limit (the driver sets one retry).
        const uint8_t config[] = {SMBUS_CONFIG, 0x00, 0x06, 0x1A, 0x80, 0x02, 0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(data, config, sizeof config);
        size = sizeof config;
        break;
    }
    case GPIO_CONFIG: {
        const uint8_t config[] = {GPIO_CONFIG, 0x00, 0x00, 0x00, 0x00};
        memcpy(data, config, sizeof config);
        size = sizeof config;
        break;
    }
    case LOCK_BYTE: {
        const uint8_t lock[] = {LOCK_BYTE, 0xFF};
        memcpy(data, lock, sizeof lock);
        size = sizeof lock;
        break;
    }
    case GPIO_GET: {
        const uint8_t levels[] = {GPIO_GET, 0x00};
        memcpy(data, levels, sizeof levels);
        size = sizeof levels;
        break;
    }
    default: event.u.get_report_reply.err = EIO;
    }
    event.u.get_report_reply.size = size;
    send_event(&event);
}

int main(int argc, char **argv) {
    if (argc < 3 || strcmp(argv[1], "--") != 0) {
        fprintf(stderr, "usage: meter-cp2112 -- MODEL-COMMAND...\n");
        return 2;
    }
    start_model(argv + 2);
    uhid = open("/dev/uhid", O_RDWR | O_CLOEXEC);
    if (uhid < 0) {
        perror("meter-cp2112: open /dev/uhid");
        return 1;
    }
    struct uhid_event create = {.type = UHID_CREATE2};
    snprintf((char *)create.u.create2.name, sizeof create.u.create2.name,
             "meter-cp2112 (emulated CP2112 USB-SMBus bridge)");
    create.u.create2.rd_size = (uint16_t)report_descriptor(create.u.create2.rd_data);
    create.u.create2.bus = BUS_USB;
    create.u.create2.vendor = CP2112_VENDOR;
    create.u.create2.product = CP2112_PRODUCT;
    send_event(&create);
    for (;;) {
        struct uhid_event event;
        ssize_t n = read(uhid, &event, sizeof event);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            perror("meter-cp2112: read /dev/uhid");
            return 1;
        }
        switch (event.type) {
        case UHID_OUTPUT:
            if (event.u.output.size > 0) handle_output(event.u.output.data, event.u.output.size);
            break;
        case UHID_GET_REPORT: handle_get_report(event.u.get_report.id, event.u.get_report.rnum); break;
        case UHID_SET_REPORT: {
            struct uhid_event reply = {.type = UHID_SET_REPORT_REPLY};
            reply.u.set_report_reply.id = event.u.set_report.id;
            send_event(&reply);
            break;
        }
        default: break;
        }
    }
}
