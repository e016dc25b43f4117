// SPDX-License-Identifier: MIT
/* harness.c - fresh names, temp dirs and child processes for the tests. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static char harness_dir[256];
static unsigned harness_counter;

static int
harness_rm_cb(const char *path, const struct stat *sb, int type,
              struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

void
harness_cleanup(void)
{
	if (harness_dir[0] == '\0')
		return;
	nftw(harness_dir, harness_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	harness_dir[0] = '\0';
}

const char *
harness_tmpdir(void)
{
	static pid_t owner;
	const char *base;

	if (harness_dir[0] != '\0' && owner == getpid())
		return harness_dir;
	base = getenv("TMPDIR");
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	snprintf(harness_dir, sizeof(harness_dir), "%s/ipk-test-XXXXXX", base);
	if (mkdtemp(harness_dir) == NULL) {
		perror("harness: mkdtemp");
		abort();
	}
	if (owner == 0)
		atexit(harness_cleanup);
	owner = getpid();
	return harness_dir;
}

void
harness_name(char *buf, size_t cap, const char *tag)
{
	unsigned r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned)getpid() * 40503u;
	snprintf(buf, cap, "ipk-test-%ld-%u-%04x-%s", (long)getpid(),
	         harness_counter++, r & 0xffff, tag);
}

void
harness_path(char *buf, size_t cap, const char *tag)
{
	snprintf(buf, cap, "%s/%u-%s", harness_tmpdir(), harness_counter++,
	         tag);
}

long
harness_key(void)
{
	unsigned r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned)getpid() * 2654435761u;
	/* Positive, above the small keys people type by hand. */
	return 0x10000000L + (long)(r & 0x0fffffff);
}

unsigned
harness_fnv1a(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

const char *
harness_ipckit(void)
{
	const char *p = getenv("IPCKIT");

	return p && p[0] ? p : "ipckit";
}

pid_t
fork_child(int (*fn)(void *arg), void *arg)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int
wait_child(pid_t pid, int timeout_ms)
{
	int status, pfd = (int)syscall(SYS_pidfd_open, pid, 0);

	/* A pidfd turns "wait for exit, at most timeout_ms" into one poll. */
	if (pfd >= 0) {
		struct pollfd q = { .fd = pfd, .events = POLLIN };
		int k;

		do
			k = poll(&q, 1, timeout_ms);
		while (k < 0 && errno == EINTR);
		close(pfd);
		if (k == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int
proc_start(struct proc *p, char *const argv[], bool ready, int timeout_ms)
{
	int pfd[2] = { -1, -1 };
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->ready_fd = -1;
	if (ready && pipe2(pfd, O_CLOEXEC) != 0)
		return -errno;
	p->pid = fork();
	if (p->pid < 0) {
		int err = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (p->pid == 0) {
		if (ready) {
			if (dup2(pfd[1], 3) != 3)
				_exit(127);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (!ready)
		return 0;
	close(pfd[1]);
	p->ready_fd = pfd[0];
	while (n + 1 < sizeof(p->ready)) {
		struct pollfd q = { .fd = p->ready_fd, .events = POLLIN };
		ssize_t r;
		int k = poll(&q, 1, timeout_ms);

		if (k == 0) {
			proc_kill(p, SIGKILL);
			return -ETIMEDOUT;
		}
		if (k < 0 && errno == EINTR)
			continue;
		r = read(p->ready_fd, p->ready + n, 1);
		if (r <= 0) {
			proc_kill(p, SIGKILL);
			return r == 0 ? -EPIPE : -errno;
		}
		if (p->ready[n] == '\n')
			break;
		n++;
	}
	p->ready[n] = '\0';
	return 0;
}

int
proc_wait(struct proc *p, int timeout_ms, int *status)
{
	int rc;

	if (p->pid < 0)
		return -ECHILD;
	rc = wait_child(p->pid, timeout_ms);
	p->pid = -1;
	if (p->ready_fd >= 0)
		close(p->ready_fd);
	p->ready_fd = -1;
	if (rc == -ETIMEDOUT)
		return rc;
	*status = rc;
	return 0;
}

void
proc_kill(struct proc *p, int sig)
{
	if (p->pid < 0)
		return;
	kill(p->pid, sig);
	/* On timeout wait_child() sends SIGKILL and reaps. */
	(void)wait_child(p->pid, 2000);
	p->pid = -1;
	if (p->ready_fd >= 0)
		close(p->ready_fd);
	p->ready_fd = -1;
}

static int64_t
harness_clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
harness_now_ms(void)
{
	return harness_clock_ms(CLOCK_MONOTONIC);
}

int64_t
harness_cpu_ms(void)
{
	return harness_clock_ms(CLOCK_PROCESS_CPUTIME_ID);
}
