// SPDX-License-Identifier: MIT
/* test_session.c - the ADC client state machine fed lines, as a hub would
 * send them: login with and without a password, the user list, chat, PMs,
 * joins and leaves, refusals, and what must be ignored. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session.h"

struct rec {
	char sent[16][1024];
	int n_sent;
	char log[8192];
	struct session *s;
};

static void
rec_log(struct rec *r, const char *fmt, ...)
{
	va_list ap;
	size_t len = strlen(r->log);

	va_start(ap, fmt);
	vsnprintf(r->log + len, sizeof(r->log) - len, fmt, ap);
	va_end(ap);
}

static int
send_cb(void *arg, const char *line, size_t len)
{
	struct rec *r = arg;

	assert_true(len > 0 && line[len - 1] == '\n');
	assert_true(r->n_sent < 16);
	snprintf(r->sent[r->n_sent++], 1024, "%.*s", (int)(len - 1), line);
	return 0;
}

static void
hub_info_cb(void *arg, const char *name, const char *desc, const char *ve)
{
	rec_log(arg, "hub(%s|%s|%s)", name, desc, ve);
}

static void
need_password_cb(void *arg)
{
	rec_log(arg, "pw?");
}

static void
need_nick_cb(void *arg)
{
	rec_log(arg, "nick?");
}

static void
logged_in_cb(void *arg, const struct user *me)
{
	rec_log(arg, "login(%s)", me->nick);
}

static void
fail_cb(void *arg, int code, const char *reason)
{
	rec_log(arg, "fail(%d,%s)", code, reason);
}

static void
join_cb(void *arg, const struct user *u)
{
	rec_log(arg, "join(%s)", u->nick);
}

static void
leave_cb(void *arg, const struct user *u, const char *reason)
{
	rec_log(arg, "leave(%s,%s)", u->nick, reason ? reason : "-");
}

static void
chat_cb(void *arg, const struct user *from, const char *text, bool me, bool pm,
        const struct user *with)
{
	rec_log(arg, "%s(%s,%s%s%s)",
	        pm   ? "pm"
	        : me ? "me"
	             : "chat",
	        from ? from->nick : "hub", text, with ? "," : "",
	        with ? with->nick : "");
}

static void
status_cb(void *arg, int code, const char *text)
{
	rec_log(arg, "sta(%d,%s)", code, text);
}

static void
search_cb(void *arg, const struct user *from, const struct adc_msg *m)
{
	rec_log(arg, "sch(%s,%u)", from->nick, m->n);
}

static void
ctm_cb(void *arg, const struct user *from, const char *proto, const char *port,
       const char *token)
{
	rec_log(arg, "ctm(%s,%s,%s,%s)", from->nick, proto, port, token);
}

static const struct session_ops ops = {
	.send_cb = send_cb,
	.hub_info_cb = hub_info_cb,
	.need_nick_cb = need_nick_cb,
	.need_password_cb = need_password_cb,
	.logged_in_cb = logged_in_cb,
	.fail_cb = fail_cb,
	.join_cb = join_cb,
	.leave_cb = leave_cb,
	.chat_cb = chat_cb,
	.status_cb = status_cb,
	.search_cb = search_cb,
	.ctm_cb = ctm_cb,
};

static void
feed(struct session *s, const char *text)
{
	char buf[2048];
	size_t n = strlen(text);

	assert_true(n < sizeof(buf));
	memcpy(buf, text, n + 1);
	assert_int_equal(session_receive(s, buf, n), 0);
}

static void
login(struct session *s, struct rec *r, const char *pw)
{
	assert_int_equal(session_init(s, &ops, r), 0);
	r->s = s;
	assert_int_equal(session_start(s), 0);
	assert_string_equal(r->sent[0], "HSUP ADBASE ADTIGR");
	feed(s, "ISUP ADBASE ADTIGR ADPING");
	assert_int_equal(s->state, SESSION_PROTOCOL);
	feed(s, "ISID AAAB");
	assert_int_equal(s->state, SESSION_IDENTIFY);
	assert_string_equal(r->log, "nick?");
	assert_int_equal(session_set_nick(s, "user1"), 0);
	assert_int_equal(r->n_sent, 2);
	assert_non_null(strstr(r->sent[1], "BINF AAAB ID"));
	assert_non_null(strstr(r->sent[1], " NIuser1"));
	assert_non_null(strstr(r->sent[1], " PD"));
	feed(s, "IINF CT32 NIanchor\\shub DEtest\\shub VEuhub/0.4.1");
	if (pw) {
		feed(s, "IGPA UDHB7REWXOJPNMXAE6QAG5UUBSTHYEYSVVCVURI");
		assert_int_equal(s->state, SESSION_VERIFY);
		assert_int_equal(session_set_password(s, pw), 0);
	}
}

/* The exchange traced with uhub (docs: notes/adc.md): the password
 * response for adminpw and that challenge. */
