// SPDX-License-Identifier: MIT
/* queue_util.h - what the queue tests share: fresh addresses that are
 * removed after every test (pass or fail), children that report by exit
 * code, and dropping CAP_SYS_RESOURCE so that limits apply even to root. */
#ifndef TESTS_QUEUE_UTIL_H
#define TESTS_QUEUE_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "ipckit.h"

/* qu_address - a fresh address from form ("sysvmq:%K", "posixmq:/%N",
 * "file:%P", the harness's conventions) plus suffix (options, or ""),
 * remembered for qu_teardown(). */
void qu_address(char *buf, size_t cap, const char *form, const char *suffix);

/* qu_track - remember an address made otherwise. */
void qu_track(const char *address);

/* qu_teardown - cmocka teardown: ipk_unlink() everything remembered. */
int qu_teardown(void **state);

/* qu_child - run fn(arg) in a forked child (which must not use cmocka's
 * asserts) and return its exit code, 128+signal, or -ETIMEDOUT. */
int qu_child(int (*fn)(void *arg), void *arg, int timeout_ms);

/* qu_drop_cap_resource - drop CAP_SYS_RESOURCE from this process's
 * effective set (a child's).  0 or -errno. */
int qu_drop_cap_resource(void);

/* qu_has_detail - true if ipk_errdetail() contains needle; prints the
 * detail when it does not. */
bool qu_has_detail(const char *needle);

/* qu_open - ipk_open() that must succeed (a cmocka assertion). */
struct ipk_chan *qu_open(const char *address, unsigned flags);

/* qu_check_create_flags - on a fresh address: IPK_NOCREATE fails with
 * -ENOENT, IPK_EXCL makes the queue, then fails with -EEXIST, and
 * IPK_NOCREATE opens it.  The queue is left made. */
void qu_check_create_flags(const char *address);

/* qu_sysctl - a number from a /proc/sys file (asserted readable). */
long qu_sysctl(const char *path);

/* What ipk_list() reported for one address. */
struct qu_found {
	const char *address;    /* in: the address to look for */
	struct ipk_object seen; /* out: its object (address cleared) */
	int count;              /* out: how many times it was listed */
};

/* qu_find - run ipk_list() looking for f->address; ipk_list's result. */
int qu_find(struct qu_found *f);

#endif
