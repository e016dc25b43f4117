// SPDX-License-Identifier: MIT
/* test_dlfile.c - TTH-verified block assembly: leaves checked against the
 * root and the size, corrupt blocks refused (and only them), claims by
 * several sources, resume from the part file, safe final names. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dlfile.h"
#include "harness.h"

#define BS   4096u /* block size of the test leaves */
#define SIZE (10 * BS + 100)
#define NBLK 11

static uint8_t data[SIZE];
static uint8_t leaves[NBLK][TIGER_BYTES];
static uint8_t root[TIGER_BYTES];
static char dir[512], dest[600];

static int
setup(void **state)
{
	struct tth_hasher h;

	(void)state;
	for (size_t i = 0; i < SIZE; i++)
		data[i] = (uint8_t)(i * 131 + (i >> 8));
	assert_int_equal(tth_hasher_init(&h, BS), 0);
	assert_int_equal(tth_hasher_update(&h, data, SIZE), 0);
	assert_int_equal(tth_hasher_final(&h, root), 0);
	assert_int_equal(h.n_blocks, NBLK);
	memcpy(leaves, h.blocks, sizeof(leaves));
	tth_hasher_fini(&h);
	snprintf(dir, sizeof(dir), "%s", harness_tmpdir());
	snprintf(dest, sizeof(dest), "%s/done", dir);
	mkdir(dest, 0755);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	harness_cleanup();
	return 0;
}

static void
test_leaves_checked(void **state)
{
	struct dlfile d;
	uint8_t bad[NBLK][TIGER_BYTES];

	(void)state;
	assert_int_equal(dlfile_open(&d, dir, root, SIZE), 0);
	assert_false(dlfile_has_leaves(&d));
	memcpy(bad, leaves, sizeof(bad));
	bad[3][0] ^= 1;
	assert_int_equal(dlfile_set_leaves(&d, bad, sizeof(bad)), -EBADMSG);
	assert_int_equal(dlfile_set_leaves(&d, leaves, sizeof(leaves) - 1),
	                 -EBADMSG);
	/* The right leaves for another size do not fit. */
	dlfile_close(&d);
	assert_int_equal(dlfile_open(&d, dir, root, SIZE + 5 * BS), 0);
	assert_int_equal(dlfile_set_leaves(&d, leaves, sizeof(leaves)),
	                 -EBADMSG);
	dlfile_remove(&d);
	assert_int_equal(dlfile_open(&d, dir, root, SIZE), 0);
	assert_int_equal(dlfile_set_leaves(&d, leaves, sizeof(leaves)), 0);
	assert_int_equal(d.block_size, BS);
	assert_int_equal(d.n_blocks, NBLK);
	dlfile_remove(&d);
}

