// SPDX-License-Identifier: MIT
/* test_hub.c - the hub's protocol core fed lines without sockets: the
 * state machine, BINF validation, the password challenge, routing by
 * type, INF updates, chat commands, history, flood and queue limits,
 * timeouts and shutdown; also outq, config and store. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base32.h"
#include "harness.h"
#include "hub.h"
#include "tiger.h"

#define OUT_MAX (256 * 1024)

static char out_buf[OUT_MAX];
static int reloads;

static int
fake_reload(void *arg, char *msg, size_t cap)
{
	(void)arg;
	reloads++;
	snprintf(msg, cap, "ok");
	return 0;
}

static const struct hub_ops test_ops = { .reload = fake_reload };

struct fix {
	struct hub_config cfg;
	struct store *st;
	struct hub *h;
	char db[512], key[600];
};

static struct fix F;

static void
fix_hub(void)
{
	hub_free(F.h);
	F.h = hub_new(&F.cfg, F.st, &test_ops, NULL);
	hub_set_now(F.h, 1000);
}

static int
setup(void **state)
{
	char err[512];

	(void)state;
	tiger_init_library();
	config_defaults(&F.cfg);
	F.cfg.chat_flood = (struct rate){ 0, 1 };
	harness_path(F.db, sizeof(F.db), "hub.db");
	snprintf(F.key, sizeof(F.key), "%s.key", F.db);
	assert_int_equal(store_open(&F.st, F.db, F.key, true, err, sizeof(err)),
	                 0);
	assert_int_equal(store_user_add(F.st, "alice", "secret", ROLE_ADMIN),
	                 0);
	assert_int_equal(store_user_add(F.st, "Oscar", "oppw", ROLE_OP), 0);
	assert_int_equal(store_user_add(F.st, "bob", "bobpw", ROLE_USER), 0);
	F.h = NULL;
	fix_hub();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	hub_free(F.h);
	F.h = NULL;
	store_close(F.st);
	config_fini(&F.cfg);
	unlink(F.db);
	unlink(F.key);
	return 0;
}

static struct conn *
conn_from(const char *ip, unsigned port)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
		                  .sin_port = htons((uint16_t)port) };

	inet_pton(AF_INET, ip, &in.sin_addr);
	return hub_conn_new(F.h, (struct sockaddr *)&in, sizeof(in));
}

static void
feed(struct conn *c, const char *fmt, ...)
{
	char line[65536];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	hub_input(F.h, c, line, (size_t)n);
}

/* What c was sent since the last call (and forget it). */
static const char *
out(struct conn *c)
{
	outq_copy(&c->out, out_buf, sizeof(out_buf));
	outq_clear(&c->out);
	return out_buf;
}

static void
reap(void)
{
	struct conn *c;

	while (hub_take_dirty(F.h))
		;
	while ((c = hub_take_dead(F.h)) != NULL)
		hub_conn_free(F.h, c);
}

struct ident {
	char pid[48], cid[48];
};

static void
ident_new(struct ident *id)
{
	uint8_t pid[TIGER_BYTES], cid[TIGER_BYTES];

	assert_int_equal(getrandom(pid, sizeof(pid), 0), (ssize_t)sizeof(pid));
	assert_int_equal(tiger_hash(pid, sizeof(pid), cid), 0);
	base32_encode(pid, sizeof(pid), id->pid, sizeof(id->pid));
	base32_encode(cid, sizeof(cid), id->cid, sizeof(id->cid));
}

static char *
sid_of(struct conn *c, char buf[5])
{
	adc_sid_encode(c->sid, buf);
	return buf;
}

/* HSUP + BINF; returns the conn (check its state yourself). */
static struct conn *
start_login(const char *nick, const char *extra)
{
	struct conn *c = conn_from("127.0.0.1", 40000);
	struct ident id;
	char s[5];

	assert_non_null(c);
	ident_new(&id);
	feed(c, "HSUP ADBASE ADTIGR");
	assert_non_null(strstr(out(c), "ISUP ADBASE ADTIGR"));
	feed(c, "BINF %s ID%s PD%s NI%s SUTCP4,UDP4 SS1000%s%s", sid_of(c, s),
	     id.cid, id.pid, nick, extra ? " " : "", extra ? extra : "");
	return c;
}

