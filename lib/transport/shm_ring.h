// SPDX-License-Identifier: MIT
/* shm_ring.h - what tests may reach inside the shm transport: a way to
 * stop in the middle of a send, as a crash would find the ring. */
#ifndef IPK_SHM_RING_H
#define IPK_SHM_RING_H

#include <stddef.h>

#include "ipckit.h"

enum shm_stall {
	SHM_STALL_LOCK = 1, /* hold the send lock (the robust mutex) */
	SHM_STALL_TORN = 2, /* enter a send and write half a record */
};

/*
 * shm_ring_stall - for tests only: make ch a sender and stop inside a send
 * as described by how, with len bytes for SHM_STALL_TORN.  Returns 0 (the
 * caller is meant to be killed now) or -errno.
 */
int shm_ring_stall(struct ipk_chan *ch, enum shm_stall how, size_t len);

#endif
