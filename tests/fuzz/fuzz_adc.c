// SPDX-License-Identifier: MIT
/* fuzz_adc.c - the ADC line parser and builder on arbitrary bytes: no
 * crash, no overflow, and whatever parses re-serialises to a line that
 * parses to the same message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base32.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adc_msg m, again;
	struct adc_buf b;
	char *line, *out, *out2;
	uint8_t bin[64];
	size_t cap = size * 2 + 64;
	long n;

	if (size > 65536)
		return 0;
	(void)base32_decode((const char *)data, size < 100 ? size : 100, bin,
	                    sizeof(bin));
	line = malloc(size + 1);
	out = malloc(cap);
	out2 = malloc(cap);
	if (line == NULL || out == NULL || out2 == NULL)
		goto done;
	memcpy(line, data, size);
	if (adc_parse(&m, line, size) != ADC_OK)
		goto done;
	adc_buf_init(&b, out, cap);
	adc_buf_header(&b, m.type, m.cmd, m.src, m.dst);
	if (m.features) {
		adc_buf_raw(&b, " ", 1);
		adc_buf_raw(&b, m.features, strlen(m.features));
	}
	if (m.cid) {
		adc_buf_raw(&b, " ", 1);
		adc_buf_raw(&b, m.cid, strlen(m.cid));
	}
	for (unsigned i = 0; i < m.n; i++)
		adc_buf_param(&b, m.p[i].s);
	n = adc_buf_end(&b);
	if (n <= 0)
		abort(); /* escaping at most doubles a line */
	memcpy(out2, out, (size_t)n);
	if (adc_parse(&again, out2, (size_t)n - 1) != ADC_OK ||
	    again.n != m.n || again.src != m.src || again.dst != m.dst ||
	    strcmp(again.cmd, m.cmd) != 0)
		abort();
	for (unsigned i = 0; i < m.n; i++)
		if (again.p[i].len != m.p[i].len ||
		    memcmp(again.p[i].s, m.p[i].s, m.p[i].len) != 0)
			abort();
done:
	free(line);
	free(out);
	free(out2);
	return 0;
}
