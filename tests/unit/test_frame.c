// SPDX-License-Identifier: MIT
/* test_frame.c - byte-stream framing against a scripted stream: partial
 * reads and writes of every size, corrupt and oversized lengths, the end
 * of the stream inside a frame, too-small buffers, timeouts in the middle
 * of a message, and the coalescing of IPK_MORE messages into one write. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#include "ipckit.h"
#include "wait.h"

/* A scripted byte stream.  Reads hand out `in` at most `chunk` bytes at a
 * time; every `stall`-th call says EAGAIN, and then wait() says whether
 * time ran out (`timeouts` left) or data came.  Writes append to `out`, at
 * most `wchunk` bytes per call, with EAGAIN once `wroom` bytes went. */
struct fake {
	const unsigned char *in;
	size_t in_len, in_off;
	size_t chunk;
	unsigned stall, calls;
	int timeouts; /* waits that report -ETIMEDOUT before one succeeds */
	bool eof;     /* end of stream after `in`, else EAGAIN forever */
	unsigned char *out;
	size_t out_len, out_cap, wchunk, wroom;
	int werr;        /* returned by writes when set */
	unsigned writes; /* calls that moved bytes */
	unsigned waits;
	bool until;           /* offer readv_until (a read that waits) */
	unsigned until_calls; /* readv_until calls */
};

static ssize_t
fake_readv(void *ctx, const struct iovec *iov, int n, bool block)
{
	struct fake *f = ctx;
	size_t left = f->in_len - f->in_off, moved = 0, room;

	(void)block;
	if (f->stall && ++f->calls % f->stall == 0)
		return -EAGAIN;
	if (left == 0)
		return f->eof ? 0 : -EAGAIN;
	room = f->chunk < left ? f->chunk : left;
	for (int i = 0; i < n && room > 0; i++) {
		size_t k = iov[i].iov_len < room ? iov[i].iov_len : room;

		memcpy(iov[i].iov_base, f->in + f->in_off, k);
		f->in_off += k;
		moved += k;
		room -= k;
	}
	return (ssize_t)moved;
}

static ssize_t
fake_writev(void *ctx, const struct iovec *iov, int n, bool block)
{
	struct fake *f = ctx;
	size_t room = f->wchunk, moved = 0;

	(void)block;
	if (f->werr)
		return f->werr;
	if (f->wroom < room)
		room = f->wroom;
	if (room == 0)
		return -EAGAIN;
	for (int i = 0; i < n && room > 0; i++) {
		size_t k = iov[i].iov_len < room ? iov[i].iov_len : room;

		assert_true(f->out_len + k <= f->out_cap);
		memcpy(f->out + f->out_len, iov[i].iov_base, k);
		f->out_len += k;
		moved += k;
		room -= k;
	}
	f->wroom -= moved;
	f->writes++;
	return (ssize_t)moved;
}

static int
fake_wait(void *ctx, short events, int64_t deadline)
{
	struct fake *f = ctx;

	(void)deadline;
	f->waits++;
	if (f->timeouts > 0) {
		f->timeouts--;
		return -ETIMEDOUT;
	}
	return events;
}

/* As a socket under SO_RCVTIMEO: a stall is a read that waited and got
 * nothing; with `timeouts` left it waits out the deadline first. */
static ssize_t
fake_readv_until(void *ctx, const struct iovec *iov, int n, int64_t deadline)
{
	struct fake *f = ctx;
	ssize_t got;

	assert_true(deadline != WAIT_FOREVER);
	f->until_calls++;
	got = fake_readv(ctx, iov, n, false);
	if (got == -EAGAIN && f->timeouts > 0) {
		f->timeouts--;
		while (wait_now_ns() < deadline)
			;
	}
	return got;
}

static struct frame_io
fake_io(struct fake *f)
{
	return (struct frame_io){ f, fake_readv, fake_writev, fake_wait,
		                  f->until ? fake_readv_until : NULL };
}

