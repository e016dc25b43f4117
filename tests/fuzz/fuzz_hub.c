// SPDX-License-Identifier: MIT
/* fuzz_hub.c - the hub's core on arbitrary input: bytes go to one of two
 * connections (a line starting "1:" to the second, logged in beforehand
 * as a guest, the rest to the first), split at any point; whatever comes
 * back, the core must not crash, leak or queue output for a closed
 * connection. */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base32.h"
#include "hub.h"
#include "tiger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct conn *
fuzz_conn(struct hub *h)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
		                  .sin_port = htons(4000),
		                  .sin_addr = { htonl(0x7f000001) } };

	return hub_conn_new(h, (struct sockaddr *)&in, sizeof(in));
}

static void
fuzz_line(struct hub *h, struct conn *c, const char *s)
{
	hub_input(h, c, s, strlen(s));
}

static void
fuzz_drain(struct hub *h)
{
	struct conn *c;

	while ((c = hub_take_dirty(h)) != NULL)
		outq_clear(&c->out);
	while ((c = hub_take_dead(h)) != NULL)
		hub_conn_free(h, c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hub_config cfg;
	struct hub *h;
	struct conn *c[2];
	uint8_t pid[TIGER_BYTES] = { 1, 2, 3 }, cid[TIGER_BYTES];
	char spid[48], scid[48], line[256], sid[5];
	size_t i = 0;

	if (size > 1 << 16)
		return 0;
	tiger_init_library();
	config_defaults(&cfg);
	cfg.max_line_bytes = 512;
	cfg.max_send_queue = 8192;
	cfg.history_lines = 4;
	h = hub_new(&cfg, NULL, NULL, NULL);
	hub_set_now(h, 1000);
	c[0] = fuzz_conn(h);
	c[1] = fuzz_conn(h);
	tiger_hash(pid, sizeof(pid), cid);
	base32_encode(pid, sizeof(pid), spid, sizeof(spid));
	base32_encode(cid, sizeof(cid), scid, sizeof(scid));
	adc_sid_encode(c[1]->sid, sid);
	fuzz_line(h, c[1], "HSUP ADBASE ADTIGR\n");
	snprintf(line, sizeof(line),
	         "BINF %s ID%s PD%s NIfuzzer SUTCP4,UDP4 I40.0.0.0\n", sid,
	         scid, spid);
	fuzz_line(h, c[1], line);
	if (c[1]->state != CONN_NORMAL)
		abort();
	fuzz_drain(h);
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (data + i)) + 1 : size - i;
		int k = n >= 2 && data[i] == '1' && data[i + 1] == ':';
		struct conn *to = c[k];
		bool closed[2];

		if (!to->closing)
			hub_input(h, to, (const char *)data + i + 2 * k,
			          n - 2 * (size_t)k);
		for (int j = 0; j < 2; j++) {
			if (c[j]->closing && c[j]->out.n > 0 &&
			    !c[j]->flush_on_close)
				abort(); /* output queued for the dead */
			closed[j] = c[j]->closing;
		}
		fuzz_drain(h); /* frees the closed ones */
		for (int j = 0; j < 2; j++)
			if (closed[j])
				c[j] = fuzz_conn(h);
		i += n;
	}
	hub_tick(h, 1000 + 60000);
	fuzz_drain(h);
	hub_free(h);
	config_fini(&cfg);
	return 0;
}
