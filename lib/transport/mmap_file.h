// SPDX-License-Identifier: MIT
/* mmap_file.h - the on-disk layout of a durable file queue (file:PATH),
 * version 1.  Internal: mmap_file.c and its tests include it;
 * docs/mechanisms/queues.md describes it for people.
 *
 * A 4096-byte header, then a ring of `capacity` bytes holding records
 * aligned to 16 bytes.  Offsets (head, tail) count bytes since the file was
 * made, laps included; a record sits at offset % capacity and never wraps:
 * a padding record fills the end of the ring instead. */
#ifndef IPK_MMAP_FILE_H
#define IPK_MMAP_FILE_H

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#define FILEQ_MAGIC      "IPKFILEQ"
#define FILEQ_VERSION    1
#define FILEQ_HDR_SIZE   4096
#define FILEQ_ALIGN      16
#define FILEQ_BYTE_ORDER 0x01020304u

struct fileq_header {
	/* Written once when the file is made; fixed_crc covers them. */
	char magic[8];        /* FILEQ_MAGIC, no NUL */
	uint32_t version;     /* FILEQ_VERSION */
	uint32_t header_size; /* FILEQ_HDR_SIZE: the ring starts here */
	uint64_t capacity;    /* bytes in the ring, a multiple of 4096 */
	uint32_t byte_order;  /* FILEQ_BYTE_ORDER as its maker stored it */
	uint32_t lock_size;   /* sizeof(pthread_mutex_t) of its maker */
	uint64_t created_ns;  /* CLOCK_REALTIME when made */
	uint32_t creator_pid; /* the process that made it */
	uint32_t fixed_crc;   /* CRC-32C of the bytes before this field */

	/* The boot whose processes the lock and futex words below belong to
	 * (/proc/sys/kernel/random/boot_id): after a reboot the first opener
	 * re-initialises them and checks every record. */
	uint8_t boot_id[16];

	/* A robust, process-shared mutex: taking it returns EOWNERDEAD when
	 * its holder died, and the taker repairs (fileq_repair). */
	alignas(64) pthread_mutex_t lock;

	/* Under lock.  head and tail share a 64-byte block (one sector), so
	 * a torn page write cannot pair a new head with an old tail. */
	alignas(64) uint64_t head; /* offset of the oldest record */
	uint64_t tail;             /* offset just past the newest record */
	uint64_t sent;             /* records ever committed */
	uint64_t received;         /* records ever taken */
	uint64_t recoveries;       /* dead lock holders repaired */
	uint64_t dropped;          /* damaged records dropped */

	/* Futex words and flags, used without the lock (atomics). */
	alignas(64) uint32_t data_seq; /* bumped by every commit */
	uint32_t data_waiters;         /* 1: someone sleeps on data_seq */
	uint32_t space_seq;            /* bumped by every take */
	uint32_t space_waiters;        /* 1: someone sleeps on space_seq */
	uint32_t poll_armed;           /* 1: a pollfd waits for the doorbell */
	uint32_t doorbell; /* read() by senders: inotify IN_ACCESS */
};

static_assert(sizeof(struct fileq_header) <= FILEQ_HDR_SIZE,
              "the header fits its page");
static_assert(offsetof(struct fileq_header, fixed_crc) == 44,
              "the fixed part is stable");

/* Every record starts with this; the payload follows. */
struct fileq_rec {
	uint32_t commit; /* fileq_stamp(offset), or ^ FILEQ_PAD_FLIP for
	                    padding; written last, so a record is whole once
	                    its stamp is there */
	uint32_t len;    /* payload bytes (padding: bytes to the ring's end
	                    after this header) */
	uint32_t crc;    /* CRC-32C of offset (8 bytes), len, then payload */
	uint32_t flags;  /* 0 */
};

static_assert(sizeof(struct fileq_rec) == FILEQ_ALIGN,
              "a record header is one alignment unit");

#define FILEQ_PAD_FLIP 0xffffffffu

/* A record's stamp depends on its offset, laps included: bytes left over
 * from an earlier lap never look committed. */
static inline uint32_t
fileq_stamp(uint64_t off)
{
	return (uint32_t)(((off >> 4) * 0x9e3779b97f4a7c15ull) >> 32) ^
	       0x7f4a7c15u;
}

#endif