/* Append one frame of len bytes of pattern seed to buf at *off. */
static void
put_frame(unsigned char *buf, size_t *off, size_t len, unsigned seed)
{
	frame_put_len(buf + *off, (uint32_t)len);
	for (size_t i = 0; i < len; i++)
		buf[*off + FRAME_HDR + i] = (unsigned char)(seed * 131 + i);
	*off += FRAME_HDR + len;
}

static bool
is_pattern(const unsigned char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)(seed * 131 + i))
			return false;
	return true;
}

static void
test_length_is_big_endian(void **state)
{
	unsigned char h[4];

	(void)state;
	frame_put_len(h, 0x01020304u);
	assert_int_equal(h[0], 1);
	assert_int_equal(h[3], 4);
	assert_int_equal(frame_get_len(h), 0x01020304u);
}

/* Every chunk size from 1 byte up: messages come out whole, in order. */
static void
test_partial_reads(void **state)
{
	static const size_t sizes[] = { 0, 1, 3, 4, 5, 100, 4096, 70000, 7 };
	size_t n = sizeof(sizes) / sizeof(sizes[0]), total = 0;
	unsigned char *stream, *buf;

	(void)state;
	for (size_t i = 0; i < n; i++)
		total += FRAME_HDR + sizes[i];
	stream = malloc(total);
	buf = malloc(70000);
	assert_non_null(stream);
	assert_non_null(buf);
	total = 0;
	for (size_t i = 0; i < n; i++)
		put_frame(stream, &total, sizes[i], (unsigned)i);
	/* Both ways of waiting: poll then read (for ever), and a read that
	 * waits by itself (a bounded deadline, readv_until). */
	for (size_t k = 0; k < 18; k++) {
		size_t chunk = 1;
		struct fake f = { .in = stream,
			          .in_len = total,
			          .stall = 3,
			          .eof = true,
			          .until = k >= 9 };
		struct frame_io io;
		struct frame_reader r;

		for (size_t j = 0; j < k % 9; j++)
			chunk = chunk * 3 + 1; /* 1, 4, 13 ... 9841 */
		f.chunk = chunk;
		io = fake_io(&f);
		frame_reader_init(&r, FRAME_MAX_MSG);
		for (size_t i = 0; i < n; i++) {
			ssize_t got = frame_recv(&r, &io, buf, 70000, false,
			                         f.until ? wait_deadline(5000)
			                                 : WAIT_FOREVER);

			assert_int_equal(got, (ssize_t)sizes[i]);
			assert_true(is_pattern(buf, sizes[i], (unsigned)i));
		}
		/* a bounded receive never polls when it can wait reading */
		if (f.until) {
			assert_true(f.until_calls > 0);
			assert_int_equal(f.waits, 0);
		}
		assert_int_equal(
		        frame_recv(&r, &io, buf, 70000, false, WAIT_FOREVER),
		        -EPIPE);
		/* And it stays that way. */
		assert_int_equal(
		        frame_recv(&r, &io, buf, 70000, false, WAIT_FOREVER),
		        -EPIPE);
		frame_reader_fini(&r);
	}
	free(stream);
	free(buf);
}

/* One read() brings many small messages: the rest cost no I/O. */
static void
test_one_read_many_messages(void **state)
{
	unsigned char stream[100 * (FRAME_HDR + 10)], buf[16];
	size_t off = 0;
	struct fake f = { .in = stream, .chunk = sizeof(stream) };
	struct frame_io io = fake_io(&f);
	struct frame_reader r;

	(void)state;
	for (unsigned i = 0; i < 100; i++)
		put_frame(stream, &off, 10, i);
	f.in_len = off;
	frame_reader_init(&r, FRAME_MAX_MSG);
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(frame_recv(&r, &io, buf, sizeof(buf), false,
		                            WAIT_FOREVER),
		                 10);
		assert_true(is_pattern(buf, 10, i));
	}
	assert_int_equal(f.in_off, off);
	assert_int_equal(f.waits, 0);
	frame_reader_fini(&r);
}