static void
test_corrupt_block_only_refetched(void **state)
{
	struct dlfile d;
	struct dlseg a, b;
	uint64_t off, len;
	uint8_t bad[SIZE];
	char *final = NULL;

	(void)state;
	assert_int_equal(dlfile_open(&d, dir, root, SIZE), 0);
	assert_int_equal(dlfile_set_leaves(&d, leaves, sizeof(leaves)), 0);
	/* Two sources claim disjoint runs. */
	assert_int_equal(dlfile_claim(&d, 6 * BS, &off, &len), 0);
	assert_int_equal(off, 0);
	assert_int_equal(len, 6 * BS);
	assert_int_equal(dlseg_start(&a, &d, off, len), 0);
	assert_int_equal(dlfile_claim(&d, 100 * BS, &off, &len), 0);
	assert_int_equal(off, 6 * BS);
	assert_int_equal(len, SIZE - 6 * BS);
	assert_int_equal(dlseg_start(&b, &d, off, len), 0);
	assert_int_equal(dlfile_claim(&d, BS, &off, &len), -ENOENT);
	/* Source a sends block 4 corrupt, in odd-sized pieces. */
	memcpy(bad, data, SIZE);
	bad[4 * BS + 17] ^= 0x40;
	for (uint64_t p = 0; p < 4 * BS; p += 1000) {
		size_t n = 4 * BS - p < 1000 ? 4 * BS - p : 1000;

		assert_int_equal(dlseg_write(&a, bad + p, n), 0);
	}
	assert_int_equal(d.done_bytes, 4 * BS);
	assert_int_equal(dlseg_write(&a, bad + 4 * BS, BS), -EBADMSG);
	assert_false(a.active);
	/* Block 4 and a's unfinished block 5 are free again; 0-3 stay. */
	assert_int_equal(d.state[3], DL_DONE);
	assert_int_equal(d.state[4], DL_MISSING);
	assert_int_equal(d.state[5], DL_MISSING);
	assert_int_equal(d.done_bytes, 4 * BS);
	/* Source b completes its run. */
	assert_int_equal(dlseg_write(&b, data + 6 * BS, SIZE - 6 * BS), 0);
	assert_false(dlfile_complete(&d));
	/* A third source gets exactly the missing blocks. */
	assert_int_equal(dlfile_claim(&d, 100 * BS, &off, &len), 0);
	assert_int_equal(off, 4 * BS);
	assert_int_equal(len, 2 * BS);
	assert_int_equal(dlseg_start(&a, &d, off, len), 0);
	assert_int_equal(dlseg_write(&a, data + off, len), 0);
	assert_true(dlfile_complete(&d));
	assert_int_equal(dlfile_finish(&d, dest, "../../etc/x.bin", &final), 0);
	{
		char want[700];
		FILE *f;
		uint8_t back[SIZE];

		snprintf(want, sizeof(want), "%s/x.bin", dest);
		assert_string_equal(final, want);
		f = fopen(final, "rb");
		assert_non_null(f);
		assert_int_equal(fread(back, 1, SIZE, f), SIZE);
		fclose(f);
		assert_memory_equal(back, data, SIZE);
	}
	free(final);
	dlfile_close(&d);
}

static void
test_resume_and_no_overwrite(void **state)
{
	struct dlfile d;
	struct dlseg s;
	uint64_t off, len;
	char *final = NULL;

	(void)state;
	assert_int_equal(dlfile_open(&d, dir, root, SIZE), 0);
	assert_int_equal(dlfile_set_leaves(&d, leaves, sizeof(leaves)), 0);
	assert_int_equal(dlfile_claim(&d, 100 * BS, &off, &len), 0);
	assert_int_equal(dlseg_start(&s, &d, off, len), 0);
	/* 3.5 blocks arrive, then the program stops. */
	assert_int_equal(dlseg_write(&s, data, 3 * BS + BS / 2), 0);
	dlseg_abort(&s);
	dlfile_close(&d);
	/* A new run finds the leaves and the three verified blocks. */
	assert_int_equal(dlfile_open(&d, dir, root, SIZE), 0);
	assert_true(dlfile_has_leaves(&d));
	assert_int_equal(d.done_bytes, 3 * BS);
	assert_int_equal(dlfile_claim(&d, 100 * BS, &off, &len), 0);
	assert_int_equal(off, 3 * BS);
	assert_int_equal(dlseg_start(&s, &d, off, len), 0);
	assert_int_equal(dlseg_write(&s, data + off, len), 0);
	assert_true(dlfile_complete(&d));
	/* x.bin exists from the previous test: never overwritten. */
	assert_int_equal(dlfile_finish(&d, dest, "x.bin", &final), 0);
	assert_non_null(strstr(final, "/x (1).bin"));
	free(final);
	dlfile_close(&d);
}

