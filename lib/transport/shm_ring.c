// SPDX-License-Identifier: MIT
/* shm_ring.c - shm:NAME, a shared-memory ring queue in a POSIX shm object.
 * Records carry their own commit word; one sender and one receiver run
 * without locks (membarrier(2) lets a newcomer stop a lone user's lock-free
 * path), several take robust process-shared mutexes.  Liveness is an OFD
 * lock per user that the kernel drops on death.  docs/mechanisms/shm.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "fsname.h"
#include "shm_ring.h"
#include "transport.h"
#include "wait.h"

#define SHM_MAGIC    0x3130524b50495053ull /* "SPIPKR01" */
#define SHM_VERSION  2u
#define SHM_PREFIX   "ipk-shm." /* /dev/shm/ipk-shm.NAME */
#define SHM_DIR      "/dev/shm" /* where glibc's shm_open() puts names */
#define SHM_NAME_MAX 200
#define SHM_SLOTS    128 /* users of one ring at once */
#define SHM_LINE     128 /* two cache lines: the adjacent-line prefetcher */

#define SHM_CAP_MIN         ((uint64_t)4 << 10)
#define SHM_CAP_MAX         ((uint64_t)1 << 30)
#define SHM_CAP_DEFAULT     ((uint64_t)1 << 20)
#define SHM_SPIN_MAX_US     100000
#define SHM_SPIN_DEFAULT_US 50

/* Byte offsets of the OFD locks (far past the data, never read). */
#define SHM_LOCK_INIT ((off_t)1 << 40)
#define SHM_LOCK_SLOT (SHM_LOCK_INIT + 1)

/* Record header: stamp (position / 8) in the high half, so data left from
 * an earlier lap never passes for a commit; flags and length below. */
#define REC_COMMIT   (1u << 31)
#define REC_PAD      (1u << 30)
#define REC_LEN      (REC_PAD - 1)
#define REC_HDR      8u
#define SHM_NO_HOLD  UINT64_MAX
/* Holding commits back pays for small records, whose lines the receiver
 * would otherwise poll while the sender fills them; a large record is
 * better copied out at once. */
#define SHM_HOLD_MAX 4096

enum { ROLE_SEND = 0, ROLE_RECV = 1 };
/* A role's mode: nobody, everyone under the lock, EXCL0 + slot for a lone
 * lock-free user, KICK0 + slot while that user's last lock-free operation
 * may still be under way (everyone locks, and waits for it to end). */
enum {
	MODE_NONE = 0,
	MODE_SHARED = 1,
	MODE_EXCL0 = 2,
	MODE_KICK0 = MODE_EXCL0 + SHM_SLOTS,
};
enum { SLOT_FREE = 0, SLOT_USED = 1 };
enum { HDR_ELIDE = 1u << 1 }; /* lone users may skip the lock */

struct shm_slot {
	alignas(SHM_LINE) _Atomic uint32_t state; /* SLOT_*, under reg */
	_Atomic uint32_t roles;   /* 1 << ROLE_*, under that role's mutex */
	_Atomic uint32_t busy[2]; /* in a lock-free op of that role */
	uint32_t can_excl;        /* its process registered for membarrier */
	int32_t pid;
	uint64_t start; /* /proc start time of pid, for ipk_list */
	uint64_t gen;   /* bumped on every claim */
};

struct shm_hdr {
	/* Identity: written once by the creator, then read-only. */
	alignas(SHM_LINE) _Atomic uint64_t magic; /* stored last, release */
	uint32_t version;
	uint32_t flags; /* HDR_* */
	uint64_t capacity;
	uint64_t data_off;
	uint64_t size;
	uint64_t uuid; /* names the pollers' sockets */
	int32_t creator_pid;
	uint64_t creator_start;
	_Atomic uint32_t removed;  /* name unlinked: openers must retry */
	_Atomic uint32_t had_recv; /* a receiver ever joined */
	/* Sender side: exact position after the last written record, and
	 * the commit word a lone sender holds back while IPK_MORE says more
	 * follow (SHM_NO_HOLD when none): receivers stop there, off the
	 * lines the sender is still filling. */
	alignas(SHM_LINE) _Atomic uint64_t tail;
	_Atomic uint64_t held_pos;
	uint64_t held_word;
	/* Receiver side: exact position of the next record to take. */
	alignas(SHM_LINE) _Atomic uint64_t rhead;
	/* rhead as published to senders, in batches. */
	alignas(SHM_LINE) _Atomic uint64_t head;
	/* Read on every operation, written when users come and go. */
	alignas(SHM_LINE) _Atomic uint32_t mode[2];
	_Atomic uint32_t count[2];
	/* Who sleeps or polls, one bit per slot: read by wakers after a
	 * seq_cst fence (the Dekker pattern), so no waker makes a syscall
	 * for nobody. */
	alignas(SHM_LINE) _Atomic uint64_t recv_sleep[2];
	_Atomic uint64_t recv_armed[2];
	_Atomic uint64_t send_sleep[2];
	alignas(SHM_LINE) _Atomic uint32_t recv_futex;
	alignas(SHM_LINE) _Atomic uint32_t send_futex;
	alignas(SHM_LINE) pthread_mutex_t reg; /* slots' state */
	struct {
		alignas(SHM_LINE) pthread_mutex_t m; /* senders', receivers' */
	} role_mtx[2];
	struct shm_slot slots[SHM_SLOTS];
};

struct shm_state {
	int fd;              /* the object; its OFD holds our slot lock */
	struct shm_hdr *hdr; /* mapping of map_size bytes */
	unsigned char *data; /* the ring, capacity bytes */
	size_t map_size;
	uint64_t cap, mask, max_msg;
	uint64_t batch;      /* publish head after this many bytes */
	int slot;            /* our registry slot, -1 when none */
	unsigned roles;      /* 1 << ROLE_* joined */
	uint64_t head_cache; /* sender: a recent head, re-read when full */
	bool wake_pending;   /* IPK_MORE sends not yet announced */
	int64_t spin_max_ns;
	int64_t spin_ns[2];    /* adaptive budget per direction */
	unsigned sleeps[2];    /* consecutive waits that slept */
	int64_t last_check_ns; /* last look for dead receivers */
	int bell_rx;           /* our pollfd socket, -1 until ipk_pollfd() */
	int bell_tx;           /* unbound socket for ringing pollers, or -1 */
	unsigned fork_gen;     /* shm_fork_gen when the slot was claimed */
	char name[sizeof(SHM_PREFIX) + SHM_NAME_MAX + 1]; /* "/ipk-shm.N" */
};

/* Per process: set once. */
static pthread_once_t shm_once = PTHREAD_ONCE_INIT;
/* Registered for MEMBARRIER_CMD_GLOBAL_EXPEDITED: only such processes take
 * the lock-free path, and only they may skip a receiver's fence. */
static bool shm_registered;
static bool shm_expedited; /* the expedited command is there */
static uint64_t shm_start; /* our /proc start time */
static long shm_ncpu;
static _Atomic unsigned shm_fork_gen;

static void
shm_on_fork(void)
{
	atomic_fetch_add(&shm_fork_gen, 1);
}