static void
test_oversized_length_is_corrupt(void **state)
{
	unsigned char stream[64], buf[64];
	size_t off = 0;
	struct fake f = { .in = stream, .chunk = 64, .eof = true };
	struct frame_io io = fake_io(&f);
	struct frame_reader r;

	(void)state;
	put_frame(stream, &off, 10, 1);
	frame_put_len(stream + off, 1000); /* above this reader's 100 */
	off += FRAME_HDR;
	f.in_len = off;
	frame_reader_init(&r, 100);
	/* The good message before it still arrives. */
	assert_int_equal(
	        frame_recv(&r, &io, buf, sizeof(buf), false, WAIT_FOREVER), 10);
	assert_int_equal(
	        frame_recv(&r, &io, buf, sizeof(buf), false, WAIT_FOREVER),
	        IPK_ECORRUPT);
	assert_non_null(strstr(ipk_errdetail(), "1000"));
	/* Sticky: the stream has lost its place. */
	assert_int_equal(
	        frame_recv(&r, &io, buf, sizeof(buf), true, WAIT_FOREVER),
	        IPK_ECORRUPT);
	assert_true(frame_ready(&r));
	frame_reader_fini(&r);
}

/* Text where a frame should be reads as an absurd length. */
static void
test_text_is_corrupt(void **state)
{
	static const unsigned char text[] = "hello, world\n";
	unsigned char buf[64];
	struct fake f = {
		.in = text, .in_len = sizeof(text) - 1, .chunk = 64, .eof = true
	};
	struct frame_io io = fake_io(&f);
	struct frame_reader r;

	(void)state;
	frame_reader_init(&r, FRAME_MAX_MSG);
	assert_int_equal(
	        frame_recv(&r, &io, buf, sizeof(buf), false, WAIT_FOREVER),
	        IPK_ECORRUPT);
	frame_reader_fini(&r);
}

/* The end of the stream inside a frame: the part never surfaces. */
static void
test_eof_inside_frame(void **state)
{
	unsigned char stream[64], buf[64];
	size_t off = 0;

	(void)state;
	put_frame(stream, &off, 10, 1);
	put_frame(stream, &off, 20, 2);
	for (size_t cut = off - 20 - FRAME_HDR + 1; cut < off; cut++) {
		struct fake f = {
			.in = stream, .in_len = cut, .chunk = 7, .eof = true
		};
		struct frame_io io = fake_io(&f);
		struct frame_reader r;

		frame_reader_init(&r, FRAME_MAX_MSG);
		assert_int_equal(frame_recv(&r, &io, buf, sizeof(buf), false,
		                            WAIT_FOREVER),
		                 10);
		assert_int_equal(frame_recv(&r, &io, buf, sizeof(buf), false,
		                            WAIT_FOREVER),
		                 -EPIPE);
		frame_reader_fini(&r);
	}
}

static void
test_small_buffer_keeps_message(void **state)
{
	unsigned char stream[200], buf[100];
	size_t off = 0;
	struct fake f = { .in = stream, .chunk = 9, .eof = true };
	struct frame_io io = fake_io(&f);
	struct frame_reader r;

	(void)state;
	put_frame(stream, &off, 100, 5);
	put_frame(stream, &off, 3, 6);
	f.in_len = off;
	frame_reader_init(&r, FRAME_MAX_MSG);
	assert_int_equal(frame_recv(&r, &io, NULL, 0, true, WAIT_FOREVER), 100);
	assert_int_equal(frame_recv(&r, &io, buf, 99, false, WAIT_FOREVER),
	                 -EMSGSIZE);
	assert_int_equal(frame_recv(&r, &io, NULL, 0, false, WAIT_FOREVER),
	                 -EMSGSIZE);
	assert_int_equal(frame_recv(&r, &io, buf, 100, false, WAIT_FOREVER),
	                 100);
	assert_true(is_pattern(buf, 100, 5));
	assert_int_equal(frame_recv(&r, &io, buf, 100, false, WAIT_FOREVER), 3);
	assert_true(is_pattern(buf, 3, 6));
	frame_reader_fini(&r);
}

