// SPDX-License-Identifier: MIT
/* stop.c - signals to a self-pipe that is written once and never read, so
 * that it stays readable for every poll() in every thread. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stop.h"

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

static int stop_pipe[2] = { -1, -1 };
static pid_t stop_owner;                /* the process that installed us */
static volatile sig_atomic_t stop_flag; /* 0, or a signal number, or -1 */

static void
stop_write(void)
{
	int saved = errno;

	/* One byte is enough; a full pipe (never, at one byte) is fine. */
	if (write(stop_pipe[1], "s", 1) < 0)
		(void)0;
	errno = saved;
}

static void
stop_handler(int signo)
{
	/* A child forked without exec (bench's two sides) inherits this
	 * handler: it dies of the signal as it would without us. */
	if (getpid() != stop_owner) {
		signal(signo, SIG_DFL);
		raise(signo);
		return;
	}
	if (stop_flag == 0)
		stop_flag = signo;
	stop_write();
}

int
stop_init(void)
{
	struct sigaction sa;

	if (stop_pipe[0] >= 0)
		return 0;
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return -errno;
	stop_owner = getpid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stop_handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a read() of the terminal returns EINTR. */
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(*stop_signals);
	     i++)
		if (sigaction(stop_signals[i], &sa, NULL) != 0)
			return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
stop_fd(void)
{
	return stop_pipe[0];
}

void
stop_request(void)
{
	if (stop_flag == 0)
		stop_flag = -1;
	stop_write();
}

bool
stop_requested(void)
{
	return stop_flag != 0;
}

int
stop_signal(void)
{
	return stop_flag > 0 ? stop_flag : 0;
}

long long
stop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
stop_wait(int fd, short events, int timeout_ms)
{
	struct pollfd q[2] = {
		{ .fd = stop_pipe[0], .events = POLLIN },
		{ .fd = fd, .events = events },
	};
	long long end = timeout_ms < 0 ? 0 : stop_now_ms() + timeout_ms;
	int n;

	if (stop_flag)
		return -ECANCELED;
	for (;;) {
		int left = -1;

		if (timeout_ms >= 0) {
			long long d = end - stop_now_ms();

			left = d < 0 ? 0 : (int)d;
		}
		n = poll(q, fd >= 0 ? 2 : 1, left);
		if (n >= 0 || errno != EINTR || stop_flag)
			break;
	}
	if (stop_flag || (n > 0 && q[0].revents))
		return -ECANCELED;
	if (n < 0)
		return -errno;
	return n > 0 ? 1 : 0;
}