static void
answer(struct conn *c, const char *pw)
{
	const char *gpa = strstr(out(c), "IGPA ");
	uint8_t chal[CHALLENGE_BYTES], resp[TIGER_BYTES];
	char text[64];

	assert_non_null(gpa);
	assert_int_equal(base32_decode(gpa + 5, 39, chal, sizeof(chal)),
	                 CHALLENGE_BYTES);
	assert_int_equal(tiger_hash2(pw, strlen(pw), chal, sizeof(chal), resp),
	                 0);
	base32_encode(resp, sizeof(resp), text, sizeof(text));
	feed(c, "HPAS %s", text);
}

static struct conn *
login(const char *nick, const char *pw)
{
	struct conn *c = start_login(nick, NULL);

	if (pw)
		answer(c, pw);
	assert_int_equal(c->state, CONN_NORMAL);
	out(c);
	return c;
}

static void
test_login_guest(void **state)
{
	struct conn *a, *g;
	const char *o;
	char s[5];

	(void)state;
	a = login("alice", "secret");
	g = start_login("guest", "PDXXXX CT4 I40.0.0.0");
	assert_int_equal(g->state, CONN_NORMAL);
	o = out(g);
	/* the user list: alice first, our own INF last */
	assert_non_null(strstr(o, "BINF AAAB"));
	assert_true(strstr(o, "BINF AAAB") < strstr(o, sid_of(g, s)));
	assert_null(strstr(o, " PD"));               /* stripped */
	assert_null(strstr(o, " CT4"));              /* not the client's */
	assert_non_null(strstr(o, "I4127.0.0.1\n")); /* the real address */
	assert_non_null(strstr(o, "IMSG Welcome"));
	/* alice saw the join */
	assert_non_null(strstr(out(a), "NIguest"));
	reap();
}

static void
test_state_machine(void **state)
{
	struct conn *c = conn_from("127.0.0.1", 1);
	struct conn *a;

	(void)state;
	feed(c, "BMSG AAAB hi");
	assert_non_null(strstr(out(c), "ISTA 244"));
	assert_true(c->closing);
	c = conn_from("127.0.0.1", 2);
	feed(c, "HSUP ADBASE");
	assert_non_null(strstr(out(c), "ISTA 247"));
	assert_true(c->closing);
	c = conn_from("127.0.0.1", 3);
	feed(c, "HSUP ADBASE ADTIGR");
	out(c);
	feed(c, "HPAS AAAA");
	assert_non_null(strstr(
	        out(c), "ISTA 244 HPAS\\sis\\snot\\svalid\\snow FCHPAS"));
	assert_true(c->closing);
	a = login("alice", "secret");
	feed(a, "HPAS AAAA"); /* out of state in NORMAL: told, not closed */
	assert_non_null(strstr(out(a), "ISTA 244"));
	assert_false(a->closing);
	feed(a, ""); /* keep-alive */
	assert_string_equal(out(a), "");
	reap();
}

static void
test_binf_validation(void **state)
{
	struct conn *c, *a;
	struct ident id;
	char s[5];

	(void)state;
	a = login("Alice", "secret");
	c = start_login("ALICE", NULL); /* case-insensitive */
	assert_non_null(strstr(out(c), "ISTA 222"));
	assert_true(c->closing);
	c = start_login("bad\\nnick", NULL);
	assert_non_null(strstr(out(c), "ISTA 221"));
	c = start_login("spoof", "I410.0.0.9");
	assert_non_null(strstr(out(c), "ISTA 246"));
	assert_non_null(strstr(out_buf, "I4127.0.0.1"));

	c = conn_from("127.0.0.1", 9);
	ident_new(&id);
	feed(c, "HSUP ADBASE ADTIGR");
	out(c);
	feed(c, "BINF %s ID%s PD%s", sid_of(c, s), id.cid, id.pid);
	assert_non_null(strstr(
	        out(c), "ISTA 243 INF\\slacks\\sa\\srequired\\sfield FMNI"));
	c = conn_from("127.0.0.1", 9);
	feed(c, "HSUP ADBASE ADTIGR");
	out(c);
	feed(c, "BINF %s ID%s PD%s NIx", sid_of(c, s), id.cid,
	     "SBPWJFDD6BQCDQ4PB3L4XC7UG6NCOG4PDVXS7WI");
	assert_non_null(strstr(out(c), "ISTA 227"));
	/* someone else's SID */
	c = conn_from("127.0.0.1", 9);
	feed(c, "HSUP ADBASE ADTIGR");
	out(c);
	feed(c, "BINF %s ID%s PD%s NIx", sid_of(a, s), id.cid, id.pid);
	assert_non_null(strstr(out(c), "ISTA 240"));
	assert_true(c->closing);
	/* a CID taken */
	c = conn_from("127.0.0.1", 9);
	feed(c, "HSUP ADBASE ADTIGR");
	out(c);
	feed(c, "BINF %s ID%s PD%s NIfirst", sid_of(c, s), id.cid, id.pid);
	assert_int_equal(c->state, CONN_NORMAL);
	c = conn_from("127.0.0.1", 9);
	feed(c, "HSUP ADBASE ADTIGR");
	out(c);
	feed(c, "BINF %s ID%s PD%s NIsecond", sid_of(c, s), id.cid, id.pid);
	assert_non_null(strstr(out(c), "ISTA 224"));
	reap();
}

