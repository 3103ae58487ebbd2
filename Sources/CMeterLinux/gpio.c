#include "CMeterLinux.h"

#include <errno.h>
#include <gpiod.h>
#include <stdlib.h>
#include <string.h>

// libgpiod 1.x declares the line bulk API (and this macro); 2.x replaced it with line requests.
#ifdef GPIOD_LINE_BULK_MAX_LINES
#define METER_GPIOD_V1 1
#else
#define METER_GPIOD_V1 0
#endif

static void copy_consumer(const char *consumer, char *buffer, size_t size) {
    if (size == 0) {
        return;
    }
    strncpy(buffer, consumer ? consumer : "", size - 1);
    buffer[size - 1] = '\0';
}

#if METER_GPIOD_V1

struct meter_gpio_chip {
    struct gpiod_chip *chip;
};

struct meter_gpio_line {
    struct gpiod_line *line;
};

int meter_gpio_api_major(void) { return 1; }

const char *meter_gpio_library_version(void) { return gpiod_version_string(); }

meter_gpio_chip *meter_gpio_chip_open(const char *path) {
    struct gpiod_chip *chip = gpiod_chip_open(path);
    if (!chip) {
        return NULL;
    }
    meter_gpio_chip *wrapper = malloc(sizeof *wrapper);
    if (!wrapper) {
        gpiod_chip_close(chip);
        errno = ENOMEM;
        return NULL;
    }
    wrapper->chip = chip;
    return wrapper;
}

void meter_gpio_chip_close(meter_gpio_chip *chip) {
    gpiod_chip_close(chip->chip);
    free(chip);
}

int meter_gpio_chip_line_count(meter_gpio_chip *chip) {
    return (int)gpiod_chip_num_lines(chip->chip);
}

int meter_gpio_chip_line_consumer(meter_gpio_chip *chip, unsigned int offset, char *buffer,
                                  size_t size) {
    struct gpiod_line *line = gpiod_chip_get_line(chip->chip, offset);
    if (!line || gpiod_line_update(line) < 0) {
        return -1;
    }
    copy_consumer(gpiod_line_consumer(line), buffer, size);
    return gpiod_line_is_used(line) ? 1 : 0;
}

static meter_gpio_line *wrap_line(struct gpiod_line *line) {
    meter_gpio_line *wrapper = malloc(sizeof *wrapper);
    if (!wrapper) {
        gpiod_line_release(line);
        errno = ENOMEM;
        return NULL;
    }
    wrapper->line = line;
    return wrapper;
}

meter_gpio_line *meter_gpio_request_output(meter_gpio_chip *chip, unsigned int offset,
                                           const char *consumer, int initial_value) {
    struct gpiod_line *line = gpiod_chip_get_line(chip->chip, offset);
    if (!line || gpiod_line_request_output(line, consumer, initial_value) < 0) {
        return NULL;
    }
    return wrap_line(line);
}

meter_gpio_line *meter_gpio_request_input(meter_gpio_chip *chip, unsigned int offset,
                                          const char *consumer, meter_gpio_bias bias,
                                          int detect_edges) {
    int flags = 0;
    switch (bias) {
    case METER_GPIO_BIAS_AS_IS: break;
    case METER_GPIO_BIAS_DISABLED: flags = GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE; break;
    case METER_GPIO_BIAS_PULL_UP: flags = GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP; break;
    case METER_GPIO_BIAS_PULL_DOWN: flags = GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN; break;
    }
    struct gpiod_line *line = gpiod_chip_get_line(chip->chip, offset);
    if (!line) {
        return NULL;
    }
    int status = detect_edges
                     ? gpiod_line_request_both_edges_events_flags(line, consumer, flags)
                     : gpiod_line_request_input_flags(line, consumer, flags);
    if (status < 0) {
        return NULL;
    }
    return wrap_line(line);
}

void meter_gpio_line_release(meter_gpio_line *line) {
    gpiod_line_release(line->line);
    free(line);
}

int meter_gpio_line_get_value(meter_gpio_line *line) { return gpiod_line_get_value(line->line); }

int meter_gpio_line_set_value(meter_gpio_line *line, int value) {
    return gpiod_line_set_value(line->line, value);
}

int meter_gpio_line_event_fd(meter_gpio_line *line) { return gpiod_line_event_get_fd(line->line); }

int meter_gpio_line_read_edge(meter_gpio_line *line, int *rising, uint64_t *timestamp_ns) {
    struct gpiod_line_event event;
    if (gpiod_line_event_read(line->line, &event) < 0) {
        return -1;
    }
    *rising = event.event_type == GPIOD_LINE_EVENT_RISING_EDGE;
    *timestamp_ns = (uint64_t)event.ts.tv_sec * 1000000000u + (uint64_t)event.ts.tv_nsec;
    return 0;
}

#else

struct meter_gpio_chip {
    struct gpiod_chip *chip;
};

struct meter_gpio_line {
    struct gpiod_line_request *request;
    unsigned int offset;
    struct gpiod_edge_event_buffer *events;
};

int meter_gpio_api_major(void) { return 2; }

const char *meter_gpio_library_version(void) { return gpiod_api_version(); }

meter_gpio_chip *meter_gpio_chip_open(const char *path) {
    struct gpiod_chip *chip = gpiod_chip_open(path);
    if (!chip) {
        return NULL;
    }
    meter_gpio_chip *wrapper = malloc(sizeof *wrapper);
    if (!wrapper) {
        gpiod_chip_close(chip);
        errno = ENOMEM;
        return NULL;
    }
    wrapper->chip = chip;
    return wrapper;
}

void meter_gpio_chip_close(meter_gpio_chip *chip) {
    gpiod_chip_close(chip->chip);
    free(chip);
}