/* The deadline passes inside a large message, which is kept whole for the
 * next receive: with a read that polls first (the fake's wait says time
 * ran out), and with one that waits by itself (readv_until waits out the
 * deadline, and nothing polls). */
static void
timeout_inside_large_message(bool until)
{
	size_t big = 300000, off = 0;
	unsigned char *stream = malloc(big + 64), *buf = malloc(big);
	struct fake f = {
		.in = stream, .chunk = 50000, .eof = true, .until = until
	};
	struct frame_io io = fake_io(&f);
	struct frame_reader r;
	int64_t t0;
	ssize_t n;

	assert_non_null(stream);
	assert_non_null(buf);
	put_frame(stream, &off, big, 9);
	put_frame(stream, &off, 5, 10);
	f.in_len = off;
	frame_reader_init(&r, FRAME_MAX_MSG);
	/* Stall after a few reads, and let the wait time out. */
	f.stall = 4;
	f.timeouts = 1;
	t0 = wait_now_ns();
	n = frame_recv(&r, &io, buf, big, false,
	               wait_deadline(until ? 20 : 1000));
	assert_int_equal(n, -ETIMEDOUT);
	if (until)
		assert_true(wait_now_ns() - t0 >= 20000000);
	assert_false(frame_ready(&r));
	n = frame_recv(&r, &io, buf, big, false, wait_deadline(1000));
	assert_int_equal(n, (ssize_t)big);
	assert_true(is_pattern(buf, big, 9));
	assert_int_equal(frame_recv(&r, &io, buf, big, false,
	                            until ? wait_deadline(1000) : WAIT_FOREVER),
	                 5);
	assert_true(is_pattern(buf, 5, 10));
	if (until)
		assert_int_equal(f.waits, 0);
	frame_reader_fini(&r);
	free(stream);
	free(buf);
}

static void
test_timeout_inside_large_message(void **state)
{
	(void)state;
	timeout_inside_large_message(false);
}

static void
test_timeout_inside_large_message_until(void **state)
{
	(void)state;
	timeout_inside_large_message(true);
}

/* IPK_MORE messages wait, then leave together in one write. */
static void
test_coalescing(void **state)
{
	unsigned char msg[64], out[4096];
	struct fake f = { .out = out,
		          .out_cap = sizeof(out),
		          .wchunk = sizeof(out),
		          .wroom = sizeof(out) };
	struct frame_io io = fake_io(&f);
	struct frame_writer w;
	struct frame_reader r;
	struct fake in = { .in = out, .chunk = 4096, .eof = true };
	struct frame_io rio = fake_io(&in);

	(void)state;
	frame_writer_init(&w);
	for (unsigned i = 0; i < 20; i++) {
		for (size_t k = 0; k < 40; k++)
			msg[k] = (unsigned char)(i * 131 + k);
		assert_int_equal(
		        frame_send(&w, &io, msg, 40, true, WAIT_FOREVER), 40);
	}
	assert_int_equal(f.writes, 0);
	assert_int_equal(frame_pending(&w), 20 * (FRAME_HDR + 40));
	/* The last one without IPK_MORE takes them all in one write. */
	assert_int_equal(frame_send(&w, &io, "end", 3, false, WAIT_FOREVER), 3);
	assert_int_equal(f.writes, 1);
	assert_int_equal(frame_pending(&w), 0);
	assert_int_equal(f.out_len, 20 * (FRAME_HDR + 40) + FRAME_HDR + 3);
	/* And they decode as the 21 messages they were. */
	in.in_len = f.out_len;
	frame_reader_init(&r, FRAME_MAX_MSG);
	for (unsigned i = 0; i < 20; i++) {
		assert_int_equal(frame_recv(&r, &rio, msg, sizeof(msg), false,
		                            WAIT_FOREVER),
		                 40);
		assert_true(is_pattern(msg, 40, i));
	}
	assert_int_equal(
	        frame_recv(&r, &rio, msg, sizeof(msg), false, WAIT_FOREVER), 3);
	assert_memory_equal(msg, "end", 3);
	frame_writer_fini(&w);
	frame_reader_fini(&r);
}