static void
test_password(void **state)
{
	struct conn *c, *d;
	char g1[64], g2[64];

	(void)state;
	c = start_login("bob", NULL);
	assert_int_equal(c->state, CONN_VERIFY);
	snprintf(g1, sizeof(g1), "%s", strstr(out(c), "IGPA "));
	assert_int_equal(strlen(g1), 5 + 39 + 1);
	feed(c, "HPAS %s", "EWEMTBR2QUEZQRCSEJN3IB46GI3777R4V7VWPFA");
	assert_non_null(strstr(out(c), "ISTA 223 Password\\sis\\swrong\n"
	                               "IQUI "));
	assert_true(c->closing);
	/* a fresh challenge every time */
	d = start_login("bob", NULL);
	snprintf(g2, sizeof(g2), "%s", strstr(out(d), "IGPA "));
	assert_string_not_equal(g1, g2);
	conn_close(d, "test", false, false);
	reap();
	d = login("bob", "bobpw");
	assert_non_null(strstr(d->inf, " CT2 "));
	c = login("Oscar", "oppw");
	assert_non_null(strstr(c->inf, " CT4 "));
	/* registered only */
	F.cfg.registered_only = true;
	hub_apply_config(F.h, &F.cfg);
	c = start_login("guest", NULL);
	assert_non_null(strstr(out(c), "ISTA 226"));
	F.cfg.registered_only = false;
	hub_apply_config(F.h, &F.cfg);
	reap();
}

static void
test_routing(void **state)
{
	struct conn *a, *b, *p;
	char sa[5], sb[5], sp[5];

	(void)state;
	a = login("alice", "secret");
	b = login("bob", "bobpw");
	p = start_login("passive", NULL);
	assert_int_equal(p->state, CONN_NORMAL);
	feed(p, "BINF %s SUADC0,NAT0", sid_of(p, sp));
	out(a);
	out(b);
	out(p);
	sid_of(a, sa);
	sid_of(b, sb);
	feed(a, "BMSG %s hello\\sall", sa); /* B: everyone, sender too */
	assert_string_equal(out(a), "BMSG AAAB hello\\sall\n");
	assert_string_equal(out(b), "BMSG AAAB hello\\sall\n");
	assert_string_equal(out(p), "BMSG AAAB hello\\sall\n");
	feed(a, "DCTM %s %s ADC/1.0 4000 tok", sa, sb); /* D: target only */
	assert_string_equal(out(a), "");
	assert_string_equal(out(b), "DCTM AAAB AAAC ADC/1.0 4000 tok\n");
	assert_int_equal(a->ctm_port, 4000);
	feed(a, "EMSG %s %s psst PM%s", sa, sb, sa); /* E: target + sender */
	assert_non_null(strstr(out(a), "EMSG"));
	assert_non_null(strstr(out(b), "EMSG"));
	assert_string_equal(out(p), "");
	feed(a, "FSCH %s +TCP4 ANabc TOt1", sa); /* F: by SU */
	assert_non_null(strstr(out(b), "FSCH"));
	assert_string_equal(out(p), "");
	feed(a, "FSCH %s +NAT0 ANabc TOt2", sa);
	assert_string_equal(out(b), "");
	assert_non_null(strstr(out(p), "FSCH"));
	feed(p, "DRES %s %s FNx SI1 SL1 TOt1", sp, sa); /* passive result */
	assert_non_null(strstr(out(a), "DRES"));
	feed(a, "BXYZ %s new\\scommand", sa); /* unknown: routed by type */
	assert_non_null(strstr(out(b), "BXYZ"));
	out(a);
	out(p);
	feed(a, "IMSG from\\sa\\sclient"); /* I/C/U/H never relayed */
	feed(a, "CSUP ADBASE");
	feed(a, "HXYZ hub\\sonly");
	assert_string_equal(out(b), "");
	feed(a, "DMSG %s AAZZ nobody", sa); /* target gone: dropped */
	assert_string_equal(out(b), "");
	assert_false(a->closing);
	feed(b, "BMSG %s i\\sam\\salice", sa); /* spoofed my_sid */
	assert_non_null(strstr(out(b), "ISTA 240"));
	assert_true(b->closing);
	assert_string_equal(out(p), "IQUI AAAC\n");
	reap();
}