static void
shm_proc_init(void)
{
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (q > 0) {
		shm_expedited = q & MEMBARRIER_CMD_GLOBAL_EXPEDITED;
		/* Only registered processes receive the expedited barrier;
		 * others never take the lock-free path. */
		if (shm_expedited &&
		    (q & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
			shm_registered =
			        syscall(SYS_membarrier,
			                MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
			                0, 0) == 0;
	}
	shm_start = fsname_start_time(getpid());
	shm_ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_atfork(NULL, NULL, shm_on_fork);
}

/* A full barrier on every CPU running a user of the ring. */
static int
shm_barrier(void)
{
	if (shm_expedited &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0)
		return 0;
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return 0;
	return -errno;
}

static inline void
shm_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

static long
shm_futex(_Atomic uint32_t *w, int op, uint32_t val, int64_t ns)
{
	struct timespec ts, *tp = NULL;

	if (ns >= 0) {
		ts.tv_sec = ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		tp = &ts;
	}
	/* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. */
	return syscall(SYS_futex, w, op, val, tp, NULL, 0);
}

/* ---- records ---- */

static inline uint64_t
rec_size(uint64_t len)
{
	return REC_HDR + ((len + 7) & ~(uint64_t)7);
}

static inline _Atomic uint64_t *
rec_hdr(struct shm_state *st, uint64_t pos)
{
	return (_Atomic uint64_t *)(void *)(st->data + (pos & st->mask));
}

static inline uint64_t
rec_word(uint64_t pos, uint32_t bits)
{
	return ((uint64_t)(uint32_t)(pos >> 3) << 32) | REC_COMMIT | bits;
}

static inline bool
rec_committed(uint64_t w, uint64_t pos)
{
	return (w & REC_COMMIT) && (uint32_t)(w >> 32) == (uint32_t)(pos >> 3);
}

/* Bytes a record of len needs at tail t: a pad to the end when it would
 * not fit before it, the record, and the next (zeroed) header. */
static inline uint64_t
shm_need(const struct shm_state *st, uint64_t t, uint64_t len)
{
	uint64_t rec = rec_size(len), off = t & st->mask;

	return (off + rec > st->cap ? st->cap - off : 0) + rec + REC_HDR;
}

/* ---- liveness: an OFD write lock per slot, dropped by the kernel ---- */

static int
shm_lock_byte(int fd, off_t at, short type)
{
	struct flock fl = {
		.l_type = type, .l_whence = SEEK_SET, .l_start = at, .l_len = 1
	};

	return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
}

static bool
shm_byte_locked(int fd, off_t at)
{
	struct flock fl = { .l_type = F_WRLCK,
		            .l_whence = SEEK_SET,
		            .l_start = at,
		            .l_len = 1 };

	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return true; /* cannot tell: never declare a user dead */
	return fl.l_type != F_UNLCK;
}

static bool
shm_slot_alive(struct shm_state *st, int i)
{
	if (i == st->slot)
		return true;
	if (atomic_load(&st->hdr->slots[i].state) != SLOT_USED)
		return false;
	return shm_byte_locked(st->fd, SHM_LOCK_SLOT + i);
}

static void
mask_set(_Atomic uint64_t *m, int i)
{
	atomic_fetch_or(&m[i / 64], (uint64_t)1 << (i % 64));
}

static void
mask_clear(_Atomic uint64_t *m, int i)
{
	atomic_fetch_and(&m[i / 64], ~((uint64_t)1 << (i % 64)));
}

static inline bool
mask_any(_Atomic uint64_t *m)
{
	return (atomic_load_explicit(&m[0], memory_order_relaxed) |
	        atomic_load_explicit(&m[1], memory_order_relaxed)) != 0;
}

/* ---- robust mutexes ---- */

static void shm_repair(struct shm_state *st, int role);
static void shm_settle(struct shm_state *st, int role);

static int
shm_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int e;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	e = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -e;
}

/* Lock m by deadline.  A holder that died (EOWNERDEAD) left its structure
 * half-changed: role locks repair the ring, the registry needs nothing
 * (its slots are judged by their OFD locks). */
static int
shm_lock(struct shm_state *st, pthread_mutex_t *m, int role, int64_t deadline)
{
	int e;

	if (deadline == WAIT_FOREVER) {
		e = pthread_mutex_lock(m);
	} else {
		struct timespec ts = { deadline / 1000000000,
			               deadline % 1000000000 };

		e = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
	}
	if (e == EOWNERDEAD) {
		if (role >= 0) {
			shm_repair(st, role);
			shm_settle(st, role);
		}
		pthread_mutex_consistent(m);
		e = 0;
	}
	if (e == ETIMEDOUT)
		return -ETIMEDOUT;
	if (e == ENOTRECOVERABLE)
		return errdetail(IPK_ECORRUPT,
		                 "%s: a lock of the ring is "
		                 "unrecoverable; ipckit rm it",
		                 st->name + 1);
	return -e;
}

static int
shm_role_lock(struct shm_state *st, int role, int64_t deadline)
{
	return shm_lock(st, &st->hdr->role_mtx[role].m, role, deadline);
}

static void
shm_role_unlock(struct shm_state *st, int role)
{
	pthread_mutex_unlock(&st->hdr->role_mtx[role].m);
}

/* ---- roles: who sends, who receives, and who may skip the lock ---- */

/* Publish a held-back commit word.  By the lone sender inside its
 * operation, or by whoever took its place once it was out of one. */
static void
shm_release(struct shm_state *st)
{
	struct shm_hdr *h = st->hdr;
	uint64_t p = atomic_load_explicit(&h->held_pos, memory_order_relaxed);

	if (p == SHM_NO_HOLD)
		return;
	atomic_store_explicit(rec_hdr(st, p), h->held_word,
	                      memory_order_release);
	atomic_store_explicit(&h->held_pos, SHM_NO_HOLD, memory_order_relaxed);
}

/* A dead writer may have held a commit back, committed a record without
 * moving tail, or died mid-record (its header stays zero): publish the
 * held word and walk tail over what is committed.  Caller holds the send
 * lock or replaced the dead holder. */
static void
shm_repair(struct shm_state *st, int role)
{
	struct shm_hdr *h = st->hdr;
	uint64_t t, w;

	if (role != ROLE_SEND)
		return; /* rhead is exact: a dead receiver's message stays */
	shm_release(st);
	t = atomic_load(&h->tail);
	for (uint64_t n = 0; n < st->cap / REC_HDR; n++) {
		w = atomic_load_explicit(rec_hdr(st, t), memory_order_acquire);
		if (!rec_committed(w, t))
			break;
		t += (w & REC_PAD) ? (w & REC_LEN) : rec_size(w & REC_LEN);
	}
	atomic_store_explicit(&h->tail, t, memory_order_release);
}

/* Wait until the user being kicked (mode KICK0 + x) is out of its last
 * lock-free operation, or dead; then the mode is SHARED.  Its operations
 * never wait inside, so this is short unless x is stopped (SIGSTOP, a
 * debugger): then it is bounded by the caller's deadline.  Caller holds
 * the role's lock. */
static int
shm_finish_kick(struct shm_state *st, int role, int64_t deadline)
{
	struct shm_hdr *h = st->hdr;
	uint32_t mode = atomic_load(&h->mode[role]);
	int x;

	if (mode < MODE_KICK0)
		return 0;
	x = (int)(mode - MODE_KICK0);
	for (unsigned n = 0; atomic_load_explicit(&h->slots[x].busy[role],
	                                          memory_order_acquire);
	     n++) {
		if (n % 64 == 63 && !shm_slot_alive(st, x)) {
			shm_repair(st, role);
			break;
		}
		if (n > 1000 && wait_now_ns() >= deadline)
			return errdetail(
			        -ETIMEDOUT,
			        "%s: a lone %s (pid %d) stopped in the "
			        "middle of an operation",
			        st->name + 1,
			        role == ROLE_SEND ? "sender" : "receiver",
			        (int)h->slots[x].pid);
		if (n < 1000)
			sched_yield();
		else
			usleep(n < 2000 ? 50 : 1000);
	}
	/* Out of its operation: what it held back is ours to publish. */
	if (role == ROLE_SEND)
		shm_release(st);
	atomic_store(&h->mode[role], MODE_SHARED);
	return 0;
}

/* Stop slot x's lock-free path: after the barrier, x's next operation sees
 * KICK and locks, and one already under way shows in its busy flag.
 * Caller holds the role's lock. */
static int
shm_kick(struct shm_state *st, int role, int x, int64_t deadline)
{
	struct shm_hdr *h = st->hdr;

	atomic_store_explicit(&h->mode[role], MODE_KICK0 + (uint32_t)x,
	                      memory_order_seq_cst);
	if (x != st->slot && shm_barrier() != 0) {
		atomic_store(&h->mode[role], MODE_EXCL0 + (uint32_t)x);
		return errdetail(
		        -ENOTSUP,
		        "%s: membarrier(2) is refused, so this process "
		        "cannot join a ring used by a lone %s",
		        st->name + 1,
		        role == ROLE_SEND ? "sender" : "receiver");
	}
	return shm_finish_kick(st, role, deadline);
}

/* Recount a role's users from the slots, drop the dead, and pick its mode.
 * Caller holds that role's lock. */
static void
shm_settle(struct shm_state *st, int role)
{
	struct shm_hdr *h = st->hdr;
	uint32_t mode = atomic_load(&h->mode[role]);
	unsigned n = 0;
	int last = -1;

	for (int i = 0; i < SHM_SLOTS; i++) {
		struct shm_slot *s = &h->slots[i];

		if (!(atomic_load(&s->roles) & (1u << role)))
			continue;
		if (shm_slot_alive(st, i)) {
			n++;
			last = i;
			continue;
		}
		atomic_fetch_and(&s->roles, ~(1u << role));
		if (role == ROLE_RECV) {
			mask_clear(h->recv_sleep, i);
			mask_clear(h->recv_armed, i);
		} else {
			mask_clear(h->send_sleep, i);
		}
		if (mode == MODE_EXCL0 + (uint32_t)i ||
		    mode == MODE_KICK0 + (uint32_t)i) {
			shm_repair(st, role);
			mode = MODE_SHARED;
			atomic_store(&h->mode[role], mode);
		}
	}
	atomic_store(&h->count[role], n);
	if (n == 0) {
		atomic_store(&h->mode[role], MODE_NONE);
	} else if (n == 1) {
		/* The lone user is not inside an operation: those in shared
		 * mode hold this lock, which we have. */
		if ((h->flags & HDR_ELIDE) && h->slots[last].can_excl)
			atomic_store_explicit(&h->mode[role],
			                      MODE_EXCL0 + (uint32_t)last,
			                      memory_order_release);
		else
			atomic_store(&h->mode[role], MODE_SHARED);
	} else if (mode >= MODE_KICK0) {
		/* Still kicking: operations finish it, under this lock. */
	} else if (mode >= MODE_EXCL0) {
		(void)shm_kick(st, role, (int)(mode - MODE_EXCL0), 0);
	} else {
		atomic_store(&h->mode[role], MODE_SHARED);
	}
}

static int
shm_join(struct shm_state *st, int role, int64_t deadline)
{
	struct shm_hdr *h = st->hdr;
	uint32_t mode;
	int err;

	err = shm_role_lock(st, role, deadline);
	if (err)
		return err;
	atomic_fetch_or(&h->slots[st->slot].roles, 1u << role);
	if (role == ROLE_RECV)
		atomic_store(&h->had_recv, 1);
	mode = atomic_load(&h->mode[role]);
	/* A lone user elsewhere must leave its lock-free path first. */
	if (mode >= MODE_EXCL0 && mode < MODE_KICK0 &&
	    mode != MODE_EXCL0 + (uint32_t)st->slot &&
	    shm_slot_alive(st, (int)(mode - MODE_EXCL0))) {
		err = shm_kick(st, role, (int)(mode - MODE_EXCL0), deadline);
		if (err) {
			atomic_fetch_and(&h->slots[st->slot].roles,
			                 ~(1u << role));
			shm_role_unlock(st, role);
			return err;
		}
	}
	shm_settle(st, role);
	shm_role_unlock(st, role);
	st->roles |= 1u << role;
	if (role == ROLE_SEND)
		st->head_cache = atomic_load(&h->head);
	return 0;
}

static void
shm_leave(struct shm_state *st, int role)
{
	struct shm_hdr *h = st->hdr;

	if (!(st->roles & (1u << role)))
		return;
	/* Bounded: a user stopped with the lock must not hang our close;
	 * then our slot is reaped as a dead one's would be. */
	if (shm_role_lock(st, role, wait_deadline(2000)) != 0)
		return;
	atomic_fetch_and(&h->slots[st->slot].roles, ~(1u << role));
	shm_settle(st, role);
	shm_role_unlock(st, role);
	st->roles &= ~(1u << role);
}

/* The clock is read only once a call must wait: the fast path never
 * needs it.  *dl is 0 until then. */
static int64_t
shm_deadline(int timeout_ms, int64_t *dl)
{
	if (*dl == 0)
		*dl = wait_deadline(timeout_ms);
	return *dl;
}

/* Enter an operation of a role: lock-free when we are its lone user,
 * else under its lock.  Returns 1 for lock-free, 0 locked, or -errno. */
static inline int
shm_enter(struct shm_state *st, int role, int timeout_ms, int64_t *dl)
{
	struct shm_hdr *h = st->hdr;
	_Atomic uint32_t *busy = &h->slots[st->slot].busy[role];
	uint32_t mode;
	int err;

	atomic_store_explicit(busy, 1, memory_order_relaxed);
	/* Only the compiler must keep this order: shm_kick()'s membarrier
	 * supplies the CPU's fence (asymmetric Dekker). */
	atomic_signal_fence(memory_order_seq_cst);
	mode = atomic_load_explicit(&h->mode[role], memory_order_acquire);
	if (mode == MODE_EXCL0 + (uint32_t)st->slot)
		return 1;
	atomic_store_explicit(busy, 0, memory_order_release);
	err = shm_role_lock(st, role, shm_deadline(timeout_ms, dl));
	if (err)
		return err;
	/* A lone user being kicked may still be inside its operation. */
	err = shm_finish_kick(st, role, *dl);
	if (err)
		shm_role_unlock(st, role);
	return err;
}

static inline void
shm_exit(struct shm_state *st, int role, int how)
{
	if (how == 1)
		atomic_store_explicit(&st->hdr->slots[st->slot].busy[role], 0,
		                      memory_order_release);
	else
		shm_role_unlock(st, role);
}

/* ---- waking ---- */

/* The abstract AF_UNIX name of slot i's pollfd socket. */
static socklen_t
shm_bell_addr(const struct shm_state *st, int i, struct sockaddr_un *sa)
{
	int n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
	                 "ipk-shm.%016llx.%d",
	                 (unsigned long long)st->hdr->uuid, i);

	sa->sun_path[0] = '\0';
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	                   (size_t)n);
}

