// SPDX-License-Identifier: MIT
/* syslimit.h - system limits by name (sysctls under /proc/sys) and the
 * capability that lifts some of them, so that errors can name the limit
 * at fault and say how to raise it. */
#ifndef IPK_SYSLIMIT_H
#define IPK_SYSLIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* syslimit_sysctl - the value of a numeric sysctl by its dotted name
 * ("fs.mqueue.msg_max" reads /proc/sys/fs/mqueue/msg_max).  0 or -errno
 * (-ENOENT when /proc is not there). */
int syslimit_sysctl(const char *name, uint64_t *out);

/* syslimit_cap_resource - true when this thread has CAP_SYS_RESOURCE in
 * its effective set, which lifts fs.mqueue.msg_max, msgsize_max and
 * kernel.msgmnb (but not RLIMIT_MSGQUEUE or kernel.msgmax). */
bool syslimit_cap_resource(void);

#endif
