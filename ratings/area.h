// SPDX-License-Identifier: MIT
/* area.h - the memory the coordinator shares with its workers, and the
 * semaphores they take turns with: System V shared memory and a System V
 * semaphore set (--via shm), or an anonymous MAP_SHARED mapping holding
 * process-shared POSIX semaphores (--via mmap).  Made before fork(); the
 * workers inherit it. */
#ifndef RATINGS_AREA_H
#define RATINGS_AREA_H

#include <semaphore.h>
#include <stddef.h>

enum area_via {
	AREA_SHM,
	AREA_MMAP,
};

struct area {
	enum area_via via;
	void *base; /* size bytes, zeroed, shared with children */
	size_t size;
	unsigned nsems;
	int shmid;   /* AREA_SHM: already marked for removal; -1 */
	int semid;   /* AREA_SHM: the semaphore set, removed by close; -1 */
	sem_t *sems; /* AREA_MMAP: nsems semaphores after base + size */
	size_t map_size;
};

/*
 * area_open - map size zeroed bytes and nsems semaphores at 0.  The System
 * V segment is marked for removal at once, so the kernel frees it when the
 * last process detaches, however they end; the semaphore set has no such
 * mode and is removed by area_close().  Returns 0 or -errno (and a
 * sentence in *why).
 */
int area_open(struct area *a, enum area_via via, size_t size, unsigned nsems,
              const char **why);

/* area_close - unmap and remove the semaphores.  NULL-safe, idempotent.
 * Call it in the coordinator only, after the workers are gone. */
void area_close(struct area *a);

/* area_post - add 1 to semaphore i.  0 or -errno. */
int area_post(struct area *a, unsigned i);

/*
 * area_wait - take 1 from semaphore i, waiting at most timeout_ms (-1: no
 * limit).  0, -ETIMEDOUT, -EINTR (a signal arrived), or -errno (such as
 * -EIDRM when the set was removed under a waiting worker).
 */
int area_wait(struct area *a, unsigned i, int timeout_ms);

#endif
