// SPDX-License-Identifier: MIT
/*
 * fifo.c - named pipes as an ipckit queue: any number of senders and
 * receivers, each message to exactly one receiver.
 *
 * The FIFO runs in packet mode (O_DIRECT): every write of at most PIPE_BUF
 * bytes is one packet, which the kernel never interleaves with another
 * writer's and which one read() returns whole.  A packet starts with a
 * 12-byte header (magic, flags, payload length, message id, argument):
 *
 *   BATCH       whole messages, each a 4-byte length and its bytes;
 *   FIRST       the start of a message too long for a batch (argument:
 *               its total length), FIRST|LAST if it fits this packet;
 *   (none)/LAST the next part of it (argument: the offset of this part).
 *
 * A packet of exactly FIFO_PKT bytes that does not start with the magic
 * byte is one message, all of it, with no header: a message of a page
 * whose first byte is not FIFO_MAGIC goes that way, one packet where a
 * header would make it two (and a long message).
 *
 * Long messages are where atomicity needs help, and OFD locks (released by
 * the kernel when their holder dies) give it:
 *   - a sender holds the WRITER lock while it writes the packets of one
 *     long message, so no other long message interleaves with it (batches
 *     may, being whole);
 *   - a receiver holds the READER lock for each packet it reads, and from
 *     a FIRST packet until that message's LAST, so the parts of a message
 *     all reach the receiver that read its start;
 *   - every channel holds a shared OPEN lock, and every receiver (a channel
 *     that has received or asked for its pollfd) a shared RECEIVERS lock,
 *     so a sender blocked on a full FIFO can tell that nobody is left to
 *     drain it: -EPIPE once the receivers it has seen have all gone, or,
 *     if it never saw one, once no other channel has had the FIFO open
 *     for FIFO_ALONE_NS of its waiting (a consumer may be starting up).
 * A sender that dies or gives up in the middle of a long message leaves
 * its first parts behind.  The receiver holding them drops them once the
 * WRITER lock is free and no part follows, or at the next FIRST packet: a
 * torn message never surfaces, and later messages are untouched.
 *
 * Every channel opens the FIFO read-write, so sends succeed before any
 * receiver comes and SIGPIPE can never happen.  The kernel keeps a FIFO's
 * contents only while some process has it open.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ipckit.h"

#include "addr.h"
#include "forkgen.h"
#include "frame.h"
#include "fsname.h"
#include "readyfd.h"
#include "transport.h"
#include "wait.h"

#define FIFO_PKT     PIPE_BUF /* bytes per packet, header included */
#define FIFO_HDR     12
#define FIFO_PAYLOAD (FIFO_PKT - FIFO_HDR)
#define FIFO_MAGIC   0xf1
#define FIFO_FIRST   0x01
#define FIFO_LAST    0x02
#define FIFO_BATCH   0x04
/* The longest message that fits one packet as a batch frame. */
#define FIFO_SMALL   (FIFO_PAYLOAD - FRAME_HDR)
#define FIFO_MAX_MSG FRAME_MAX_MSG

/* Packets a sender holds before writing them in one call. */
#define FIFO_OUT_PKTS 16
/* Packets written per call for a long message (two iovecs each). */
#define FIFO_GROUP    256

/* Pipe capacity asked for unless ?size= says otherwise.  In packet mode a
 * packet takes a whole page however short it is. */
#define FIFO_SIZE_DEFAULT (256u << 10)

/* Lock bytes: OFD locks on offsets no program reads (a FIFO has none). */
#define FIFO_LK_WRITER    ((off_t)0x49504b00)
#define FIFO_LK_READER    ((off_t)0x49504b01)
#define FIFO_LK_RECEIVERS ((off_t)0x49504b02)
#define FIFO_LK_OPEN      ((off_t)0x49504b03)

/* While a sender waits on a full FIFO, and a receiver on the rest of a
 * message, they look at the locks this often. */
#define FIFO_CHECK_NS    (20 * 1000000LL)
/* A sender that never has to wait still checks for receivers now and
 * then, so that it knows one was there if they all go. */
#define FIFO_PROBE_EVERY 256
/* How long a blocked sender that never saw a receiver waits with no other
 * channel on the FIFO before it gives up with -EPIPE. */
#define FIFO_ALONE_NS    (2000 * 1000000LL)

struct fifo_state {
	int fd;       /* owned: read-write, O_NONBLOCK, O_DIRECT */
	unsigned gen; /* forkgen_current() of the process fd belongs to */
	struct readyfd ready;
	uint32_t next_id; /* ids of long messages, from a random start */