/* Enough held bytes are pushed without waiting for a send without MORE;
 * flush pushes the rest. */
static void
test_coalescing_flushes_by_itself(void **state)
{
	size_t cap = 1u << 20;
	unsigned char *out = malloc(cap), msg[1000] = { 0 };
	struct fake f = {
		.out = out, .out_cap = cap, .wchunk = cap, .wroom = cap
	};
	struct frame_io io = fake_io(&f);
	struct frame_writer w;
	unsigned sent = 0;

	(void)state;
	assert_non_null(out);
	frame_writer_init(&w);
	while (f.writes == 0 && sent < 1000) {
		assert_int_equal(frame_send(&w, &io, msg, sizeof(msg), true,
		                            WAIT_FOREVER),
		                 (ssize_t)sizeof(msg));
		sent++;
	}
	assert_true(f.writes == 1);
	assert_true(sent < 1000);
	assert_int_equal(
	        frame_send(&w, &io, msg, sizeof(msg), true, WAIT_FOREVER),
	        (ssize_t)sizeof(msg));
	assert_int_equal(frame_flush(&w, &io, WAIT_FOREVER), 0);
	assert_int_equal(f.out_len, (sent + 1) * (FRAME_HDR + sizeof(msg)));
	frame_writer_fini(&w);
	free(out);
}

/* A full stream: a message that could not start is not kept; one that
 * started is finished by the next call, never cut. */
static void
test_send_timeouts(void **state)
{
	unsigned char out[4096], msg[300], buf[300];
	struct fake f = { .out = out,
		          .out_cap = sizeof(out),
		          .wchunk = 100,
		          .wroom = 0,
		          .timeouts = 100 };
	struct frame_io io = fake_io(&f);
	struct frame_writer w;
	struct frame_reader r;
	struct fake in = { .in = out, .chunk = 13, .eof = true };
	struct frame_io rio = fake_io(&in);

	(void)state;
	for (size_t k = 0; k < sizeof(msg); k++)
		msg[k] = (unsigned char)(1 * 131 + k);
	frame_writer_init(&w);
	assert_int_equal(
	        frame_send(&w, &io, msg, sizeof(msg), false, wait_deadline(0)),
	        -ETIMEDOUT);
	assert_int_equal(frame_pending(&w), 0);
	/* Room for part of it: the message is committed, the rest held. */
	f.wroom = 150;
	assert_int_equal(
	        frame_send(&w, &io, msg, sizeof(msg), false, wait_deadline(0)),
	        (ssize_t)sizeof(msg));
	assert_int_equal(frame_pending(&w), FRAME_HDR + sizeof(msg) - 150);
	/* The next message cannot start before that one ends. */
	assert_int_equal(frame_send(&w, &io, "x", 1, false, wait_deadline(0)),
	                 -ETIMEDOUT);
	assert_int_equal(frame_pending(&w), FRAME_HDR + sizeof(msg) - 150);
	f.wroom = sizeof(out);
	f.timeouts = 0;
	assert_int_equal(frame_send(&w, &io, "x", 1, false, wait_deadline(0)),
	                 1);
	assert_int_equal(frame_pending(&w), 0);
	in.in_len = f.out_len;
	frame_reader_init(&r, FRAME_MAX_MSG);
	assert_int_equal(
	        frame_recv(&r, &rio, buf, sizeof(buf), false, WAIT_FOREVER),
	        (ssize_t)sizeof(msg));
	assert_true(is_pattern(buf, sizeof(msg), 1));
	assert_int_equal(
	        frame_recv(&r, &rio, buf, sizeof(buf), false, WAIT_FOREVER), 1);
	assert_int_equal(buf[0], 'x');
	frame_writer_fini(&w);
	frame_reader_fini(&r);
}

/* Too much held with nowhere to write: the next MORE message times out
 * instead of growing the buffer without end. */