static void
test_single_block_and_empty(void **state)
{
	struct dlfile d;
	struct dlseg s;
	uint8_t r[TIGER_BYTES];
	uint64_t off, len;
	char *final = NULL;

	(void)state;
	/* No tthl: the root is the only leaf, the file one block. */
	assert_int_equal(tth_hash(data, 3000, r), 0);
	assert_int_equal(dlfile_open(&d, dir, r, 3000), 0);
	assert_int_equal(dlfile_set_leaves(&d, r, TIGER_BYTES), 0);
	assert_int_equal(dlfile_claim(&d, 1, &off, &len), 0);
	assert_int_equal(len, 3000);
	assert_int_equal(dlseg_start(&s, &d, off, len), 0);
	assert_int_equal(dlseg_write(&s, data, 3000), 0);
	assert_true(dlfile_complete(&d));
	dlfile_remove(&d);
	/* An empty file is complete as soon as its leaf is known. */
	assert_int_equal(tth_hash("", 0, r), 0);
	assert_int_equal(dlfile_open(&d, dir, r, 0), 0);
	assert_int_equal(dlfile_set_leaves(&d, r, TIGER_BYTES), 0);
	assert_true(dlfile_complete(&d));
	assert_int_equal(dlfile_finish(&d, dest, "empty", &final), 0);
	free(final);
	dlfile_close(&d);
}

static size_t written[NBLK];
static size_t n_written;

static void
on_written(void *arg, size_t block)
{
	(void)arg;
	written[n_written++] = block;
}

/* Deferred verification: blocks are written, hashed by whoever is told
 * (a thread in the peer), and judged afterwards. */
static void
test_deferred_verification(void **state)
{
	struct dlfile d;
	struct dlseg s;
	uint64_t off, len;
	uint8_t bad[SIZE], got[TIGER_BYTES];

	(void)state;
	assert_int_equal(dlfile_open(&d, dir, root, SIZE), 0);
	assert_int_equal(dlfile_set_leaves(&d, leaves, sizeof(leaves)), 0);
	assert_int_equal(dlfile_claim(&d, 100 * BS, &off, &len), 0);
	assert_int_equal(
	        dlseg_start_deferred(&s, &d, off, len, on_written, NULL), 0);
	memcpy(bad, data, SIZE);
	bad[2 * BS + 1] ^= 1;
	assert_int_equal(dlseg_write(&s, bad, SIZE), 0);
	assert_int_equal(n_written, NBLK);
	assert_false(dlfile_complete(&d));
	for (size_t i = 0; i < n_written; i++) {
		size_t b = written[i];

		assert_int_equal(d.state[b], DL_WRITTEN);
		dlfile_block_range(&d, b, &off, &len);
		assert_int_equal(
		        dlfile_hash_block(d.fd, off, len, BS, NULL, 0, got), 0);
		dlfile_block_result(&d, b,
		                    memcmp(got, leaves[b], TIGER_BYTES) == 0);
	}
	/* Only block 2 is missing again. */
	assert_int_equal(d.done_bytes, SIZE - BS);
	assert_int_equal(d.state[2], DL_MISSING);
	assert_int_equal(dlfile_claim(&d, 100 * BS, &off, &len), 0);
	assert_int_equal(off, 2 * BS);
	assert_int_equal(len, BS);
	dlfile_remove(&d);
}

static void
test_safe_names(void **state)
{
	static const char *const cases[][2] = {
		{ "/share/dir/song.mp3", "song.mp3" },
		{ "../../etc/passwd", "passwd" },
		{ "..", "_." },
		{ ".bashrc", "_bashrc" },
		{ "a\\b\\c.txt", "c.txt" },
		{ "tab\there", "tab_here" },
		{ "/share/dir/", "download" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = dlfile_safe_name(cases[i][0]);

		assert_string_equal(s, cases[i][1]);
		free(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaves_checked),
		cmocka_unit_test(test_corrupt_block_only_refetched),
		cmocka_unit_test(test_resume_and_no_overwrite),
		cmocka_unit_test(test_single_block_and_empty),
		cmocka_unit_test(test_deferred_verification),
		cmocka_unit_test(test_safe_names),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("dlfile", tests, setup, teardown);
}