	/* Sending.  out holds FIFO_OUT_PKTS packet slots; slots
	 * [out_done, out_n) wait to be written, the last of them open for
	 * more frames while out_open. */
	unsigned char *out; /* owned */
	size_t out_n, out_done;
	size_t out_cur; /* bytes used in slot out_n - 1 */
	bool out_open;
	bool seen_receiver;  /* a receiver has been seen since open */
	unsigned writes;     /* since the last receiver probe */
	int64_t alone_since; /* ns: first probe that found nobody, or 0 */
	int64_t probed;      /* ns: when a waiting sender last probed */

	/* Receiving. */
	bool receiver;  /* holds the shared RECEIVERS lock */
	bool reading;   /* holds the READER lock for a long message */
	bool starved;   /* packets come sparsely: poll before reading */
	unsigned tries; /* receives while starved */
	/* owned: FRAME_HDR + FIFO_PKT bytes; packets are read to in +
	 * FRAME_HDR, where their messages are handed out from, framed
	 * (a message alone in its packet gets a length written before it). */
	unsigned char *in;
	size_t in_off, in_len; /* unread frames are in[in_off, in_len) */
	unsigned char *msg;    /* owned: a long message, msg_cap bytes */
	size_t msg_cap;
	uint32_t msg_id, msg_len, msg_got;
	bool msg_on;      /* msg holds (part of) a message */
	long long budget; /* bytes left to find the rest in, or -1 */
};

static void
fifo_put_hdr(unsigned char *p, unsigned flags, size_t plen, uint32_t id,
             uint32_t arg)
{
	p[0] = FIFO_MAGIC;
	p[1] = (unsigned char)flags;
	p[2] = (unsigned char)(plen >> 8);
	p[3] = (unsigned char)plen;
	frame_put_len(p + 4, id);
	frame_put_len(p + 8, arg);
}

/* ---- locks ---- */

static int
fifo_lock(int fd, off_t byte, short type, int64_t deadline)
{
	struct flock fl = { .l_type = type,
		            .l_whence = SEEK_SET,
		            .l_start = byte,
		            .l_len = 1 };
	long backoff_ns = 20000;

	if (deadline == WAIT_FOREVER) {
		while (fcntl(fd, F_OFD_SETLKW, &fl) != 0)
			if (errno != EINTR)
				return -errno;
		return 0;
	}
	/* F_OFD_SETLKW has no timeout: try, and back off up to 2 ms. */
	for (;;) {
		struct timespec ts;
		int64_t left;

		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES)
			return -errno;
		left = deadline - wait_now_ns();
		if (left <= 0)
			return -ETIMEDOUT;
		if (left > backoff_ns)
			left = backoff_ns;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left;
		nanosleep(&ts, NULL);
		if (backoff_ns < 2000000)
			backoff_ns *= 2;
	}
}

static void
fifo_unlock(int fd, off_t byte)
{
	struct flock fl = { .l_type = F_UNLCK,
		            .l_whence = SEEK_SET,
		            .l_start = byte,
		            .l_len = 1 };

	(void)fcntl(fd, F_OFD_SETLK, &fl);
}

/* Does another open file description hold a lock on byte?  (Our own locks
 * never conflict with us, so they do not count.) */
static bool
fifo_held_by_other(int fd, off_t byte)
{
	struct flock fl = { .l_type = F_WRLCK,
		            .l_whence = SEEK_SET,
		            .l_start = byte,
		            .l_len = 1 };

	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return true; /* unknown: assume someone, never a false EPIPE */
	return fl.l_type != F_UNLCK;
}

/* Can anyone still drain the FIFO?  Notes receivers seen on the way. */
static bool
fifo_probe_receivers(struct fifo_state *st)
{
	st->writes = 0;
	if (fifo_held_by_other(st->fd, FIFO_LK_RECEIVERS)) {
		st->seen_receiver = true;
		st->alone_since = 0;
		return true;
	}
	if (st->seen_receiver)
		return false;
	if (fifo_held_by_other(st->fd, FIFO_LK_OPEN)) {
		st->alone_since = 0;
		return true;
	}
	if (st->alone_since == 0)
		st->alone_since = wait_now_ns();
	return wait_now_ns() - st->alone_since < FIFO_ALONE_NS;
}

static int
fifo_share(int fd, off_t byte)
{
	struct flock fl = { .l_type = F_RDLCK,
		            .l_whence = SEEK_SET,
		            .l_start = byte,
		            .l_len = 1 };

	return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
}