/* min_search_length: short words alone are refused with a reason; a hash
 * search, and a search by extension (ipckit peer's "/search ext:txt" is
 * EXtxt alone; it used to be refused), pass. */
static void
test_min_search_length(void **state)
{
	struct conn *a, *b;
	char sa[5];

	(void)state;
	a = login("alice", "secret");
	b = login("bob", "bobpw");
	out(a);
	sid_of(a, sa);
	feed(a, "BSCH %s ANab TOt1", sa);
	assert_string_equal(out(b), "");
	assert_non_null(strstr(out(a), "ISTA 100 Search\\signored"));
	feed(a, "BSCH %s TOt2", sa); /* no criterion at all */
	assert_string_equal(out(b), "");
	out(a);
	feed(a, "BSCH %s ANabc TOt3", sa);
	assert_string_equal(out(b), "BSCH AAAB ANabc TOt3\n");
	feed(a, "BSCH %s EXtxt TOt4", sa);
	assert_string_equal(out(b), "BSCH AAAB EXtxt TOt4\n");
	feed(a, "BSCH %s ANa EXc TOt5", sa);
	assert_string_equal(out(b), "BSCH AAAB ANa EXc TOt5\n");
	feed(a, "BSCH %s TRLWPNACQDBZRYXW3VHJVCJ64QBZNGHOHHHZWCLNQ TOt6", sa);
	assert_non_null(strstr(out(b), "TOt6"));
	assert_null(strstr(out(a), "ISTA"));
	reap();
}

static void
test_inf_update(void **state)
{
	struct conn *a, *b;
	char sa[5];

	(void)state;
	a = login("alice", "secret");
	b = login("bob", "bobpw");
	out(a);
	feed(a, "BINF %s SS5000 PDAAAA CT16 I41.2.3.4 NIalicia", sid_of(a, sa));
	assert_string_equal(out(b), "BINF AAAB SS5000 NIalicia\n");
	assert_non_null(strstr(a->inf, "SS5000"));
	assert_null(strstr(a->inf, "SS1000"));
	assert_non_null(strstr(a->inf, "CT20"));
	assert_string_equal(a->nick, "alicia");
	feed(a, "BINF %s NIBOB", sa);
	assert_non_null(strstr(out(a), "ISTA 121"));
	assert_string_equal(out(b), "");
	assert_ptr_equal(F.h->online[0], a);
	reap();
}

