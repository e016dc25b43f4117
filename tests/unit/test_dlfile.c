// SPDX-License-Identifier: MIT
/* test_dlfile.c - TTH-verified block assembly: leaves checked against the
 * root and the size, corrupt blocks refused (and only them), claims by
 * several sources, resume from the part file, safe final names; and the
 * verifier threads judging blocks while the rest are still being written. */
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
#include "ipckit.h"
#include "verify.h"

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

/* Blocks large enough that a verifier reads each in several pieces, a short
 * last block, and enough of them that verdicts come back in batches. */
#define VBS   (256u * 1024)
#define VNBLK 24
#define VSIZE ((VNBLK - 1) * VBS + 5000)

struct vrun {
	struct ipk_loop *loop;
	struct verifier *v;
	struct dlfile *d;
	uint8_t (*leaves)[TIGER_BYTES];
	size_t submitted, answered, bad;
};

static void
v_written(void *arg, size_t block)
{
	struct vrun *r = arg;
	struct verify_job *j = calloc(1, sizeof(*j));

	assert_non_null(j);
	j->fd = r->d->fd;
	dlfile_block_range(r->d, block, &j->off, &j->len);
	j->block_size = r->d->block_size;
	memcpy(j->leaf, r->leaves[block], TIGER_BYTES);
	j->block = block;
	j->tag = r;
	r->submitted++;
	verifier_submit(r->v, j);
}

static void
v_done(void *arg, struct verify_job *j)
{
	struct vrun *r = arg;

	assert_ptr_equal(j->tag, r);
	dlfile_block_result(r->d, j->block, j->ok);
	r->answered++;
	r->bad += !j->ok;
	if (r->answered == VNBLK)
		ipk_loop_stop(r->loop);
}

static void
v_timeout(struct ipk_loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	fail_msg("the verifier did not answer every block within 30 s");
}

/* Overlapped verification: the verifier threads hash blocks as they are
 * written (the download's own path), and a corrupt block - one with its
 * bad byte past the first read of it, one the short last block - is still
 * what decides: only those two are missing again afterwards. */
static void
test_verifier_threads(void **state)
{
	uint8_t *file = malloc(VSIZE), *sent = malloc(VSIZE);
	uint8_t vroot[TIGER_BYTES], got[TIGER_BYTES], small[1000];
	uint8_t(*vleaves)[TIGER_BYTES] = NULL;
	struct tth_hasher h;
	struct dlfile d;
	struct dlseg s;
	struct ipk_timer guard;
	struct vrun r = { .d = &d };
	uint64_t off, len;

	(void)state;
	assert_non_null(file);
	assert_non_null(sent);
	for (size_t i = 0; i < VSIZE; i++)
		file[i] = (uint8_t)((i * 2654435761u) >> 13);
	assert_int_equal(tth_hasher_init(&h, VBS), 0);
	assert_int_equal(tth_hasher_update(&h, file, VSIZE), 0);
	assert_int_equal(tth_hasher_final(&h, vroot), 0);
	assert_int_equal(h.n_blocks, VNBLK);
	vleaves = malloc(sizeof(*vleaves) * VNBLK);
	assert_non_null(vleaves);
	memcpy(vleaves, h.blocks, sizeof(*vleaves) * VNBLK);
	tth_hasher_fini(&h);
	r.leaves = vleaves;

	assert_int_equal(dlfile_open(&d, dir, vroot, VSIZE), 0);
	assert_int_equal(
	        dlfile_set_leaves(&d, vleaves, sizeof(*vleaves) * VNBLK), 0);
	assert_int_equal(d.block_size, VBS);
	assert_int_equal(ipk_loop_new(&r.loop), 0);
	assert_int_equal(verifier_start(&r.v, r.loop, v_done, &r), 0);
	ipk_timer_init(&guard, v_timeout, NULL);
	assert_int_equal(ipk_timer_start(r.loop, &guard, 30000), 0);

	memcpy(sent, file, VSIZE);
	sent[5 * VBS + 200000] ^= 0x40;
	sent[VSIZE - 1] ^= 1;
	assert_int_equal(dlfile_claim(&d, VSIZE, &off, &len), 0);
	assert_int_equal(off, 0);
	assert_int_equal(len, VSIZE);
	assert_int_equal(dlseg_start_deferred(&s, &d, off, len, v_written, &r),
	                 0);
	/* Written in odd pieces, as a socket delivers them. */
	for (uint64_t pos = 0; pos < VSIZE;) {
		size_t n = VSIZE - pos < 77777 ? (size_t)(VSIZE - pos) : 77777;

		assert_int_equal(dlseg_write(&s, sent + pos, n), 0);
		pos += n;
	}
	assert_int_equal(r.submitted, VNBLK);
	assert_int_equal(ipk_loop_run(r.loop), 0);
	ipk_timer_stop(r.loop, &guard);
	verifier_stop(r.v);
	ipk_loop_free(r.loop);

	assert_int_equal(r.answered, VNBLK);
	assert_int_equal(r.bad, 2);
	assert_false(dlfile_complete(&d));
	for (size_t b = 0; b < VNBLK; b++)
		assert_int_equal(d.state[b], b == 5 || b == VNBLK - 1
		                                     ? DL_MISSING
		                                     : DL_DONE);
	assert_int_equal(d.done_bytes, VSIZE - VBS - 5000);

	/* A caller's buffer smaller than a leaf gives the same hash. */
	dlfile_block_range(&d, 3, &off, &len);
	assert_int_equal(dlfile_hash_block(d.fd, off, len, VBS, small,
	                                   sizeof(small), got),
	                 0);
	assert_memory_equal(got, vleaves[3], TIGER_BYTES);
	/* A block past the end of the file is an error, not a hash. */
	assert_int_equal(dlfile_hash_block(d.fd, VSIZE, VBS, VBS, small,
	                                   sizeof(small), got),
	                 -ENODATA);
	dlfile_remove(&d);
	free(vleaves);
	free(sent);
	free(file);
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
		cmocka_unit_test(test_verifier_threads),
		cmocka_unit_test(test_safe_names),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("dlfile", tests, setup, teardown);
}