static void
test_hold_is_bounded(void **state)
{
	unsigned char msg[1000] = { 0 };
	struct fake f = { .wchunk = 0, .wroom = 0, .timeouts = 1000000 };
	struct frame_io io = fake_io(&f);
	struct frame_writer w;
	ssize_t n = 0;
	unsigned sent = 0;

	(void)state;
	frame_writer_init(&w);
	while (sent < 100000) {
		n = frame_send(&w, &io, msg, sizeof(msg), true,
		               wait_deadline(0));
		if (n < 0)
			break;
		sent++;
	}
	assert_int_equal(n, -ETIMEDOUT);
	assert_true(sent > 100);
	assert_true(frame_pending(&w) <= (2u << 20));
	frame_writer_fini(&w);
}

static void
test_peer_gone_is_sticky(void **state)
{
	struct fake f = { .werr = -EPIPE, .wchunk = 100, .wroom = 100 };
	struct frame_io io = fake_io(&f);
	struct frame_writer w;

	(void)state;
	frame_writer_init(&w);
	assert_int_equal(frame_send(&w, &io, "a", 1, false, WAIT_FOREVER),
	                 -EPIPE);
	f.werr = 0;
	assert_int_equal(frame_send(&w, &io, "a", 1, false, WAIT_FOREVER),
	                 -EPIPE);
	frame_writer_fini(&w);
}

/* Random sizes through random write and read chunking. */
static void
test_round_trip(void **state)
{
	size_t cap = 8u << 20;
	unsigned char *out = malloc(cap), *buf = malloc(100000);
	struct fake f = {
		.out = out, .out_cap = cap, .wchunk = 777, .wroom = cap
	};
	struct frame_io io = fake_io(&f);
	struct frame_writer w;
	struct frame_reader r;
	uint32_t x = 12345;
	size_t lens[500];

	(void)state;
	assert_non_null(out);
	assert_non_null(buf);
	frame_writer_init(&w);
	for (unsigned i = 0; i < 500; i++) {
		x = x * 1103515245u + 12345u;
		lens[i] = (x >> 8) % (i % 50 == 0 ? 100000 : 300);
		for (size_t k = 0; k < lens[i]; k++)
			buf[k] = (unsigned char)(i * 131 + k);
		assert_int_equal(frame_send(&w, &io, buf, lens[i], (x & 1) != 0,
		                            WAIT_FOREVER),
		                 (ssize_t)lens[i]);
	}
	assert_int_equal(frame_flush(&w, &io, WAIT_FOREVER), 0);
	frame_writer_fini(&w);
	{
		struct fake in = { .in = out,
			           .in_len = f.out_len,
			           .chunk = 333,
			           .stall = 5,
			           .eof = true };
		struct frame_io rio = fake_io(&in);

		frame_reader_init(&r, FRAME_MAX_MSG);
		for (unsigned i = 0; i < 500; i++) {
			assert_int_equal(frame_recv(&r, &rio, buf, 100000,
			                            false, WAIT_FOREVER),
			                 (ssize_t)lens[i]);
			assert_true(is_pattern(buf, lens[i], i));
		}
		assert_int_equal(
		        frame_recv(&r, &rio, buf, 100000, false, WAIT_FOREVER),
		        -EPIPE);
		frame_reader_fini(&r);
	}
	free(out);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_length_is_big_endian),
		cmocka_unit_test(test_partial_reads),
		cmocka_unit_test(test_one_read_many_messages),
		cmocka_unit_test(test_oversized_length_is_corrupt),
		cmocka_unit_test(test_text_is_corrupt),
		cmocka_unit_test(test_eof_inside_frame),
		cmocka_unit_test(test_small_buffer_keeps_message),
		cmocka_unit_test(test_timeout_inside_large_message),
		cmocka_unit_test(test_timeout_inside_large_message_until),
		cmocka_unit_test(test_coalescing),
		cmocka_unit_test(test_coalescing_flushes_by_itself),
		cmocka_unit_test(test_send_timeouts),
		cmocka_unit_test(test_hold_is_bounded),
		cmocka_unit_test(test_peer_gone_is_sticky),
		cmocka_unit_test(test_round_trip),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