static void
test_commands(void **state)
{
	struct conn *a, *o, *b, *g;
	char sa[5], so[5], sb[5], sg[5];

	(void)state;
	a = login("alice", "secret");
	o = login("Oscar", "oppw");
	b = login("bob", "bobpw");
	g = start_login("guest", NULL);
	out(a);
	out(o);
	out(b);
	out(g);
	sid_of(a, sa);
	sid_of(o, so);
	sid_of(b, sb);
	sid_of(g, sg);
	feed(g, "BMSG %s !help", sg);
	assert_non_null(strstr(out(g), "!myip"));
	assert_null(strstr(out_buf, "!kick"));
	assert_string_equal(out(b), ""); /* commands are not broadcast */
	feed(g, "BMSG %s !kick\\sbob", sg);
	assert_non_null(strstr(out(g), "only\\sops\\smay"));
	feed(g, "BMSG %s !frobnicate", sg);
	assert_non_null(strstr(out(g), "no\\ssuch\\scommand"));
	feed(g, "BMSG %s !myip", sg);
	assert_non_null(strstr(out(g), "127.0.0.1,\\sport\\s40000"));
	feed(o, "BMSG %s !users", so);
	assert_non_null(strstr(out(o), "bob\\s\\suser\\s\\s127.0.0.1:40000"));
	feed(o, "BMSG %s !kick\\salice", so);
	assert_non_null(strstr(out(o), "as\\shigh\\sas\\syou"));
	feed(o, "BMSG %s !stats", so);
	assert_non_null(strstr(out(o), "Users\\sonline\\s4"));
	feed(o, "BMSG %s !reload", so);
	assert_non_null(strstr(out(o), "only\\sadmins"));
	feed(a, "BMSG %s !reload", sa);
	assert_int_equal(reloads, 1);
	assert_non_null(strstr(out(a), "reloaded"));
	feed(o, "BMSG %s !kick\\sguest\\sbe\\snice", so);
	assert_true(g->closing);
	assert_non_null(strstr(
	        out(b), "IQUI AAAE IDAAAC MSKicked\\sby\\sOscar:\\sbe\\snice"));
	feed(o, "BMSG %s !ban\\sbob\\s1h\\sspam", so);
	assert_true(b->closing);
	assert_non_null(strstr(out(a), "IQUI AAAD IDAAAC TL3600 MSBanned"));
	reap();
	b = start_login("BOB", NULL);
	assert_non_null(strstr(out(b), "ISTA 232"));
	assert_non_null(strstr(out_buf, "TL3"));
	feed(o, "BMSG %s !bans", so);
	assert_non_null(strstr(out(o), "nick\\sbob"));
	feed(o, "BMSG %s !unban\\sbob", so);
	assert_non_null(strstr(out(o), "Unbanned"));
	feed(o, "BMSG %s !ban\\s10.9.9.9", so);
	assert_non_null(strstr(out(o), "Banned\\saddress"));
	feed(o, "BMSG %s !broadcast\\sservice\\sat\\s5", so);
	assert_non_null(strstr(out(a), "IMSG service\\sat\\s5"));
	reap();
	b = login("bob", "bobpw");
	(void)b;
	reap();
}

static void
test_history(void **state)
{
	struct conn *a, *b;
	char sa[5];

	(void)state;
	a = login("alice", "secret");
	feed(a, "BMSG %s first", sid_of(a, sa));
	feed(a, "BMSG %s waves ME1", sa);
	feed(a, "BMSG %s !history", sa);
	assert_non_null(strstr(out(a), "<alice>\\sfirst\\n["));
	assert_non_null(strstr(out_buf, "*\\salice\\swaves"));
	/* saved by the tick, loaded by a new hub, replayed on login */
	hub_tick(F.h, 5000);
	fix_hub();
	b = login("bob", NULL == NULL ? "bobpw" : NULL);
	(void)b;
	reap();
	b = start_login("carol", NULL);
	assert_non_null(strstr(out(b), "Chat\\shistory"));
	assert_non_null(strstr(out_buf, "<alice>\\sfirst"));
	reap();
}

static void
test_flood_and_limits(void **state)
{
	struct conn *a, *b, *c;
	char sa[5], big[300];

	(void)state;
	F.cfg.chat_flood = (struct rate){ 3, 60 };
	F.cfg.max_send_queue = 4096;
	F.cfg.max_line_bytes = 256;
	fix_hub();
	a = login("alice", "secret");
	b = login("bob", "bobpw");
	out(a);
	sid_of(a, sa);
	for (int i = 0; i < 5; i++)
		feed(a, "BMSG %s line%d", sa, i);
	assert_non_null(strstr(out(b), "line2"));
	assert_null(strstr(out_buf, "line3"));
	assert_non_null(strstr(out(a), "ISTA 100 Flood\\slimit"));
	for (int i = 0; i < 40 && !a->closing; i++)
		feed(a, "BMSG %s more%d", sa, i);
	assert_true(a->closing);
	reap();
	/* a slow reader: bob never reads; carol talks */
	F.cfg.chat_flood = (struct rate){ 0, 1 };
	hub_apply_config(F.h, &F.cfg);
	c = login("Oscar", "oppw");
	memset(big, 'x', 200);
	big[200] = '\0';
	for (int i = 0; i < 100 && !b->closing; i++) {
		feed(c, "BMSG %s %s", sid_of(c, sa), big);
		out(c);
	}
	assert_true(b->closing);
	assert_int_equal(F.h->stats.slow_drops, 1);
	reap();
	/* an overlong line, sent in pieces */
	c = conn_from("127.0.0.1", 5);
	hub_input(F.h, c, "HSUP ADBASE", 11);
	assert_false(c->closing);
	assert_int_equal(c->in_len, 11);
	hub_input(F.h, c, " ADTIGR\n", 8);
	assert_int_equal(c->state, CONN_IDENTIFY);
	memset(big, 'y', sizeof(big));
	hub_input(F.h, c, big, sizeof(big));
	assert_true(c->closing);
	assert_non_null(strstr(out(c), "max_line_bytes"));
	reap();
	F.cfg.max_send_queue = 1 << 20;
	F.cfg.max_line_bytes = 16384;
	fix_hub();
}

