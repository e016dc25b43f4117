// SPDX-License-Identifier: MIT
/* log.h - one line per event on stderr: "2026-11-22T10:00:00.123Z hub
 * info: login alice from 127.0.0.1:40112".  Never given a secret. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* log_init - the component name printed on each line, and the most
 * verbose level printed.  Defaults: "ipckit", LOG_INFO. */
void log_init(const char *component, enum log_level max);

void log_msg(enum log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
