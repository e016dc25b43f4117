// SPDX-License-Identifier: MIT
/* fuzz_session.c - whatever a hub sends, line by line, into the client's
 * state machine (already past PROTOCOL with a nick and a password set):
 * no crash, no leak, and nothing is sent once the session is closed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int closed_sends;
static struct session *cur;

static int
fuzz_send(void *arg, const char *line, size_t len)
{
	(void)arg;
	(void)line;
	(void)len;
	if (cur->state == SESSION_CLOSED)
		closed_sends++;
	return 0;
}

static const struct session_ops fuzz_ops = { .send_cb = fuzz_send };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session s;
	char *buf;
	size_t start = 0;

	if (size > (1 << 16))
		return 0;
	if (session_init(&s, &fuzz_ops, NULL) != 0)
		return 0;
	cur = &s;
	session_set_nick(&s, "fuzz");
	session_set_password(&s, "pw");
	session_start(&s);
	buf = malloc(size + 1);
	if (buf == NULL)
		goto out;
	memcpy(buf, data, size);
	for (size_t i = 0; i <= size; i++) {
		if (i < size && buf[i] != '\n')
			continue;
		session_receive(&s, buf + start, i - start);
		start = i + 1;
	}
	if (s.state == SESSION_NORMAL) {
		session_chat(&s, "x", false);
		session_update_inf(&s);
	}
	free(buf);
out:
	session_fini(&s);
	if (closed_sends)
		__builtin_trap();
	return 0;
}