static void
test_invalid_lines(void **state)
{
	struct conn *a, *b;
	char sa[5];

	(void)state;
	a = login("alice", "secret");
	b = login("bob", "bobpw");
	sid_of(a, sa);
	feed(a, "BMSG %s bad\\xescape", sa);
	assert_non_null(strstr(
	        out(a),
	        "ISTA 140 Invalid\\smessage\\signored:\\sunknown\\sescape"));
	hub_set_now(F.h, 5000);
	feed(a, "BMSG %s \xff\xfe", sa);
	assert_non_null(strstr(out(a), "invalid\\sUTF-8"));
	feed(a, "BMSG %s  double", sa);
	assert_string_equal(out(b), "");
	assert_false(a->closing);
	reap();
}

static void
test_timeout_and_shutdown(void **state)
{
	struct conn *c, *a;

	(void)state;
	c = conn_from("127.0.0.1", 7);
	feed(c, "HSUP ADBASE ADTIGR");
	hub_tick(F.h, 1000 + 29000);
	assert_false(c->closing);
	hub_tick(F.h, 1000 + 31000);
	assert_true(c->closing);
	assert_non_null(strstr(out(c), "login\\stimeout"));
	a = login("alice", "secret");
	hub_shutdown(F.h, "Hub is shutting down (test)");
	assert_true(a->closing);
	assert_non_null(strstr(out(a), "IMSG Hub\\sis\\sshutting\\sdown"));
	assert_non_null(strstr(out_buf, "IQUI AAA"));
	assert_null(hub_conn_new(F.h, NULL, 0));
	reap();
	fix_hub();
}

static void
test_userlist_shared(void **state)
{
	struct conn *c[20];

	(void)state;
	for (int i = 0; i < 20; i++) {
		char nick[16];

		snprintf(nick, sizeof(nick), "u%d", i);
		c[i] = start_login(nick, NULL);
		assert_int_equal(c[i]->state, CONN_NORMAL);
	}
	/* the last two newcomers' lists are slices of one chunk */
	assert_true(c[18]->out.n >= 2 && c[19]->out.n >= 2);
	assert_ptr_equal(c[18]->out.v[c[18]->out.head].c,
	                 c[19]->out.v[c[19]->out.head].c);
	assert_int_equal(F.h->n_online, 20);
	reap();
}

static void
test_hub_full(void **state)
{
	struct conn *c;

	(void)state;
	F.cfg.max_users = 1;
	fix_hub();
	login("bob", "bobpw");
	c = start_login("guest", NULL);
	assert_non_null(strstr(out(c), "ISTA 211 Hub\\sis\\sfull"));
	assert_true(c->closing);
	login("alice", "secret"); /* operators may log in beyond it */
	assert_int_equal(F.h->n_online, 2);
	/* half-open logins are bounded too */
	for (int i = 0; i < 200 && (c = conn_from("127.0.0.1", 1)); i++)
		;
	assert_null(c);
	reap();
	F.cfg.max_users = 1000;
	fix_hub();
}

static void
test_outq(void **state)
{
	struct outq q = { 0 };
	struct chunk *ch = chunk_from("shared\n", 7);
	char buf[64];

	(void)state;
	outq_write(&q, "ab", 2);
	outq_write(&q, "cd", 2); /* coalesced into one private chunk */
	assert_int_equal(q.n, 1);
	outq_push(&q, ch, 0, 7);
	assert_int_equal(ch->refs, 2);
	outq_write(&q, "ef", 2); /* never appended to a shared chunk */
	assert_int_equal(q.n, 3);
	assert_int_equal(outq_copy(&q, buf, sizeof(buf)), 13);
	assert_string_equal(buf, "abcdshared\nef");
	outq_consume(&q, 6);
	outq_copy(&q, buf, sizeof(buf));
	assert_string_equal(buf, "ared\nef");
	outq_consume(&q, 7);
	assert_int_equal(q.n, 0);
	assert_null(q.v);
	assert_int_equal(ch->refs, 1);
	chunk_unref(ch);
}