static void
test_login_with_password(void **state)
{
	struct session s;
	struct rec r = { 0 };

	(void)state;
	login(&s, &r, "adminpw");
	assert_string_equal(r.sent[2],
	                    "HPAS EWEMTBR2QUEZQRCSEJN3IB46GI3777R4V7VWPFA");
	assert_string_equal(r.log,
	                    "nick?hub(anchor hub|test hub|uhub/0.4.1)pw?");
	/* Users listed before our own INF are not "joins". */
	feed(&s, "BINF AAAC IDCIDALICE NIalice I4127.0.0.1 SS1000 SF2 SL3 "
	         "FS2 SUTCP4,UDP4 U45000 APEiskaltDC++ VE2.4.2");
	feed(&s, "BINF AAAB IDX NIuser1");
	assert_int_equal(s.state, SESSION_NORMAL);
	feed(&s, "BINF AAAD IDCIDBOB NIbob");
	assert_non_null(strstr(r.log, "login(user1)join(bob)"));
	assert_null(strstr(r.log, "join(alice)"));
	const struct user *a = session_user_by_nick(&s, "ALICE");
	assert_non_null(a);
	assert_string_equal(a->ip4, "127.0.0.1");
	assert_int_equal(a->share_bytes, 1000);
	assert_int_equal(a->free_slots, 2);
	assert_int_equal(a->udp4, 5000);
	assert_string_equal(a->client, "EiskaltDC++ 2.4.2");
	/* An incremental update changes one field. */
	feed(&s, "BINF AAAC SS2000");
	assert_int_equal(a->share_bytes, 2000);
	assert_string_equal(a->nick, "alice");
	session_fini(&s);
}

static void
test_chat_pm_leave(void **state)
{
	struct session s;
	struct rec r = { 0 };

	(void)state;
	login(&s, &r, NULL);
	feed(&s, "BINF AAAC IDCIDALICE NIalice");
	feed(&s, "BINF AAAB IDX NIuser1");
	r.log[0] = '\0';
	feed(&s, "BMSG AAAC hello\\sworld");
	feed(&s, "BMSG AAAC waves ME1");
	feed(&s, "EMSG AAAC AAAB psst PMAAAC");
	feed(&s, "EMSG AAAB AAAC back PMAAAB"); /* our own PM's echo */
	feed(&s, "IMSG Welcome");
	feed(&s, "BMSG AAAZ nobody");              /* an unknown SID: ignored */
	feed(&s, "DMSG AAAC AAAX not\\sfor\\sus"); /* another target */
	feed(&s, "BMSG AAAC bad\\xescape");        /* invalid: ignored */
	feed(&s, "ISTA 000 Powered\\sby\\suhub");
	feed(&s, "DCTM AAAC AAAB ADC/1.0 4000 TOK1");
	feed(&s, "BSCH AAAC ANfoo TOx");
	feed(&s, "IQUI AAAC MSbye");
	assert_string_equal(
	        r.log, "chat(alice,hello world)me(alice,waves)"
	               "pm(alice,psst,alice)pm(user1,back,alice)chat(hub,"
	               "Welcome)sta(0,Powered by uhub)ctm(alice,ADC/1.0,4000,"
	               "TOK1)sch(alice,2)leave(alice,bye)");
	assert_null(session_user(&s, 2));
	/* What we send. */
	r.n_sent = 0;
	assert_int_equal(session_chat(&s, "a b", false), 0);
	assert_string_equal(r.sent[0], "BMSG AAAB a\\sb");
	session_fini(&s);
}

static void
test_refusals(void **state)
{
	struct session s;
	struct rec r = { 0 };

	(void)state;
	login(&s, &r, "wrong");
	feed(&s, "ISTA 223 Password\\sis\\swrong");
	assert_int_equal(s.state, SESSION_CLOSED);
	assert_non_null(strstr(r.log, "fail(223,Password is wrong)"));
	/* Nothing is believed after that. */
	feed(&s, "BINF AAAB IDX NIuser1");
	assert_null(strstr(r.log, "login"));
	assert_int_equal(session_chat(&s, "x", false), -ENOTCONN);
	session_fini(&s);

	memset(&r, 0, sizeof(r));
	login(&s, &r, NULL);
	feed(&s, "ISTA 222 Nick\\staken");
	assert_non_null(strstr(r.log, "fail(222,Nick taken)"));
	session_fini(&s);

	/* Kicked after login. */
	memset(&r, 0, sizeof(r));
	login(&s, &r, NULL);
	feed(&s, "BINF AAAB IDX NIuser1");
	feed(&s, "IQUI AAAB MSgo\\saway");
	assert_non_null(strstr(r.log, "fail(230,go away)"));
	session_fini(&s);
}

static void
test_state_rules(void **state)
{
	struct session s;
	struct rec r = { 0 };

	(void)state;
	assert_int_equal(session_init(&s, &ops, &r), 0);
	assert_int_equal(session_start(&s), 0);
	/* Chat before NORMAL is dropped; SID without a TIGR hub fails. */
	feed(&s, "BMSG AAAC early");
	assert_string_equal(r.log, "");
	feed(&s, "ISUP ADBASE");
	feed(&s, "ISID AAAB");
	assert_int_equal(s.state, SESSION_CLOSED);
	assert_non_null(strstr(r.log, "fail(247"));
	session_fini(&s);

	memset(&r, 0, sizeof(r));
	assert_int_equal(session_init(&s, &ops, &r), 0);
	session_set_nick(&s, "n");
	session_start(&s);
	feed(&s, "ISUP ADBASE ADTIGR");
	feed(&s, "ISID AAAB");
	assert_int_equal(r.n_sent, 2); /* the nick was known: INF at once */
	feed(&s, "BINF AAAB IDX NIn");
	feed(&s, "ISID AAAC"); /* not in NORMAL */
	assert_int_equal(s.sid, 1);
	/* Incremental INF: only what changed. */
	r.n_sent = 0;
	s.self.share_bytes = 12345;
	assert_int_equal(session_update_inf(&s), 0);
	assert_string_equal(r.sent[0], "BINF AAAB SS12345");
	assert_int_equal(session_update_inf(&s), 0);
	assert_int_equal(r.n_sent, 1);
	session_fini(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_with_password),
		cmocka_unit_test(test_chat_pm_leave),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_state_rules),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
