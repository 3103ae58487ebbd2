// The pipe to a device-model process (meter-models), shared by the kernel-in-the-loop bridges
// (meter-cuse, meter-cp2112). Request: u32 length, payload. Reply: i32 errno (0 = success),
// u32 length, bytes. The payload formats are meter-models' (Tests/KernelInTheLoop/meter-models).
#ifndef METER_MODEL_PIPE_H
#define METER_MODEL_PIPE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int to_model = -1;
static int from_model = -1;

static int write_all(int fd, const void *buffer, size_t size) {
    const uint8_t *bytes = buffer;
    while (size > 0) {
        ssize_t n = write(fd, bytes, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        bytes += n;
        size -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buffer, size_t size) {
    uint8_t *bytes = buffer;
    while (size > 0) {
        ssize_t n = read(fd, bytes, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        bytes += n;
        size -= (size_t)n;
    }
    return 0;
}

static int ask_model(const uint8_t *request, uint32_t size, uint8_t *reply, uint32_t capacity,
                     uint32_t *reply_size) {
    int32_t status;
    if (write_all(to_model, &size, 4) || write_all(to_model, request, size) ||
        read_all(from_model, &status, 4) || read_all(from_model, reply_size, 4)) {
        return EIO;
    }
    if (*reply_size > capacity) return EIO;
    if (read_all(from_model, reply, *reply_size)) return EIO;
    return status;
}

static void start_model(char **command) {
    int requests[2], replies[2];
    if (pipe(requests) || pipe(replies)) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        dup2(requests[0], 0);
        dup2(replies[1], 1);
        close(requests[1]);
        close(replies[0]);
        execvp(command[0], command);
        perror(command[0]);
        _exit(127);
    }
    close(requests[0]);
    close(replies[1]);
    to_model = requests[1];
    from_model = replies[0];
}

#endif