/* A channel becomes a receiver with its first receive or pollfd. */
static int
fifo_become_receiver(struct fifo_state *st)
{
	int err;

	if (st->receiver)
		return 0;
	err = fifo_share(st->fd, FIFO_LK_RECEIVERS);
	st->receiver = err == 0;
	return err;
}

/* Drop a long message that will never be finished. */
static void
fifo_drop(struct fifo_state *st)
{
	st->msg_on = false;
	st->budget = -1;
	if (st->msg_cap > (1u << 20)) {
		free(st->msg);
		st->msg = NULL;
		st->msg_cap = 0;
	}
}

/* ---- sending ---- */

/* Wait until the FIFO takes more, or the deadline passes, or -EPIPE when
 * the receivers this sender has seen are all gone. */
static int
fifo_wait_out(struct ipk_chan *ch, int64_t deadline)
{
	struct fifo_state *st = ipk_chan_state(ch);

	for (;;) {
		int64_t now = wait_now_ns(), step = now + FIFO_CHECK_NS;
		int w;

		/* The locks are looked at every FIFO_CHECK_NS, not on every
		 * wake-up of a sender that a slow receiver keeps waiting. */
		if (now - st->probed >= FIFO_CHECK_NS) {
			st->probed = now;
			if (!fifo_probe_receivers(st))
				return errdetail(
				        -EPIPE,
				        "%s is full and no receiver is "
				        "left to drain it",
				        ch->address);
		}
		if (deadline != WAIT_FOREVER && deadline < step)
			step = deadline;
		w = wait_fd(st->fd, POLLOUT, step);
		if (w > 0)
			return 0;
		if (w != -ETIMEDOUT)
			return w;
		if (step == deadline)
			return -ETIMEDOUT;
	}
}