int meter_gpio_chip_line_count(meter_gpio_chip *chip) {
    struct gpiod_chip_info *info = gpiod_chip_get_info(chip->chip);
    if (!info) {
        return -1;
    }
    int count = (int)gpiod_chip_info_get_num_lines(info);
    gpiod_chip_info_free(info);
    return count;
}

int meter_gpio_chip_line_consumer(meter_gpio_chip *chip, unsigned int offset, char *buffer,
                                  size_t size) {
    struct gpiod_line_info *info = gpiod_chip_get_line_info(chip->chip, offset);
    if (!info) {
        return -1;
    }
    copy_consumer(gpiod_line_info_get_consumer(info), buffer, size);
    int used = gpiod_line_info_is_used(info) ? 1 : 0;
    gpiod_line_info_free(info);
    return used;
}

static meter_gpio_line *request_line(meter_gpio_chip *chip, unsigned int offset,
                                     const char *consumer, struct gpiod_line_settings *settings,
                                     int detect_edges) {
    meter_gpio_line *line = NULL;
    struct gpiod_line_config *line_config = gpiod_line_config_new();
    struct gpiod_request_config *request_config = gpiod_request_config_new();
    int saved_errno = ENOMEM;
    if (!line_config || !request_config ||
        gpiod_line_config_add_line_settings(line_config, &offset, 1, settings) < 0) {
        saved_errno = errno ? errno : ENOMEM;
        goto done;
    }
    gpiod_request_config_set_consumer(request_config, consumer);
    struct gpiod_line_request *request =
        gpiod_chip_request_lines(chip->chip, request_config, line_config);
    if (!request) {
        saved_errno = errno;
        goto done;
    }
    line = calloc(1, sizeof *line);
    if (line && detect_edges) {
        line->events = gpiod_edge_event_buffer_new(1);
    }
    if (!line || (detect_edges && !line->events)) {
        free(line);
        line = NULL;
        gpiod_line_request_release(request);
        saved_errno = ENOMEM;
        goto done;
    }
    line->request = request;
    line->offset = offset;
done:
    gpiod_request_config_free(request_config);
    gpiod_line_config_free(line_config);
    gpiod_line_settings_free(settings);
    if (!line) {
        errno = saved_errno;
    }
    return line;
}

meter_gpio_line *meter_gpio_request_output(meter_gpio_chip *chip, unsigned int offset,
                                           const char *consumer, int initial_value) {
    struct gpiod_line_settings *settings = gpiod_line_settings_new();
    if (!settings) {
        return NULL;
    }
    gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_OUTPUT);
    gpiod_line_settings_set_output_value(
        settings, initial_value ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE);
    return request_line(chip, offset, consumer, settings, 0);
}

meter_gpio_line *meter_gpio_request_input(meter_gpio_chip *chip, unsigned int offset,
                                          const char *consumer, meter_gpio_bias bias,
                                          int detect_edges) {
    struct gpiod_line_settings *settings = gpiod_line_settings_new();
    if (!settings) {
        return NULL;
    }
    gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_INPUT);
    switch (bias) {
    case METER_GPIO_BIAS_AS_IS: gpiod_line_settings_set_bias(settings, GPIOD_LINE_BIAS_AS_IS); break;
    case METER_GPIO_BIAS_DISABLED: gpiod_line_settings_set_bias(settings, GPIOD_LINE_BIAS_DISABLED); break;
    case METER_GPIO_BIAS_PULL_UP: gpiod_line_settings_set_bias(settings, GPIOD_LINE_BIAS_PULL_UP); break;
    case METER_GPIO_BIAS_PULL_DOWN: gpiod_line_settings_set_bias(settings, GPIOD_LINE_BIAS_PULL_DOWN); break;
    }
    if (detect_edges) {
        gpiod_line_settings_set_edge_detection(settings, GPIOD_LINE_EDGE_BOTH);
        gpiod_line_settings_set_event_clock(settings, GPIOD_LINE_CLOCK_MONOTONIC);
    }
    return request_line(chip, offset, consumer, settings, detect_edges);
}

void meter_gpio_line_release(meter_gpio_line *line) {
    gpiod_line_request_release(line->request);
    if (line->events) {
        gpiod_edge_event_buffer_free(line->events);
    }
    free(line);
}

int meter_gpio_line_get_value(meter_gpio_line *line) {
    enum gpiod_line_value value = gpiod_line_request_get_value(line->request, line->offset);
    return value == GPIOD_LINE_VALUE_ERROR ? -1 : value == GPIOD_LINE_VALUE_ACTIVE;
}

int meter_gpio_line_set_value(meter_gpio_line *line, int value) {
    return gpiod_line_request_set_value(line->request, line->offset,
                                        value ? GPIOD_LINE_VALUE_ACTIVE
                                              : GPIOD_LINE_VALUE_INACTIVE);
}

int meter_gpio_line_event_fd(meter_gpio_line *line) {
    return gpiod_line_request_get_fd(line->request);
}

int meter_gpio_line_read_edge(meter_gpio_line *line, int *rising, uint64_t *timestamp_ns) {
    if (!line->events) {
        errno = EINVAL;
        return -1;
    }
    if (gpiod_line_request_read_edge_events(line->request, line->events, 1) < 0) {
        return -1;
    }
    struct gpiod_edge_event *event = gpiod_edge_event_buffer_get_event(line->events, 0);
    *rising = gpiod_edge_event_get_event_type(event) == GPIOD_EDGE_EVENT_RISING_EDGE;
    *timestamp_ns = gpiod_edge_event_get_timestamp_ns(event);
    return 0;
}

#endif
