// SPDX-License-Identifier: MIT
/* stop.h - how a command learns it must stop: SIGINT, SIGTERM or SIGHUP,
 * or its own stop_request() (a "quit" typed by the other side of a chat).
 * Both make one descriptor readable for good, so every wait of every
 * thread polls it beside what it waits for, and a Ctrl-C always reaches
 * the code that cleans up.  SIGPIPE is ignored. */
#ifndef CLI_STOP_H
#define CLI_STOP_H

#include <stdbool.h>

/* stop_init - install the handlers; call once, before making threads.
 * Processes forked afterwards (not exec'd) die of these signals as if no
 * handler were installed.  0 or -errno. */
int stop_init(void);

/* stop_fd - readable once a stop was asked for; never drained. */
int stop_fd(void);

/* stop_request - ask every waiter to stop (async-signal-safe). */
void stop_request(void);

/* stop_requested - has a signal or stop_request() arrived? */
bool stop_requested(void);

/* stop_signal - the signal that asked for the stop, or 0. */
int stop_signal(void);

/*
 * stop_wait - wait until fd has any of events (POLLIN, POLLOUT), a stop
 * is asked for, or timeout_ms passes (-1 waits forever).  fd may be -1 to
 * wait for the stop or the timeout only.  Returns 1 when fd is ready (or
 * hung up), 0 on timeout, -ECANCELED on a stop, or -errno from poll().
 */
int stop_wait(int fd, short events, int timeout_ms);

/* stop_now_ms - CLOCK_MONOTONIC in milliseconds, for deadlines. */
long long stop_now_ms(void);

#endif