static void
shm_ring_bells(struct shm_state *st)
{
	struct shm_hdr *h = st->hdr;

	for (int w = 0; w < 2; w++) {
		uint64_t m = atomic_load(&h->recv_armed[w]);

		while (m) {
			int i = w * 64 + __builtin_ctzll(m);
			uint64_t bit = (uint64_t)1 << (i % 64);
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			socklen_t len;

			m &= m - 1;
			if (!(atomic_fetch_and(&h->recv_armed[w], ~bit) & bit))
				continue; /* someone else rang it */
			if (st->bell_tx < 0)
				st->bell_tx = socket(AF_UNIX,
				                     SOCK_DGRAM | SOCK_CLOEXEC |
				                             SOCK_NONBLOCK,
				                     0);
			if (st->bell_tx < 0)
				continue;
			len = shm_bell_addr(st, i, &sa);
			/* A full socket is readable already; a gone poller
			 * needs nothing. */
			(void)sendto(st->bell_tx, "!", 1, MSG_DONTWAIT,
			             (struct sockaddr *)&sa, len);
		}
	}
}

/* After records were committed: wake receivers that announced sleep. */
static inline void
shm_wake_receivers(struct shm_state *st)
{
	struct shm_hdr *h = st->hdr;

	st->wake_pending = false;
	atomic_thread_fence(memory_order_seq_cst);
	if (mask_any(h->recv_sleep)) {
		atomic_fetch_add(&h->recv_futex, 1);
		shm_futex(&h->recv_futex, FUTEX_WAKE, INT_MAX, -1);
	}
	if (mask_any(h->recv_armed))
		shm_ring_bells(st);
}