static int
fifo_alloc_out(struct fifo_state *st)
{
	if (st->out == NULL) {
		st->out = malloc((size_t)FIFO_OUT_PKTS * FIFO_PKT);
		if (st->out == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* Close the open slot: its header gets the payload length and the rest of
 * the page is zeroed (it is written whole when more slots follow, and
 * must not carry old bytes of this process to other users). */
static void
fifo_close_slot(struct fifo_state *st)
{
	unsigned char *p = st->out + (st->out_n - 1) * FIFO_PKT;

	fifo_put_hdr(p, FIFO_BATCH, st->out_cur - FIFO_HDR, 0, 0);
	memset(p + st->out_cur, 0, FIFO_PKT - st->out_cur);
	st->out_open = false;
}

/*
 * Write the held packets.  Each but the last is a whole page, so one write
 * of consecutive slots makes one packet per slot.  0 when all went; else
 * -ETIMEDOUT (the rest stays), -EPIPE, -errno.
 */
static int
fifo_out_flush(struct ipk_chan *ch, int64_t deadline)
{
	struct fifo_state *st = ipk_chan_state(ch);

	while (st->out_done < st->out_n) {
		size_t last_len = st->out_open ? st->out_cur : FIFO_PKT;
		size_t count = st->out_n - st->out_done;
		size_t bytes = (count - 1) * FIFO_PKT + last_len;
		ssize_t n;
		int err;

		if (st->out_open)
			fifo_put_hdr(st->out + (st->out_n - 1) * FIFO_PKT,
			             FIFO_BATCH, st->out_cur - FIFO_HDR, 0, 0);
		n = write(st->fd, st->out + st->out_done * FIFO_PKT, bytes);
		if (n > 0) {
			if ((size_t)n == bytes) {
				st->out_n = st->out_done = st->out_cur = 0;
				st->out_open = false;
				break;
			}
			/* Packet mode writes whole packets or nothing. */
			if (n % FIFO_PKT != 0)
				return errdetail(-EIO,
				                 "%s: the kernel cut a packet",
				                 ch->address);
			/* A short write filled the FIFO: wait, rather than
			 * pay for a write that would say EAGAIN. */
			st->out_done += (size_t)n / FIFO_PKT;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno != EAGAIN) {
			return -errno;
		}
		if (wait_now_ns() >= deadline && deadline != WAIT_FOREVER) {
			/* Full: note whether receivers are there, so that a
			 * later wait knows when they have all gone. */
			fifo_probe_receivers(st);
			return -ETIMEDOUT;
		}
		err = fifo_wait_out(ch, deadline);
		if (err)
			return err;
	}
	if (++st->writes >= FIFO_PROBE_EVERY)
		fifo_probe_receivers(st);
	return 0;
}

/* A message that fits a packet joins the held batch. */
static ssize_t
fifo_send_small(struct ipk_chan *ch, const void *msg, size_t len, bool more,
                int64_t deadline)
{
	struct fifo_state *st = ipk_chan_state(ch);
	size_t need = FRAME_HDR + len, before;
	bool new_slot;
	int err;

	err = fifo_alloc_out(st);
	if (err)
		return err;
	if (st->out_open && st->out_cur + need > FIFO_PKT)
		fifo_close_slot(st);
	new_slot = !st->out_open;
	if (new_slot && st->out_n == FIFO_OUT_PKTS) {
		/* Every slot is taken: they go first. */
		err = fifo_out_flush(ch, deadline);
		if (err)
			return err;
	}
	if (new_slot) {
		st->out_n++;
		st->out_cur = FIFO_HDR;
		st->out_open = true;
	}
	before = st->out_cur;
	frame_put_len(st->out + (st->out_n - 1) * FIFO_PKT + st->out_cur,
	              (uint32_t)len);
	if (len)
		memcpy(st->out + (st->out_n - 1) * FIFO_PKT + st->out_cur +
		               FRAME_HDR,
		       msg, len);
	st->out_cur += need;
	if (more)
		return (ssize_t)len;
	err = fifo_out_flush(ch, deadline);
	if (err == 0)
		return (ssize_t)len;
	/* Not sent: take it back out of the batch unless its packet went. */
	if (st->out_done < st->out_n) {
		st->out_cur = before;
		if (new_slot) {
			st->out_n--;
			st->out_cur = 0;
			st->out_open = false;
		}
		if (st->out_done == st->out_n)
			st->out_n = st->out_done = 0;
	}
	return err;
}

/* A message of a page whose first byte is not the magic: a slot by itself,
 * with no header (the slot before it, if open, is closed). */
static ssize_t
fifo_send_whole(struct ipk_chan *ch, const void *msg, bool more,
                int64_t deadline)
{
	struct fifo_state *st = ipk_chan_state(ch);
	int err;

	err = fifo_alloc_out(st);
	if (err)
		return err;
	if (st->out_open)
		fifo_close_slot(st);
	if (st->out_n == FIFO_OUT_PKTS) {
		err = fifo_out_flush(ch, deadline);
		if (err)
			return err;
	}
	memcpy(st->out + st->out_n * FIFO_PKT, msg, FIFO_PKT);
	st->out_n++;
	if (more)
		return FIFO_PKT;
	err = fifo_out_flush(ch, deadline);
	if (err == 0)
		return FIFO_PKT;
	/* Not sent: slots go in order, so if ours is left, it is the last. */
	if (st->out_done < st->out_n && --st->out_n == st->out_done)
		st->out_n = st->out_done = 0;
	return err;
}

/* A message longer than a packet: FIRST, parts, LAST, under the WRITER
 * lock, a group of packets per write. */
static ssize_t
fifo_send_long(struct ipk_chan *ch, const unsigned char *msg, size_t len,
               int64_t deadline)
{
	struct fifo_state *st = ipk_chan_state(ch);
	unsigned char hdrs[FIFO_GROUP][FIFO_HDR];
	struct iovec iov[FIFO_GROUP * 2];
	uint32_t id = st->next_id++;
	size_t off = 0; /* message bytes written */
	int err;

	err = fifo_out_flush(ch, deadline);
	if (err)
		return err;
	/* One packet is atomic by itself; more need the WRITER lock. */
	if (len > FIFO_PAYLOAD) {
		err = fifo_lock(st->fd, FIFO_LK_WRITER, F_WRLCK, deadline);
		if (err)
			return err;
	}
	while (off < len) {
		size_t k = 0, bytes = 0, o = off;
		ssize_t n;

		for (; k < FIFO_GROUP && o < len; k++) {
			size_t plen =
			        len - o < FIFO_PAYLOAD ? len - o : FIFO_PAYLOAD;
			unsigned flags = o == 0 ? FIFO_FIRST : 0;

			if (o + plen == len)
				flags |= FIFO_LAST;
			fifo_put_hdr(hdrs[k], flags, plen, id,
			             o == 0 ? (uint32_t)len : (uint32_t)o);
			iov[2 * k] = (struct iovec){ hdrs[k], FIFO_HDR };
			iov[2 * k + 1] =
			        (struct iovec){ (void *)(uintptr_t)(msg + o),
				                plen };
			bytes += FIFO_HDR + plen;
			o += plen;
		}
		n = writev(st->fd, iov, (int)(2 * k));
		if (n > 0) {
			size_t whole = (size_t)n / FIFO_PKT;

			if ((size_t)n == bytes) {
				off = o;
				continue;
			}
			if (n % FIFO_PKT != 0) {
				err = errdetail(-EIO,
				                "%s: the kernel cut a packet",
				                ch->address);
				break;
			}
			off += whole * FIFO_PAYLOAD;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			err = -errno;
			break;
		}
		/* Given up half-way, the parts already out are dropped by
		 * the receiver once this lock is free. */
		err = fifo_wait_out(ch, deadline);
		if (err)
			break;
	}
	if (len > FIFO_PAYLOAD)
		fifo_unlock(st->fd, FIFO_LK_WRITER);
	return err ? err : (ssize_t)len;
}

/* Packet mode and the OPEN lock on a fresh descriptor. */
static int
fifo_setup(struct fifo_state *st)
{
	int fl = fcntl(st->fd, F_GETFL);

	if (fl < 0 || fcntl(st->fd, F_SETFL, fl | O_DIRECT) != 0)
		return errdetail(-errno,
		                 "fifo: packet mode (O_DIRECT) refused; it "
		                 "needs Linux 3.4 or later");
	return fifo_share(st->fd, FIFO_LK_OPEN);
}

/*
 * A channel inherited across fork() shares its open file description, and
 * so its locks, with the parent, which could then not tell the child from
 * itself.  The child takes a description of its own (through
 * /proc/self/fd, which reaches the FIFO even when its name is gone) and
 * leaves the messages the parent held or had read ahead to the parent.
 */
static int
fifo_check_fork(struct ipk_chan *ch)
{
	struct fifo_state *st = ipk_chan_state(ch);
	unsigned gen = forkgen_current();
	char proc[64];
	int fd, err;

	if (gen == st->gen)
		return 0;
	st->gen = gen;
	st->out_n = st->out_done = st->out_cur = 0;
	st->out_open = false;
	st->in_off = st->in_len = 0;
	fifo_drop(st);
	st->reading = st->receiver = false;
	readyfd_close(&st->ready);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", st->fd);
	fd = open(proc, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errdetail(-errno,
		                 "%s: cannot reopen the FIFO after fork() "
		                 "(%s): open the address again in the child",
		                 ch->address, strerror(errno));
	close(st->fd);
	st->fd = fd;
	err = fifo_setup(st);
	return err;
}

static ssize_t
fifo_send(struct ipk_chan *ch, const void *msg, size_t len,
          const struct ipk_msginfo *info, int timeout_ms)
{
	int64_t deadline = wait_deadline(timeout_ms);
	int err = fifo_check_fork(ch);

	if (err)
		return err;
	if (len <= FIFO_SMALL)
		return fifo_send_small(ch, msg, len, info->flags & IPK_MORE,
		                       deadline);
	if (len == FIFO_PKT && *(const unsigned char *)msg != FIFO_MAGIC)
		return fifo_send_whole(ch, msg, info->flags & IPK_MORE,
		                       deadline);
	return fifo_send_long(ch, msg, len, deadline);
}

static int
fifo_flush(struct ipk_chan *ch, int timeout_ms)
{
	int err = fifo_check_fork(ch);

	return err ? err : fifo_out_flush(ch, wait_deadline(timeout_ms));
}

/* ---- receiving ---- */

static bool
fifo_msg_ready(const struct fifo_state *st)
{
	return st->in_off < st->in_len ||
	       (st->msg_on && st->msg_got == st->msg_len);
}

static void
fifo_done_reading(struct fifo_state *st)
{
	if (st->reading && !(st->msg_on && st->msg_got < st->msg_len)) {
		fifo_unlock(st->fd, FIFO_LK_READER);
		st->reading = false;
	}
}

static int
fifo_bad_packet(struct ipk_chan *ch, const char *what)
{
	return errdetail(IPK_ECORRUPT, "%s: dropped a packet that %s",
	                 ch->address, what);
}

/* Is this packet a message by itself, with no header? */
static bool
fifo_is_whole(const unsigned char *p, size_t n)
{
	return n == FIFO_PKT && p[0] != FIFO_MAGIC;
}

/* Take in one packet, read to st->in + FRAME_HDR: its messages are handed
 * out from there, each behind a 4-byte length. */
static int
fifo_take(struct ipk_chan *ch, size_t n)
{
	struct fifo_state *st = ipk_chan_state(ch);
	unsigned char *p = st->in + FRAME_HDR;
	size_t plen;
	uint32_t id, arg;
	unsigned flags;

	if (st->budget >= 0)
		st->budget = st->budget > (long long)n
		                     ? st->budget - (long long)n
		                     : 0;
	if (fifo_is_whole(p, n)) {
		frame_put_len(st->in, FIFO_PKT);
		st->in_off = 0;
		st->in_len = FRAME_HDR + FIFO_PKT;
		return 0;
	}
	if (n < FIFO_HDR || p[0] != FIFO_MAGIC)
		return fifo_bad_packet(ch, "is not from ipckit");
	plen = (size_t)p[2] << 8 | p[3];
	flags = p[1];
	id = frame_get_len(p + 4);
	arg = frame_get_len(p + 8);
	if (FIFO_HDR + plen > n || plen > FIFO_PAYLOAD)
		return fifo_bad_packet(ch, "is cut short");
	if (flags > FIFO_BATCH || (flags & FIFO_BATCH && flags != FIFO_BATCH))
		return fifo_bad_packet(ch, "has unknown flags");
	if (flags == FIFO_BATCH) {
		st->in_off = FRAME_HDR + FIFO_HDR;
		st->in_len = st->in_off + plen;
		return 0;
	}
	if (flags == (FIFO_FIRST | FIFO_LAST)) {
		/* Whole in one packet, written without the WRITER lock: it
		 * may sit between the parts of another message, so it goes
		 * out as a batch of one and leaves that message be. */
		if (arg != plen)
			return fifo_bad_packet(ch, "announces a bad length");
		/* The length goes over the header's last bytes, read above. */
		st->in_off = FRAME_HDR + FIFO_HDR - FRAME_HDR;
		st->in_len = FRAME_HDR + FIFO_HDR + plen;
		frame_put_len(st->in + st->in_off, (uint32_t)plen);
		return 0;
	}
	if (flags == FIFO_FIRST) {
		/* A new long message: any earlier one was given up, since
		 * its writer let go of the WRITER lock. */
		if (arg > FIFO_MAX_MSG || arg <= plen) {
			fifo_drop(st);
			return fifo_bad_packet(ch, "announces a bad length");
		}
		if (st->msg_cap < arg) {
			unsigned char *m = malloc(arg);

			if (m == NULL) {
				fifo_drop(st);
				return -ENOMEM;
			}
			free(st->msg);
			st->msg = m;
			st->msg_cap = arg;
		}
		memcpy(st->msg, p + FIFO_HDR, plen);
		st->msg_id = id;
		st->msg_len = arg;
		st->msg_got = (uint32_t)plen;
		st->msg_on = true;
		st->budget = -1;
		return 0;
	}
	/* A later part: it must continue the message we hold, else it is
	 * what is left of one whose receiver died, or ours is torn. */
	if (!st->msg_on || st->msg_got == st->msg_len)
		return 0;
	if (id != st->msg_id || arg != st->msg_got ||
	    plen > st->msg_len - st->msg_got ||
	    ((flags & FIFO_LAST) != 0) != (st->msg_got + plen == st->msg_len)) {
		fifo_drop(st);
		return 0;
	}
	memcpy(st->msg + st->msg_got, p + FIFO_HDR, plen);
	st->msg_got += (uint32_t)plen;
	if (st->msg_got == st->msg_len)
		st->budget = -1;
	return 0;
}

/* Has the writer of our half-read message gone?  Once the WRITER lock is
 * free everything it wrote is in the FIFO: if none of what is there now
 * continues our message, nothing will. */
static void
fifo_check_torn(struct fifo_state *st)
{
	int queued = 0;

	if (st->budget >= 0 || fifo_held_by_other(st->fd, FIFO_LK_WRITER))
		return;
	if (ioctl(st->fd, FIONREAD, &queued) != 0)
		queued = 0;
	st->budget = queued;
}

/*
 * Read packets until a whole message is here: its length, or an error.
 * Holds the READER lock only while reading, or while a long message is
 * half here (the rest must come to us).
 */
static ssize_t
fifo_next(struct ipk_chan *ch, int64_t deadline)
{
	struct fifo_state *st = ipk_chan_state(ch);
	unsigned char *pkt;
	int err;

	err = fifo_check_fork(ch);
	if (err == 0)
		err = fifo_become_receiver(st);
	if (err)
		return err;
	if (st->in == NULL) {
		st->in = malloc(FRAME_HDR + FIFO_PKT);
		if (st->in == NULL)
			return -ENOMEM;
	}
	pkt = st->in + FRAME_HDR;
	for (;;) {
		bool partial = st->msg_on && st->msg_got < st->msg_len;
		bool polled;
		ssize_t n;

		if (st->in_off < st->in_len) {
			uint32_t len = frame_get_len(st->in + st->in_off);

			if (st->in_len - st->in_off < FRAME_HDR ||
			    len > st->in_len - st->in_off - FRAME_HDR) {
				st->in_off = st->in_len = 0;
				return fifo_bad_packet(ch,
				                       "holds a cut message");
			}
			return len;
		}
		if (st->msg_on && st->msg_got == st->msg_len)
			return st->msg_len;
		if (partial && st->budget == 0) {
			fifo_drop(st); /* torn: its sender is gone */
			fifo_done_reading(st);
			continue;
		}
		/* A read cannot tell whether more packets wait, so after
		 * one that found the FIFO empty the next receives poll first
		 * (every 16th tries without, to notice a busy FIFO again):
		 * that spares the lock, read and unlock that would only find
		 * nothing. */
		polled = false;
		if (!st->reading) {
			if (st->starved && ++st->tries % 16 != 0) {
				int w = wait_fd(st->fd, POLLIN, deadline);

				if (w < 0)
					return w;
				polled = true;
			}
			err = fifo_lock(st->fd, FIFO_LK_READER, F_WRLCK,
			                deadline);
			if (err)
				return err;
			st->reading = true;
		}
		n = read(st->fd, pkt, FIFO_PKT);
		if (n > 0) {
			bool whole = fifo_is_whole(pkt, (size_t)n) ||
			             (n >= FIFO_HDR &&
			              (pkt[1] == FIFO_BATCH ||
			               pkt[1] == (FIFO_FIRST | FIFO_LAST)));

			if (!polled)
				st->starved = false;
			err = fifo_take(ch, (size_t)n);
			/* A packet that is not a part, read while a message
			 * is half here: is the rest still coming? */
			if (st->msg_on && st->msg_got < st->msg_len && whole)
				fifo_check_torn(st);
			fifo_done_reading(st);
			if (err)
				return err;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN)
			return n == 0 ? -EIO : -errno;
		st->starved = true;
		if (partial) {
			int64_t step = wait_now_ns() + FIFO_CHECK_NS;

			/* Keep the lock: the rest of the message is ours.  If
			 * the writer was already gone when we counted what was
			 * queued, all of that is read now: torn. */
			if (st->budget >= 0) {
				st->budget = 0;
				continue;
			}
			fifo_check_torn(st);
			if (st->budget >= 0)
				continue;
			if (deadline != WAIT_FOREVER && deadline < step)
				step = deadline;
			n = wait_fd(st->fd, POLLIN, step);
			if (n < 0 && n != -ETIMEDOUT)
				return n;
			if (n == -ETIMEDOUT && step == deadline)
				return -ETIMEDOUT;
			continue;
		}
		fifo_done_reading(st);
		if (deadline != WAIT_FOREVER && wait_now_ns() >= deadline)
			return -ETIMEDOUT;
	}
}

static ssize_t
fifo_recv(struct ipk_chan *ch, void *buf, size_t cap, struct ipk_msginfo *info,
          int timeout_ms)
{
	struct fifo_state *st = ipk_chan_state(ch);
	ssize_t n = fifo_next(ch, wait_deadline(timeout_ms));

	info->type = 0;
	if (n >= 0 && cap < (size_t)n) {
		n = errdetail(-EMSGSIZE,
		              "%s: message of %zd bytes, buffer of %zu: it "
		              "stays queued for this receiver",
		              ch->address, n, cap);
	} else if (n >= 0 && st->in_off < st->in_len) {
		if (n)
			memcpy(buf, st->in + st->in_off + FRAME_HDR, (size_t)n);
		st->in_off += FRAME_HDR + (size_t)n;
	} else if (n >= 0) {
		if (n)
			memcpy(buf, st->msg, (size_t)n);
		fifo_drop(st);
	}
	readyfd_set(&st->ready, fifo_msg_ready(st));
	return n;
}

static ssize_t
fifo_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
               int timeout_ms)
{
	struct fifo_state *st = ipk_chan_state(ch);
	ssize_t n;

	(void)info;
	n = fifo_next(ch, wait_deadline(timeout_ms));
	readyfd_set(&st->ready, fifo_msg_ready(st));
	return n;
}

static int
fifo_pollfd(struct ipk_chan *ch)
{
	struct fifo_state *st = ipk_chan_state(ch);
	int err = fifo_check_fork(ch);

	if (err == 0)
		err = fifo_become_receiver(st);
	if (err)
		return err;
	return readyfd_get(&st->ready, st->fd, fifo_msg_ready(st));
}

static size_t
fifo_max_msg(const struct ipk_chan *ch)
{
	(void)ch;
	return FIFO_MAX_MSG;
}

/* ---- naming ---- */

static int
fifo_path(const struct ipk_addr *a)
{
	if (a->rest[0] == '\0')
		return errdetail(IPK_EADDR,
		                 "fifo: needs a path, such as fifo:/tmp/q");
	return 0;
}

static int
fifo_open(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags,
          int timeout_ms)
{
	struct fifo_state *st = ipk_chan_state(ch);
	const char *path = a->rest;
	uint64_t size;
	struct stat sb;
	bool created = false;
	uint32_t seed;
	int err, fl;

	(void)timeout_ms;
	st->fd = -1;
	readyfd_init(&st->ready);
	st->budget = -1;
	if (sysconf(_SC_PAGESIZE) != FIFO_PKT)
		return errdetail(
		        -ENOTSUP,
		        "fifo: packet mode splits writes into pages, "
		        "and this system's pages are not PIPE_BUF (%d) "
		        "bytes",
		        FIFO_PKT);
	err = fifo_path(a);
	if (err == 0)
		err = addr_opt_u64(a, "size", FIFO_PKT, 1u << 30,
		                   FIFO_SIZE_DEFAULT, true, &size);
	if (err == 0)
		err = addr_check_unused(a);
	if (err)
		return err;
	if (!(flags & IPK_NOCREATE)) {
		if (mkfifo(path, 0600) == 0)
			created = true;
		else if (errno != EEXIST)
			return errdetail(-errno, "fifo:%s: cannot create: %s",
			                 path, strerror(errno));
		else if (flags & IPK_EXCL)
			return errdetail(-EEXIST, "fifo:%s already exists",
			                 path);
	}
	/* Never open what is not a FIFO: a device could mind. */
	if (!created && stat(path, &sb) == 0 && !S_ISFIFO(sb.st_mode))
		return errdetail(-EINVAL, "fifo:%s exists and is not a FIFO",
		                 path);
	st->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (st->fd < 0) {
		err = errdetail(-errno, "fifo:%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(st->fd, &sb) != 0 || !S_ISFIFO(sb.st_mode)) {
		err = errdetail(-EINVAL, "fifo:%s is not a FIFO", path);
		goto fail;
	}
	if (created && fchmod(st->fd, a->mode) != 0) {
		err = -errno;
		goto fail;
	}
	err = fifo_setup(st);
	if (err)
		goto fail;
	st->gen = forkgen_current();
	/* A larger pipe holds more packets; where the user's pipe quota says
	 * no, the kernel's size stays. */
	fl = fcntl(st->fd, F_GETPIPE_SZ);
	if (fl >= 0 && (uint64_t)fl < size)
		(void)fcntl(st->fd, F_SETPIPE_SZ, (int)size);
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint32_t)getpid() * 2654435761u;
	st->next_id = seed;
	fifo_probe_receivers(st);
	if (created)
		fsname_add("fifo", path);
	return 0;
fail:
	if (st->fd >= 0)
		close(st->fd);
	if (created) /* never remove a FIFO someone else made */
		unlink(path);
	return err;
}

static void
fifo_close(struct ipk_chan *ch)
{
	struct fifo_state *st = ipk_chan_state(ch);

	/* Closing the descriptor releases every lock it held. */
	readyfd_close(&st->ready);
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	free(st->out);
	free(st->in);
	free(st->msg);
}

static int
fifo_list(ipk_list_fn *fn, void *arg)
{
	return fsname_list("fifo", S_IFIFO, fn, arg);
}

static int
fifo_unlink(struct ipk_addr *a)
{
	struct stat sb;
	int err = fifo_path(a);

	if (err)
		return err;
	if (lstat(a->rest, &sb) != 0)
		return -errno;
	if (!S_ISFIFO(sb.st_mode))
		return errdetail(-EINVAL, "fifo:%s is not a FIFO: not removed",
		                 a->rest);
	if (unlink(a->rest) != 0)
		return -errno;
	fsname_remove("fifo", a->rest);
	return 0;
}

static const char *const fifo_options[] = { "size", NULL };

const struct ipk_transport transport_fifo = {
	.scheme = "fifo",
	.summary = "named pipe queue: any number of senders and receivers",
	.caps = IPK_CAP_QUEUE | IPK_CAP_NAMED | IPK_CAP_PEER_DEATH |
	        IPK_CAP_TRANSIENT,
	.state_size = sizeof(struct fifo_state),
	.options = fifo_options,
	.open = fifo_open,
	.send = fifo_send,
	.recv = fifo_recv,
	.peek_size = fifo_peek_size,
	.flush = fifo_flush,
	.pollfd = fifo_pollfd,
	.max_msg = fifo_max_msg,
	.close = fifo_close,
	.list = fifo_list,
	.unlink = fifo_unlink,
};