static void
test_config(void **state)
{
	struct hub_config cfg;
	char path[512], err[512];
	FILE *f;

	(void)state;
	harness_path(path, sizeof(path), "hub.conf");
	f = fopen(path, "w");
	fprintf(f, "# comment\nhub_name = \"My hub\"\nchat_flood = 5/10\n"
	           "registered_only = yes\nmax_users = abc\n");
	fclose(f);
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "hub.conf:5: max_users: 'abc'"));
	assert_string_equal(cfg.name, "My hub");
	assert_int_equal(cfg.chat_flood.count, 5);
	assert_true(cfg.registered_only);
	f = fopen(path, "w");
	fprintf(f, "listen = 1.2.3.4:5\nfrob = 1\n");
	fclose(f);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: unknown setting 'frob'"));
	assert_int_equal(config_set(&cfg, "chat_flood", "5", err, sizeof(err)),
	                 -1);
	config_fini(&cfg);
	unlink(path);
}

static void
test_store(void **state)
{
	char pw[STORE_PW_MAX + 1], err[512], key2[700];
	struct store *other;
	enum role r;
	FILE *f;

	(void)state;
	assert_int_equal(store_user_add(F.st, "ALICE", "x", ROLE_USER),
	                 -EEXIST);
	assert_int_equal(store_user_password(F.st, "Alice", pw, sizeof(pw)), 1);
	assert_string_equal(pw, "secret");
	assert_int_equal(store_user_passwd(F.st, "alice", "n3w"), 0);
	assert_int_equal(store_user_password(F.st, "alice", pw, sizeof(pw)), 1);
	assert_string_equal(pw, "n3w");
	assert_int_equal(store_user_set_role(F.st, "bob", ROLE_OP), 0);
	assert_int_equal(store_user_role(F.st, "BOB", &r), 1);
	assert_int_equal(r, ROLE_OP);
	assert_int_equal(store_user_del(F.st, "nobody"), -ENOENT);
	/* a ban that ended no longer matches, and expiry removes it */
	{
		long long until;
		char why[64];

		assert_int_equal(store_ban_put(F.st, "ip", "10.1.1.1", 1000,
		                               "old", "op"),
		                 0);
		assert_int_equal(store_ban_find(F.st, "ip", "10.1.1.1", 999,
		                                &until, why, sizeof(why)),
		                 1);
		assert_int_equal(store_ban_find(F.st, "ip", "10.1.1.1", 1000,
		                                &until, why, sizeof(why)),
		                 0);
		assert_int_equal(store_ban_expire(F.st, 1000), 0);
		assert_int_equal(store_ban_del(F.st, "ip", "10.1.1.1"), 0);
	}
	/* the password is not in the database file in clear */
	{
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "grep -c n3w %s >/dev/null", F.db);
		assert_int_not_equal(system(cmd), 0);
	}
	/* another key cannot open the sealed passwords */
	snprintf(key2, sizeof(key2), "%s.other", F.key);
	assert_int_equal(store_open(&other, F.db, key2, true, err, sizeof(err)),
	                 0);
	assert_int_equal(store_user_password(other, "alice", pw, sizeof(pw)),
	                 -1);
	assert_non_null(strstr(store_error(other), "authenticate"));
	store_close(other);
	/* a key file others can read is refused */
	chmod(key2, 0644);
	assert_int_equal(
	        store_open(&other, F.db, key2, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mode 0644"));
	unlink(key2);
	f = fopen(key2, "w");
	fclose(f);
	chmod(key2, 0600);
	assert_int_equal(
	        store_open(&other, F.db, key2, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exactly 32 bytes"));
	unlink(key2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login_guest, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_state_machine, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_binf_validation, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_search_length, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_inf_update, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_and_limits, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_invalid_lines, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_timeout_and_shutdown,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_userlist_shared, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_hub_full, setup, teardown),
		cmocka_unit_test(test_outq),
		cmocka_unit_test(test_config),
		cmocka_unit_test_setup_teardown(test_store, setup, teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("hub", tests, NULL, NULL);
}