/* End an IPK_MORE batch: publish what is held back, wake receivers. */
static void
shm_unhold(struct shm_state *st, int64_t deadline)
{
	int64_t dl = deadline;
	int how = shm_enter(st, ROLE_SEND, -1, &dl);

	if (how >= 0) {
		shm_release(st);
		shm_exit(st, ROLE_SEND, how);
	}
	shm_wake_receivers(st);
}

/* Give consumed space back to senders, waking the ones asleep. */
static void
shm_publish_head(struct shm_state *st, uint64_t rhead)
{
	struct shm_hdr *h = st->hdr;

	atomic_store_explicit(&h->head, rhead, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (mask_any(h->send_sleep)) {
		atomic_fetch_add(&h->send_futex, 1);
		shm_futex(&h->send_futex, FUTEX_WAKE, INT_MAX, -1);
	}
}

/* ---- the ring operations proper (lock-free or under the role lock) ---- */

/* Store a commit word, or hold it back as the first of a batch. */
static inline void
shm_commit(struct shm_state *st, uint64_t pos, uint64_t word, bool hold)
{
	struct shm_hdr *h = st->hdr;

	if (hold && atomic_load_explicit(&h->held_pos, memory_order_relaxed) ==
	                    SHM_NO_HOLD) {
		h->held_word = word;
		atomic_store_explicit(&h->held_pos, pos, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(rec_hdr(st, pos), word, memory_order_release);
}

/* Write one record; -EAGAIN when it does not fit now.  hold: the lone
 * sender may hold the batch's first commit back (IPK_MORE). */
static int
shm_put(struct shm_state *st, const void *msg, size_t len, bool hold)
{
	struct shm_hdr *h = st->hdr;
	uint64_t t = atomic_load_explicit(&h->tail, memory_order_relaxed);
	uint64_t rec = rec_size(len), off = t & st->mask;
	uint64_t pad = off + rec > st->cap ? st->cap - off : 0;
	uint64_t need = shm_need(st, t, len);

	if (t + need - st->head_cache > st->cap) {
		st->head_cache =
		        atomic_load_explicit(&h->head, memory_order_acquire);
		if (t + need - st->head_cache > st->cap)
			return -EAGAIN;
	}
	if (pad) {
		/* Readers follow the pad to offset 0: zero it first. */
		atomic_store_explicit(rec_hdr(st, t + pad), 0,
		                      memory_order_relaxed);
		shm_commit(st, t, rec_word(t, REC_PAD | (uint32_t)pad), hold);
		t += pad;
		off = 0;
	}
	if (len)
		memcpy(st->data + off + REC_HDR, msg, len);
	/* The header after ours reads "not yet" until someone commits it. */
	atomic_store_explicit(rec_hdr(st, t + rec), 0, memory_order_relaxed);
	shm_commit(st, t, rec_word(t, (uint32_t)len), hold);
	atomic_store_explicit(&h->tail, t + rec, memory_order_release);
	return 0;
}

/* Look at (and with buf, take) the next message: its length, -EAGAIN when
 * there is none, -EMSGSIZE when cap is too small (kept). */
static ssize_t
shm_get(struct shm_state *st, void *buf, size_t cap, bool take)
{
	struct shm_hdr *h = st->hdr;
	uint64_t r = atomic_load_explicit(&h->rhead, memory_order_relaxed);

	for (;;) {
		uint64_t w = atomic_load_explicit(rec_hdr(st, r),
		                                  memory_order_acquire);
		uint64_t off = r & st->mask, len = w & REC_LEN;

		if (!rec_committed(w, r)) {
			if (w != 0 && (w & REC_COMMIT))
				goto corrupt;
			/* Empty: hand back what we consumed before waiting. */
			if (atomic_load_explicit(&h->head,
			                         memory_order_relaxed) != r)
				shm_publish_head(st, r);
			return -EAGAIN;
		}
		if (w & REC_PAD) {
			if (off + len != st->cap)
				goto corrupt;
			r += len;
			atomic_store_explicit(&h->rhead, r,
			                      memory_order_release);
			continue;
		}
		if (len > st->max_msg || off + rec_size(len) > st->cap)
			goto corrupt;
		if (!take)
			return (ssize_t)len;
		if (len > cap)
			return errdetail(-EMSGSIZE,
			                 "%s: next message has %llu bytes, the "
			                 "buffer %zu (it stays queued)",
			                 st->name + 1, (unsigned long long)len,
			                 cap);
		if (len)
			memcpy(buf, st->data + off + REC_HDR, len);
		r += rec_size(len);
		atomic_store_explicit(&h->rhead, r, memory_order_release);
		/* A sender about to sleep reads rhead after a membarrier that
		 * reaches registered processes; the others fence here. */
		if (shm_registered)
			atomic_signal_fence(memory_order_seq_cst);
		else
			atomic_thread_fence(memory_order_seq_cst);
		if (r - atomic_load_explicit(&h->head, memory_order_relaxed) >=
		            st->batch ||
		    mask_any(h->send_sleep))
			shm_publish_head(st, r);
		return (ssize_t)len;
	}
corrupt:
	return errdetail(IPK_ECORRUPT,
	                 "%s: malformed record at position %llu; a writer "
	                 "broke the ring (ipckit rm it)",
	                 st->name + 1, (unsigned long long)r);
}

/* ---- waiting: bounded adaptive spin, then a futex sleep ---- */

static bool
shm_can_take(struct shm_state *st)
{
	uint64_t r =
	        atomic_load_explicit(&st->hdr->rhead, memory_order_acquire);

	return rec_committed(
	        atomic_load_explicit(rec_hdr(st, r), memory_order_acquire), r);
}

/* Room for len bytes?  Spinning reads the batched head; a sender about
 * to sleep reads the exact rhead, which a receiver that took a message
 * and went quiet has not published. */
static bool
shm_can_put(struct shm_state *st, uint64_t len, bool exact)
{
	uint64_t t = atomic_load_explicit(&st->hdr->tail, memory_order_relaxed);
	uint64_t need = shm_need(st, t, len);

	st->head_cache = atomic_load_explicit(
	        exact ? &st->hdr->rhead : &st->hdr->head, memory_order_acquire);
	return t + need - st->head_cache <= st->cap;
}

static bool
shm_ready(struct shm_state *st, int dir, uint64_t need, bool exact)
{
	return dir == ROLE_RECV ? shm_can_take(st)
	                        : shm_can_put(st, need, exact);
}

/* Senders blocked on a full ring: are all receivers gone? */
static bool
shm_receivers_gone(struct shm_state *st, bool check)
{
	struct shm_hdr *h = st->hdr;

	if (!atomic_load(&h->had_recv))
		return false;
	if (check && atomic_load(&h->count[ROLE_RECV]) > 0 &&
	    wait_now_ns() - st->last_check_ns >= 100000000 &&
	    shm_role_lock(st, ROLE_RECV, wait_now_ns() + 100000000) == 0) {
		st->last_check_ns = wait_now_ns();
		shm_settle(st, ROLE_RECV);
		shm_role_unlock(st, ROLE_RECV);
	}
	return atomic_load(&h->count[ROLE_RECV]) == 0;
}

/* Spin while it pays, adaptively: full budget after a spin that worked,
 * halved after each sleep, re-probed now and then. */
static bool
shm_spin(struct shm_state *st, int dir, uint64_t need, int64_t deadline)
{
	int64_t budget = st->spin_ns[dir], t0, now;

	if (budget <= 0)
		return false;
	t0 = wait_now_ns();
	for (unsigned i = 1;; i++) {
		if (shm_ready(st, dir, need, false)) {
			st->spin_ns[dir] = st->spin_max_ns;
			st->sleeps[dir] = 0;
			return true;
		}
		shm_pause();
		if (i % 32)
			continue;
		now = wait_now_ns();
		if (now - t0 >= budget || now >= deadline)
			return false;
		/* The second half yields, so a peer on our core can run. */
		if (now - t0 > budget / 2)
			sched_yield();
	}
}

static void
shm_spin_slept(struct shm_state *st, int dir)
{
	st->spin_ns[dir] /= 2;
	if (st->spin_ns[dir] < 1000)
		st->spin_ns[dir] = 0;
	if (++st->sleeps[dir] % 64 == 0)
		st->spin_ns[dir] = st->spin_max_ns / 4;
}

/* Wait until the ring may have a message (ROLE_RECV) or room for a
 * message of need bytes (ROLE_SEND).  0: try again; -ETIMEDOUT; -EPIPE
 * (senders). */
static int
shm_wait(struct shm_state *st, int dir, uint64_t need, int64_t deadline)
{
	struct shm_hdr *h = st->hdr;
	_Atomic uint64_t *mask =
	        dir == ROLE_RECV ? h->recv_sleep : h->send_sleep;
	_Atomic uint32_t *word =
	        dir == ROLE_RECV ? &h->recv_futex : &h->send_futex;
	/* Senders look for dead receivers this often; receivers re-check
	 * for a wake-up lost with a writer that died. */
	int64_t chunk = dir == ROLE_RECV ? 1000000000 : 100000000;
	int64_t now, left;
	uint32_t v;
	long r;

	if (st->wake_pending)
		shm_unhold(st, deadline);
	if (shm_spin(st, dir, need, deadline))
		return 0;
	if (dir == ROLE_SEND && shm_receivers_gone(st, true))
		return -EPIPE;
	now = wait_now_ns();
	if (now >= deadline)
		return -ETIMEDOUT;
	left = deadline == WAIT_FOREVER ? chunk : deadline - now;
	mask_set(mask, st->slot); /* seq_cst RMW: our half of Dekker */
	v = atomic_load(word);
	/* Receivers store rhead without a fence: this barrier is theirs. */
	if (dir == ROLE_SEND)
		(void)shm_barrier();
	if (shm_ready(st, dir, need, true)) {
		mask_clear(mask, st->slot);
		return 0;
	}
	r = shm_futex(word, FUTEX_WAIT, v, left < chunk ? left : chunk);
	mask_clear(mask, st->slot);
	if (r != 0 && errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
		return -errno;
	shm_spin_slept(st, dir);
	return 0;
}

/* ---- fork: an inherited channel becomes a user of its own ---- */

static int shm_claim(struct shm_state *st, int64_t deadline);

static int
shm_check_fork(struct shm_state *st)
{
	char path[64];
	int fd;

	if (st->fork_gen ==
	    atomic_load_explicit(&shm_fork_gen, memory_order_relaxed))
		return 0;
	/* The parent's slot, roles and sockets are the parent's.  A new open
	 * file description gets our own OFD locks. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", st->fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		/* No /proc: the name, if it still leads to our object. */
		struct stat a, b;

		fd = shm_open(st->name, O_RDWR, 0);
		if (fd >= 0 && (fstat(fd, &a) != 0 || fstat(st->fd, &b) != 0 ||
		                a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
			close(fd);
			fd = -1;
		}
		if (fd < 0)
			return errdetail(-ESTALE,
			                 "%s: a channel inherited by fork() "
			                 "needs /proc or the ring's name to "
			                 "reopen it",
			                 st->name + 1);
	}
	close(st->fd);
	st->fd = fd;
	if (st->bell_rx >= 0)
		close(st->bell_rx);
	if (st->bell_tx >= 0)
		close(st->bell_tx);
	st->bell_rx = st->bell_tx = -1;
	st->slot = -1;
	st->roles = 0;
	st->wake_pending = false;
	return shm_claim(st, wait_deadline(5000));
}

/* ---- transport ops ---- */

/* Every operation starts here: a forked child's channel becomes a user of
 * its own, and a channel takes a role with its first use of it. */
static int
shm_begin(struct shm_state *st, int role, int timeout_ms, int64_t *dl)
{
	int err = shm_check_fork(st);

	if (err || (st->roles & (1u << role)))
		return err;
	return shm_join(st, role, shm_deadline(timeout_ms, dl));
}

static ssize_t
shm_send(struct ipk_chan *ch, const void *msg, size_t len,
         const struct ipk_msginfo *info, int timeout_ms)
{
	struct shm_state *st = ipk_chan_state(ch);
	bool more = info->flags & IPK_MORE;
	int64_t dl = 0;
	int how, err;

	err = shm_begin(st, ROLE_SEND, timeout_ms, &dl);
	if (err)
		return err;
	for (;;) {
		uint64_t held;

		how = shm_enter(st, ROLE_SEND, timeout_ms, &dl);
		if (how < 0)
			return how;
		/* Batched publication: alone, hold the first commit of an
		 * IPK_MORE batch back until its end (or cap/8 bytes on). */
		err = shm_put(st, msg, len,
		              more && how == 1 && len <= SHM_HOLD_MAX);
		held = atomic_load_explicit(&st->hdr->held_pos,
		                            memory_order_relaxed);
		if (held != SHM_NO_HOLD &&
		    (!more || how != 1 || err ||
		     atomic_load_explicit(&st->hdr->tail,
		                          memory_order_relaxed) -
		                     held >=
		             st->batch))
			shm_release(st);
		shm_exit(st, ROLE_SEND, how);
		if (err == 0)
			break;
		if (timeout_ms == 0) {
			if (st->wake_pending)
				shm_wake_receivers(st);
			return shm_receivers_gone(st, false) ? -EPIPE
			                                     : -ETIMEDOUT;
		}
		err = shm_wait(st, ROLE_SEND, len,
		               shm_deadline(timeout_ms, &dl));
		if (err)
			return err;
	}
	if (more)
		st->wake_pending = true;
	else
		shm_wake_receivers(st);
	return (ssize_t)len;
}

static void
shm_arm_bell(struct shm_state *st)
{
	char sink[64];

	while (recv(st->bell_rx, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	mask_set(st->hdr->recv_armed, st->slot);
	if (shm_can_take(st)) /* raced with a sender: ring it ourselves */
		shm_ring_bells(st);
}

static ssize_t
shm_take(struct ipk_chan *ch, void *buf, size_t cap, bool take, int timeout_ms)
{
	struct shm_state *st = ipk_chan_state(ch);
	int64_t dl = 0;
	ssize_t n;
	int how, err;

	err = shm_begin(st, ROLE_RECV, timeout_ms, &dl);
	if (err)
		return err;
	for (;;) {
		how = shm_enter(st, ROLE_RECV, timeout_ms, &dl);
		if (how < 0)
			return how;
		n = shm_get(st, buf, cap, take);
		shm_exit(st, ROLE_RECV, how);
		if (n != -EAGAIN)
			return n;
		err = -ETIMEDOUT;
		if (timeout_ms == 0)
			break;
		err = shm_wait(st, ROLE_RECV, 0, shm_deadline(timeout_ms, &dl));
		if (err)
			break;
	}
	/* Not ready: a poller must hear about the next message. */
	if (st->bell_rx >= 0)
		shm_arm_bell(st);
	return err;
}

static ssize_t
shm_recv(struct ipk_chan *ch, void *buf, size_t cap, struct ipk_msginfo *info,
         int timeout_ms)
{
	info->type = 0;
	return shm_take(ch, buf, cap, true, timeout_ms);
}

static ssize_t
shm_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
              int timeout_ms)
{
	(void)info;
	return shm_take(ch, NULL, 0, false, timeout_ms);
}

static int
shm_flush(struct ipk_chan *ch, int timeout_ms)
{
	struct shm_state *st = ipk_chan_state(ch);

	if (st->hdr && st->wake_pending && shm_check_fork(st) == 0)
		shm_unhold(st, wait_deadline(timeout_ms));
	return 0;
}

static int
shm_pollfd(struct ipk_chan *ch)
{
	struct shm_state *st = ipk_chan_state(ch);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int64_t dl = 0;
	int err;

	err = shm_begin(st, ROLE_RECV, 5000, &dl);
	if (err)
		return err;
	if (st->bell_rx >= 0)
		return st->bell_rx;
	/* An abstract name vanishes with its process: nothing to clean. */
	len = shm_bell_addr(st, st->slot, &sa);
	st->bell_rx =
	        socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (st->bell_rx < 0)
		return -errno;
	if (bind(st->bell_rx, (struct sockaddr *)&sa, len) != 0) {
		err = -errno;
		close(st->bell_rx);
		st->bell_rx = -1;
		return err;
	}
	shm_arm_bell(st);
	return st->bell_rx;
}

static size_t
shm_max_msg(const struct ipk_chan *ch)
{
	const struct shm_state *st = ipk_chan_cstate(ch);

	return (size_t)st->max_msg;
}

/* ---- naming, creating, attaching ---- */

static int
shm_name(struct ipk_addr *a, char *out, size_t cap)
{
	const char *n = a->rest[0] == '/' ? a->rest + 1 : a->rest;
	size_t len = strlen(n);

	if (len == 0 || len > SHM_NAME_MAX || n[0] == '.')
		goto bad;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)n[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			goto bad;
	}
	snprintf(out, cap, "/" SHM_PREFIX "%s", n);
	return 0;
bad:
	return errdetail(
	        IPK_EADDR,
	        "shm:%s: a name is 1..%d characters of A-Z a-z 0-9 . _ "
	        "- and does not start with '.'",
	        a->rest, SHM_NAME_MAX);
}

static uint64_t
shm_data_off(void)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	return (sizeof(struct shm_hdr) + page - 1) / page * page;
}

static int
shm_init_hdr(struct shm_state *st, uint64_t cap)
{
	uint64_t size = shm_data_off() + cap;
	struct shm_hdr *h;
	void *p;
	int err;

	if (ftruncate(st->fd, (off_t)size) != 0)
		return -errno;
	/* Reserve the memory now: a full /dev/shm is ENOSPC here rather
	 * than SIGBUS on some later write. */
	if (fallocate(st->fd, 0, 0, (off_t)size) != 0 && errno != EOPNOTSUPP) {
		err = -errno;
		if (err == -ENOSPC)
			return errdetail(IPK_ELIMIT,
			                 "%s: /dev/shm has no room for %llu "
			                 "bytes (capacity=)",
			                 st->name + 1,
			                 (unsigned long long)size);
		return err;
	}
	p = mmap(NULL, sizeof(struct shm_hdr), PROT_READ | PROT_WRITE,
	         MAP_SHARED, st->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	h = p;
	memset(h, 0, sizeof(*h));
	h->version = SHM_VERSION;
	h->flags = shm_registered ? HDR_ELIDE : 0;
	h->capacity = cap;
	atomic_store(&h->held_pos, SHM_NO_HOLD);
	h->data_off = shm_data_off();
	h->size = size;
	if (getrandom(&h->uuid, sizeof(h->uuid), 0) != sizeof(h->uuid))
		h->uuid = ((uint64_t)getpid() << 32) ^ (uint64_t)wait_now_ns();
	h->creator_pid = getpid();
	h->creator_start = shm_start;
	err = shm_mutex_init(&h->reg);
	if (!err)
		err = shm_mutex_init(&h->role_mtx[0].m);
	if (!err)
		err = shm_mutex_init(&h->role_mtx[1].m);
	if (!err)
		atomic_store_explicit(&h->magic, SHM_MAGIC,
		                      memory_order_release);
	munmap(p, sizeof(struct shm_hdr));
	return err;
}

/* Wait for the creator to finish, or finish for it if it died. */
static int
shm_await_init(struct shm_state *st, uint64_t cap, int64_t deadline)
{
	struct stat sb;
	int err;

	for (;;) {
		if (fstat(st->fd, &sb) != 0)
			return -errno;
		if ((uint64_t)sb.st_size >= sizeof(struct shm_hdr)) {
			uint64_t magic = 0;

			if (pread(st->fd, &magic, sizeof(magic), 0) !=
			    sizeof(magic))
				return -EIO;
			if (magic == SHM_MAGIC)
				return 0;
		}
		if (!shm_byte_locked(st->fd, SHM_LOCK_INIT) &&
		    shm_lock_byte(st->fd, SHM_LOCK_INIT, F_WRLCK) == 0) {
			uint64_t magic = 0;

			/* Its creator died before the magic: redo it. */
			err = 0;
			if (pread(st->fd, &magic, sizeof(magic), 0) !=
			            sizeof(magic) ||
			    magic != SHM_MAGIC)
				err = shm_init_hdr(st, cap);
			shm_lock_byte(st->fd, SHM_LOCK_INIT, F_UNLCK);
			return err;
		}
		if (wait_now_ns() >= deadline)
			return errdetail(
			        -ETIMEDOUT,
			        "%s: its creator is still setting it up",
			        st->name + 1);
		usleep(1000);
	}
}

/* Take a free slot and its OFD lock: from now on we are a user. */
static int
shm_claim(struct shm_state *st, int64_t deadline)
{
	struct shm_hdr *h = st->hdr;
	int err;

	err = shm_lock(st, &h->reg, -1, deadline);
	if (err)
		return err;
	if (atomic_load(&h->removed)) {
		pthread_mutex_unlock(&h->reg);
		return -ESTALE;
	}
	for (int i = 0; i < SHM_SLOTS; i++) {
		struct shm_slot *s = &h->slots[i];

		if (atomic_load(&s->state) != SLOT_FREE)
			continue;
		if (shm_lock_byte(st->fd, SHM_LOCK_SLOT + i, F_WRLCK) != 0)
			continue; /* being released just now */
		atomic_store(&s->roles, 0);
		atomic_store(&s->busy[0], 0);
		atomic_store(&s->busy[1], 0);
		s->can_excl = shm_registered;
		s->pid = getpid();
		s->start = shm_start;
		s->gen++;
		atomic_store(&s->state, SLOT_USED);
		pthread_mutex_unlock(&h->reg);
		st->slot = i;
		st->fork_gen = atomic_load(&shm_fork_gen);
		return 0;
	}
	pthread_mutex_unlock(&h->reg);
	return errdetail(-EUSERS, "%s: all %d user slots are taken",
	                 st->name + 1, SHM_SLOTS);
}

/* Free slots whose owners died (their OFD locks are gone). */
static void
shm_reap(struct shm_state *st, int64_t deadline)
{
	struct shm_hdr *h = st->hdr;
	bool dead = false;

	for (int i = 0; i < SHM_SLOTS && !dead; i++)
		dead = atomic_load(&h->slots[i].state) == SLOT_USED &&
		       !shm_slot_alive(st, i);
	if (!dead)
		return;
	for (int role = 0; role < 2; role++)
		if (shm_role_lock(st, role, deadline) == 0) {
			shm_settle(st, role);
			shm_role_unlock(st, role);
		}
	if (shm_lock(st, &h->reg, -1, deadline) != 0)
		return;
	for (int i = 0; i < SHM_SLOTS; i++) {
		struct shm_slot *s = &h->slots[i];

		if (atomic_load(&s->state) != SLOT_USED ||
		    shm_slot_alive(st, i) || atomic_load(&s->roles))
			continue;
		mask_clear(h->recv_sleep, i);
		mask_clear(h->recv_armed, i);
		mask_clear(h->send_sleep, i);
		atomic_store(&s->state, SLOT_FREE);
	}
	pthread_mutex_unlock(&h->reg);
}

static int
shm_map(struct shm_state *st, uint64_t want_cap, bool cap_given)
{
	struct stat sb;
	struct shm_hdr *h;
	void *p;

	if (fstat(st->fd, &sb) != 0)
		return -errno;
	p = mmap(NULL, sizeof(struct shm_hdr), PROT_READ, MAP_SHARED, st->fd,
	         0);
	if (p == MAP_FAILED)
		return -errno;
	h = p;
	if (h->version != SHM_VERSION || h->data_off != shm_data_off() ||
	    h->capacity < SHM_CAP_MIN || h->capacity > SHM_CAP_MAX ||
	    (h->capacity & (h->capacity - 1)) ||
	    h->size != h->data_off + h->capacity ||
	    (uint64_t)sb.st_size < h->size) {
		munmap(p, sizeof(struct shm_hdr));
		return errdetail(IPK_ECORRUPT,
		                 "%s: not an ipckit ring of this version",
		                 st->name + 1);
	}
	if (cap_given && h->capacity != want_cap) {
		unsigned long long c = h->capacity;

		munmap(p, sizeof(struct shm_hdr));
		return errdetail(IPK_EOPTION,
		                 "shm:%s exists with capacity=%llu; open it "
		                 "without capacity= or remove it first",
		                 st->name + 1 + strlen(SHM_PREFIX), c);
	}
	st->cap = h->capacity;
	st->map_size = h->size;
	munmap(p, sizeof(struct shm_hdr));
	/* Populated now, so that no page fault lands in the first lap. */
	p = mmap(NULL, st->map_size, PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_POPULATE, st->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	st->hdr = p;
	st->data = (unsigned char *)p + st->hdr->data_off;
	st->mask = st->cap - 1;
	st->max_msg = st->cap / 4;
	st->batch = st->cap / 8;
	return 0;
}

static void
shm_unmap(struct shm_state *st)
{
	if (st->hdr)
		munmap(st->hdr, st->map_size);
	st->hdr = NULL;
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

/* A ring marked removed whose name still leads to it: its remover died
 * between the two steps.  Finish the job. */
static void
shm_drop_stale(struct shm_state *st)
{
	char path[sizeof(SHM_DIR) + sizeof(st->name)];
	struct stat a, b;

	snprintf(path, sizeof(path), SHM_DIR "%s", st->name);
	if (fstat(st->fd, &a) == 0 && stat(path, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		shm_unlink(st->name);
}

static int
shm_open_ring(struct ipk_chan *ch, struct ipk_addr *addr, unsigned flags,
              int timeout_ms)
{
	struct shm_state *st = ipk_chan_state(ch);
	int64_t deadline = wait_deadline(timeout_ms < 1000 ? 1000 : timeout_ms);
	uint64_t cap, spin_us;
	bool cap_given;
	int err;

	st->fd = st->bell_rx = st->bell_tx = -1;
	st->slot = -1;
	pthread_once(&shm_once, shm_proc_init);
	err = shm_name(addr, st->name, sizeof(st->name));
	if (err)
		return err;
	cap_given = addr_opt_str(addr, "capacity") != NULL;
	err = addr_opt_u64(addr, "capacity", SHM_CAP_MIN, SHM_CAP_MAX,
	                   SHM_CAP_DEFAULT, true, &cap);
	if (!err && (cap & (cap - 1)))
		err = errdetail(IPK_EOPTION,
		                "shm: capacity=%llu must be a power of two "
		                "(4k, 64k, 1M, ...)",
		                (unsigned long long)cap);
	if (!err)
		err = addr_opt_u64(addr, "spin", 0, SHM_SPIN_MAX_US,
		                   shm_ncpu > 1 ? SHM_SPIN_DEFAULT_US : 0,
		                   false, &spin_us);
	if (!err)
		err = addr_check_unused(addr);
	if (err)
		return err;
	st->spin_max_ns = (int64_t)spin_us * 1000;
	st->spin_ns[0] = st->spin_ns[1] = st->spin_max_ns;

	for (int attempt = 0; attempt < 100; attempt++) {
		bool created = false;

		if (!(flags & IPK_NOCREATE)) {
			st->fd = shm_open(st->name, O_RDWR | O_CREAT | O_EXCL,
			                  addr->mode);
			created = st->fd >= 0;
			if (!created && errno != EEXIST)
				return -errno;
			if (!created && (flags & IPK_EXCL))
				return errdetail(-EEXIST, "%s exists",
				                 st->name + 1);
		}
		if (created) {
			/* Exactly the mode asked for, whatever the umask;
			 * then set it up as a joiner finding it bare would. */
			err = fchmod(st->fd, addr->mode) == 0 ? 0 : -errno;
			if (!err)
				err = shm_await_init(st, cap, deadline);
			if (err) {
				shm_unlink(st->name);
				shm_unmap(st);
				return err;
			}
		} else {
			st->fd = shm_open(st->name, O_RDWR, 0);
			if (st->fd < 0 && errno == ENOENT &&
			    !(flags & IPK_NOCREATE))
				continue; /* removed meanwhile: create it */
			if (st->fd < 0)
				return errno == ENOENT
				               ? errdetail(
				                         -ENOENT,
				                         "shm:%s does not "
				                         "exist",
				                         st->name + 1 +
				                                 strlen(SHM_PREFIX))
				               : -errno;
			err = shm_await_init(st, cap, deadline);
			if (err) {
				shm_unmap(st);
				return err;
			}
		}
		err = shm_map(st, cap, cap_given && !created);
		if (!err) {
			shm_reap(st, deadline);
			err = shm_claim(st, deadline);
		}
		if (err == -ESTALE) { /* ipk_unlink() removed it: again */
			shm_drop_stale(st);
			shm_unmap(st);
			continue;
		}
		if (err) {
			shm_unmap(st);
			return err;
		}
		return 0;
	}
	return errdetail(-EAGAIN, "%s: removed and re-created too often",
	                 st->name + 1);
}

static void
shm_close(struct ipk_chan *ch)
{
	struct shm_state *st = ipk_chan_state(ch);
	struct shm_hdr *h = st->hdr;

	if (h == NULL)
		return;
	/* In a child that inherited the channel, the slot is the parent's:
	 * let go of the mapping and descriptors only. */
	if (st->fork_gen != atomic_load(&shm_fork_gen) || st->slot < 0)
		goto unmap;
	if (st->wake_pending)
		shm_unhold(st, wait_deadline(2000));
	if (st->bell_rx >= 0)
		mask_clear(h->recv_armed, st->slot);
	shm_leave(st, ROLE_SEND);
	shm_leave(st, ROLE_RECV);
	if (shm_lock(st, &h->reg, -1, wait_deadline(2000)) != 0)
		goto unmap; /* our OFD lock goes with the fd: reaped as dead */
	mask_clear(h->recv_sleep, st->slot);
	mask_clear(h->send_sleep, st->slot);
	atomic_store(&h->slots[st->slot].state, SLOT_FREE);
	shm_lock_byte(st->fd, SHM_LOCK_SLOT + st->slot, F_UNLCK);
	st->slot = -1;
	/* The name stays, with what is queued, until ipk_unlink(). */
	pthread_mutex_unlock(&h->reg);
unmap:
	if (st->bell_rx >= 0)
		close(st->bell_rx);
	if (st->bell_tx >= 0)
		close(st->bell_tx);
	st->bell_rx = st->bell_tx = -1;
	shm_unmap(st);
}

/* ---- ipckit ls / rm ---- */

static int
shm_unlink_ring(struct ipk_addr *addr)
{
	struct shm_state st = { .fd = -1, .slot = -1 };
	struct stat sb;
	int err;

	/* Creation options (capacity=...) may ride along: ignored here. */
	err = shm_name(addr, st.name, sizeof(st.name));
	if (err)
		return err;
	st.fd = shm_open(st.name, O_RDWR, 0);
	if (st.fd < 0)
		return errno == ENOENT
		               ? errdetail(-ENOENT, "shm:%s does not exist",
		                           st.name + 1 + strlen(SHM_PREFIX))
		               : -errno;
	/* Mark it removed under its registry lock (openers retry); a
	 * half-made or foreign object is simply unlinked. */
	if (fstat(st.fd, &sb) == 0 &&
	    (uint64_t)sb.st_size >= sizeof(struct shm_hdr) &&
	    shm_map(&st, 0, false) == 0) {
		if (shm_lock(&st, &st.hdr->reg, -1, wait_deadline(5000)) == 0) {
			atomic_store(&st.hdr->removed, 1);
			err = shm_unlink(st.name) == 0 ? 0 : -errno;
			pthread_mutex_unlock(&st.hdr->reg);
			shm_unmap(&st);
			return err;
		}
	}
	err = shm_unlink(st.name) == 0 ? 0 : -errno;
	shm_unmap(&st);
	return err;
}

/* Queued messages, walking the records of a ring we may only read: a
 * hint (users may be changing it), bounded by the ring's size. */
static unsigned long long
shm_count(const struct shm_hdr *h, const unsigned char *data, uint64_t bytes)
{
	uint64_t r = atomic_load(&h->rhead), cap = h->capacity, n = 0;

	for (uint64_t at = 0; at < bytes && at < cap;) {
		const void *hp = data + ((r + at) & (cap - 1));
		uint64_t w = atomic_load((const _Atomic uint64_t *)hp);
		uint64_t len = w & REC_LEN;

		if (!rec_committed(w, r + at))
			break;
		at += (w & REC_PAD) ? len : rec_size(len);
		n += !(w & REC_PAD);
	}
	return n;
}

/* Fill o from a ring opened read-only; what cannot be read stays 0. */
static void
shm_describe(int fd, struct ipk_object *o)
{
	struct stat sb;
	const struct shm_hdr *h;
	void *p;

	if (fstat(fd, &sb) != 0)
		return;
	o->owner = sb.st_uid;
	o->mode = sb.st_mode & 07777;
	if ((uint64_t)sb.st_size < sizeof(struct shm_hdr))
		return;
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return;
	h = p;
	if (atomic_load(&h->magic) == SHM_MAGIC && h->version == SHM_VERSION &&
	    h->size <= (uint64_t)sb.st_size &&
	    (h->capacity & (h->capacity - 1)) == 0 &&
	    h->data_off + h->capacity == h->size) {
		o->creator_pid = h->creator_pid;
		o->creator_start = h->creator_start;
		o->bytes = atomic_load(&h->tail) - atomic_load(&h->rhead);
		o->messages = shm_count(
		        h, (const unsigned char *)p + h->data_off, o->bytes);
	}
	munmap(p, (size_t)sb.st_size);
}

static int
shm_list(ipk_list_fn *fn, void *arg)
{
	DIR *d = opendir(SHM_DIR);
	struct dirent *e;
	int err = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (err == 0 && (e = readdir(d)) != NULL) {
		char addr[sizeof(e->d_name) + 8];
		struct ipk_object o = { .scheme = "shm", .address = addr };
		int fd;

		if (strncmp(e->d_name, SHM_PREFIX, strlen(SHM_PREFIX)) != 0)
			continue;
		fd = openat(dirfd(d), e->d_name,
		            O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		snprintf(addr, sizeof(addr), "shm:%s",
		         e->d_name + strlen(SHM_PREFIX));
		shm_describe(fd, &o);
		close(fd);
		err = fn(&o, arg);
	}
	closedir(d);
	return err;
}

int
shm_ring_stall(struct ipk_chan *ch, enum shm_stall how, size_t len)
{
	struct shm_state *st = ipk_chan_state(ch);
	int64_t dl = 0;
	uint64_t t;
	int err;

	if (ch->tp->send != shm_send || len > st->max_msg)
		return -EINVAL;
	if (!(st->roles & (1u << ROLE_SEND))) {
		err = shm_join(st, ROLE_SEND, wait_deadline(5000));
		if (err)
			return err;
	}
	if (how == SHM_STALL_LOCK)
		return shm_role_lock(st, ROLE_SEND, wait_deadline(5000));
	err = shm_enter(st, ROLE_SEND, 5000, &dl);
	if (err < 0)
		return err;
	t = atomic_load(&st->hdr->tail);
	if (shm_need(st, t, len) + t - atomic_load(&st->hdr->head) > st->cap ||
	    (t & st->mask) + rec_size(len) > st->cap)
		return -EAGAIN; /* the test sends into a roomy ring */
	memset(st->data + (t & st->mask) + REC_HDR, 0xee, len / 2);
	return 0;
}

static const char *const shm_options[] = { "capacity", "spin", NULL };

const struct ipk_transport transport_shm = {
	.scheme = "shm",
	.summary = "shared-memory ring queue (POSIX shm; lock-free for one "
	           "sender and one receiver)",
	.caps = IPK_CAP_QUEUE | IPK_CAP_NAMED | IPK_CAP_PEER_DEATH,
	.state_size = sizeof(struct shm_state),
	.options = shm_options,
	.open = shm_open_ring,
	.send = shm_send,
	.recv = shm_recv,
	.peek_size = shm_peek_size,
	.flush = shm_flush,
	.pollfd = shm_pollfd,
	.max_msg = shm_max_msg,
	.close = shm_close,
	.list = shm_list,
	.unlink = shm_unlink_ring,
};
