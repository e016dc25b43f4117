// SPDX-License-Identifier: MIT
/* harness.h - what tests share: fresh names for IPC objects, a private
 * temporary directory, child processes that report readiness, and
 * deadlines (nothing syncs by sleep). */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* harness_tmpdir - a directory made for this test process (mode 0700),
 * removed with its contents by harness_cleanup().  Borrowed string. */
const char *harness_tmpdir(void);

/* harness_name - a fresh name "ipk-test-<pid>-<n>-<tag>" in buf, unique in
 * this machine's run; for /dev/shm, /dev/mqueue and abstract sockets. */
void harness_name(char *buf, size_t cap, const char *tag);

/* harness_path - a fresh path inside harness_tmpdir(). */
void harness_path(char *buf, size_t cap, const char *tag);

/* harness_key - a fresh System V key, unlikely to collide (random). */
long harness_key(void);

/* harness_now_ms - CLOCK_MONOTONIC in ms; harness_cpu_ms - this
 * process's CPU time in ms. */
int64_t harness_now_ms(void);
int64_t harness_cpu_ms(void);

/* harness_cleanup - remove the temporary directory.  Registered with
 * atexit() by the first harness_tmpdir() call. */
void harness_cleanup(void);

struct proc {
	pid_t pid;       /* -1 when not running */
	int ready_fd;    /* read end of the --ready-fd pipe, -1 if none */
	char ready[256]; /* the "ready ..." line, without newline */
};

/*
 * proc_start - fork and exec argv.  If ready is true, a pipe is passed as
 * fd 3 and "--ready-fd 3" must already be in argv; proc_start then waits
 * up to timeout_ms for one line and stores it in p->ready.
 * Returns 0, or -errno / -ETIMEDOUT (the child is killed).
 */
int proc_start(struct proc *p, char *const argv[], bool ready, int timeout_ms);

/* proc_wait - wait up to timeout_ms for exit; the wait status in *status.
 * -ETIMEDOUT if it is still running. */
int proc_wait(struct proc *p, int timeout_ms, int *status);

/* proc_kill - send sig and reap (SIGKILL after 2 s if needed). */
void proc_kill(struct proc *p, int sig);

/* fork_child - fork; in the child run fn(arg) and _exit with its value.
 * Returns the pid, or -errno. */
pid_t fork_child(int (*fn)(void *arg), void *arg);

/* wait_child - reap pid within timeout_ms; its exit code, 128+signal when
 * killed, or -ETIMEDOUT (then the child is SIGKILLed and reaped). */
int wait_child(pid_t pid, int timeout_ms);

/* harness_fnv1a - the 32-bit FNV-1a hash of n bytes, for checksummed
 * test messages. */
unsigned harness_fnv1a(const void *p, size_t n);

/* The path of the ipckit program under test ($IPCKIT, set by meson). */
const char *harness_ipckit(void);

#endif
