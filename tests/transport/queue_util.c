// SPDX-License-Identifier: MIT
/* queue_util.c - fresh queue addresses with cleanup, children, and
 * capability dropping for the queue tests. */
#include <errno.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ipckit.h"
#include "queue_util.h"

#define QU_MAX 64

static char qu_tracked[QU_MAX][512];
static unsigned qu_count;

void
qu_track(const char *address)
{
	if (qu_count < QU_MAX)
		snprintf(qu_tracked[qu_count++], sizeof(qu_tracked[0]), "%s",
		         address);
}

void
qu_address(char *buf, size_t cap, const char *form, const char *suffix)
{
	const char *pct = strchr(form, '%');
	char piece[300];

	if (pct[1] == 'P')
		harness_path(piece, sizeof(piece), "q");
	else if (pct[1] == 'N')
		harness_name(piece, sizeof(piece), "q");
	else
		snprintf(piece, sizeof(piece), "%ld", harness_key());
	snprintf(buf, cap, "%.*s%s%s", (int)(pct - form), form, piece, suffix);
	qu_track(buf);
}

int
qu_teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < qu_count; i++)
		(void)ipk_unlink(qu_tracked[i]);
	qu_count = 0;
	return 0;
}

int
qu_child(int (*fn)(void *arg), void *arg, int timeout_ms)
{
	pid_t pid;

	fflush(NULL);
	pid = fork_child(fn, arg);
	if (pid < 0)
		return pid;
	return wait_child(pid, timeout_ms);
}

int
qu_drop_cap_resource(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3,
		                                0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) != 0)
		return -errno;
	data[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective &=
	        ~CAP_TO_MASK(CAP_SYS_RESOURCE);
	if (syscall(SYS_capset, &hdr, data) != 0)
		return -errno;
	return 0;
}

bool
qu_has_detail(const char *needle)
{
	if (strstr(ipk_errdetail(), needle))
		return true;
	fprintf(stderr, "# detail \"%s\" lacks \"%s\"\n", ipk_errdetail(),
	        needle);
	return false;
}

struct ipk_chan *
qu_open(const char *address, unsigned flags)
{
	struct ipk_chan *ch = NULL;
	int err = ipk_open(&ch, address, flags, 1000);

	if (err)
		print_error("open %s: %s (%s)\n", address, ipk_strerror(err),
		            ipk_errdetail());
	assert_int_equal(err, 0);
	return ch;
}

long
qu_sysctl(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &v), 1);
	fclose(f);
	return v;
}

static int
qu_find_cb(const struct ipk_object *o, void *arg)
{
	struct qu_found *f = arg;

	if (strcmp(o->address, f->address) == 0) {
		f->count++;
		f->seen = *o;
		f->seen.address = NULL;
	}
	return 0;
}

int
qu_find(struct qu_found *f)
{
	f->count = 0;
	return ipk_list(qu_find_cb, f);
}

void
qu_check_create_flags(const char *address)
{
	struct ipk_chan *ch = NULL, *ch2 = NULL;

	assert_int_equal(ipk_open(&ch, address, IPK_NOCREATE, 0), -ENOENT);
	assert_null(ch);
	assert_int_equal(ipk_open(&ch, address, IPK_EXCL, 0), 0);
	assert_int_equal(ipk_open(&ch2, address, IPK_EXCL, 0), -EEXIST);
	assert_null(ch2);
	assert_int_equal(ipk_open(&ch2, address, IPK_NOCREATE, 0), 0);
	ipk_close(ch);
	ipk_close(ch2);
}
