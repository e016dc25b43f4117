// SPDX-License-Identifier: MIT
/* syslimit.c - read sysctls by name, and ask whether CAP_SYS_RESOURCE is
 * ours. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "syslimit.h"

int
syslimit_sysctl(const char *name, uint64_t *out)
{
	char path[128], text[32];
	unsigned long long v;
	char *end;
	ssize_t n;
	int fd, k;

	k = snprintf(path, sizeof(path), "/proc/sys/%s", name);
	if (k < 0 || (size_t)k >= sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + strlen("/proc/sys/"); *p; p++)
		if (*p == '.')
			*p = '/';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, text, sizeof(text) - 1);
	while (n < 0 && errno == EINTR);
	k = n < 0 ? -errno : 0;
	close(fd);
	if (k)
		return k;
	text[n] = '\0';
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || (*end && *end != '\n'))
		return -EINVAL;
	*out = v;
	return 0;
}

bool
syslimit_cap_resource(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3,
		                                0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return false;
	return (data[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective &
	        CAP_TO_MASK(CAP_SYS_RESOURCE)) != 0;
}
