// SPDX-License-Identifier: MIT
/* test_loop.c - ipk_loop: fd readiness, timers in order (stopped ones
 * never fire), signals through signalfd, deferred work after a round. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipckit.h"

struct log {
	char s[64];
	size_t n;
};

static void
log_add(struct log *lg, char c)
{
	if (lg->n + 1 < sizeof(lg->s))
		lg->s[lg->n++] = c;
	lg->s[lg->n] = '\0';
}

struct tctx {
	struct log *lg;
	char tag;
	int stop;
};

static void
on_timer(struct ipk_loop *l, void *arg)
{
	struct tctx *t = arg;

	log_add(t->lg, t->tag);
	if (t->stop)
		ipk_loop_stop(l);
}

static void
test_timers_in_order(void **state)
{
	struct ipk_loop *l;
	struct log lg = { 0 };
	struct tctx a = { &lg, 'a', 0 }, b = { &lg, 'b', 0 },
	            c = { &lg, 'c', 1 }, d = { &lg, 'd', 0 };
	struct ipk_timer ta, tb, tc, td;
	long long t0;

	(void)state;
	assert_int_equal(ipk_loop_new(&l), 0);
	ipk_timer_init(&ta, on_timer, &a);
	ipk_timer_init(&tb, on_timer, &b);
	ipk_timer_init(&tc, on_timer, &c);
	ipk_timer_init(&td, on_timer, &d);
	assert_int_equal(ipk_timer_start(l, &tc, 60), 0);
	assert_int_equal(ipk_timer_start(l, &tb, 30), 0);
	assert_int_equal(ipk_timer_start(l, &ta, 10), 0);
	assert_int_equal(ipk_timer_start(l, &td, 20), 0);
	ipk_timer_stop(l, &td); /* a stopped timer never fires */
	assert_false(ipk_timer_is_active(&td));
	assert_int_equal(ipk_timer_start(l, &tb, 40), 0); /* restart moves */
	t0 = ipk_loop_now_ms(l);
	assert_int_equal(ipk_loop_run(l), 0);
	assert_string_equal(lg.s, "abc");
	assert_true(ipk_loop_now_ms(l) - t0 >= 59);
	ipk_loop_free(l);
}

struct io {
	int fd;
	int reads;
	struct log *lg;
};

static void
on_read(struct ipk_loop *l, int fd, unsigned ev, void *arg)
{
	struct io *io = arg;
	char buf[16];
	ssize_t n = read(fd, buf, sizeof(buf));

	assert_true(ev & IPK_READ);
	if (n > 0) {
		io->reads++;
		log_add(io->lg, buf[0]);
	}
	if (n == 0) {
		log_add(io->lg, 'E');
		ipk_loop_unwatch(l, fd);
		ipk_loop_stop(l);
	}
}

static void
on_defer(struct ipk_loop *l, void *arg)
{
	(void)l;
	log_add(arg, 'D');
}

static void
on_write_timer(struct ipk_loop *l, void *arg)
{
	struct io *io = arg;

	assert_int_equal(ipk_loop_defer(l, on_defer, io->lg), 0);
	assert_int_equal(write(io->fd, "x", 1), 1);
	close(io->fd);
}

static void
test_fd_and_defer(void **state)
{
	struct ipk_loop *l;
	struct log lg = { 0 };
	struct io rd = { -1, 0, &lg }, wr;
	struct ipk_timer t;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ipk_loop_new(&l), 0);
	assert_int_equal(ipk_loop_watch(l, p[0], IPK_READ, on_read, &rd), 0);
	wr = (struct io){ p[1], 0, &lg };
	ipk_timer_init(&t, on_write_timer, &wr);
	assert_int_equal(ipk_timer_start(l, &t, 5), 0);
	assert_int_equal(ipk_loop_run(l), 0);
	/* The deferred work ran after the timer's round, before EOF. */
	assert_string_equal(lg.s, "DxE");
	assert_int_equal(ipk_loop_unwatch(l, p[0]), -ENOENT);
	assert_int_equal(ipk_loop_watch(l, -1, IPK_READ, on_read, &rd),
	                 -EINVAL);
	close(p[0]);
	ipk_loop_free(l);
}

static void
on_sig(struct ipk_loop *l, int signo, void *arg)
{
	*(int *)arg = signo;
	ipk_loop_stop(l);
}

static void
test_signal(void **state)
{
	struct ipk_loop *l;
	int got = 0;

	(void)state;
	assert_int_equal(ipk_loop_new(&l), 0);
	assert_int_equal(ipk_loop_signal(l, SIGUSR1, on_sig, &got), 0);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(ipk_loop_run(l), 0);
	assert_int_equal(got, SIGUSR1);
	ipk_loop_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_in_order),
		cmocka_unit_test(test_fd_and_defer),
		cmocka_unit_test(test_signal),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
