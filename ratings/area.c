// SPDX-License-Identifier: MIT
/* area.c - shared memory and semaphores for the coordinator and workers,
 * by System V IPC or by an anonymous shared mapping. */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

#include "area.h"

/* semctl(2): the caller defines it. */
union area_semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static int
area_open_shm(struct area *a, const char **why)
{
	int err;

	a->shmid = shmget(IPC_PRIVATE, a->size, IPC_CREAT | IPC_EXCL | 0600);
	if (a->shmid == -1) {
		*why = "shmget (see /proc/sys/kernel/shmmax and shmall)";
		return -errno;
	}
	a->base = shmat(a->shmid, NULL, 0);
	err = -errno;
	/* Removed now, freed at the last detach: nothing leaks even if every
	 * process is killed. */
	shmctl(a->shmid, IPC_RMID, NULL);
	if (a->base == (void *)-1) {
		a->base = NULL;
		*why = "shmat";
		return err;
	}
	a->semid =
	        semget(IPC_PRIVATE, (int)a->nsems, IPC_CREAT | IPC_EXCL | 0600);
	if (a->semid == -1) {
		*why = "semget (see /proc/sys/kernel/sem)";
		return -errno;
	}
	/* A new set is zeroed on Linux, but POSIX leaves it undefined. */
	for (unsigned i = 0; i < a->nsems; i++) {
		union area_semun arg = { .val = 0 };

		if (semctl(a->semid, (int)i, SETVAL, arg) == -1) {
			*why = "semctl SETVAL";
			return -errno;
		}
	}
	return 0;
}

static int
area_open_mmap(struct area *a, const char **why)
{
	size_t off = (a->size + 63) & ~(size_t)63;
	void *p;

	a->map_size = off + a->nsems * sizeof(sem_t);
	p = mmap(NULL, a->map_size, PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		*why = "mmap";
		return -errno;
	}
	a->base = p;
	a->sems = (sem_t *)(void *)((char *)p + off);
	for (unsigned i = 0; i < a->nsems; i++)
		if (sem_init(&a->sems[i], 1, 0) == -1) {
			*why = "sem_init";
			return -errno;
		}
	return 0;
}

int
area_open(struct area *a, enum area_via via, size_t size, unsigned nsems,
          const char **why)
{
	int err;

	memset(a, 0, sizeof(*a));
	a->via = via;
	a->size = size;
	a->nsems = nsems;
	a->shmid = -1;
	a->semid = -1;
	*why = "";
	err = via == AREA_SHM ? area_open_shm(a, why) : area_open_mmap(a, why);
	if (err)
		area_close(a);
	return err;
}

void
area_close(struct area *a)
{
	if (a == NULL)
		return;
	if (a->via == AREA_SHM) {
		if (a->base)
			shmdt(a->base);
		if (a->semid != -1)
			semctl(a->semid, 0, IPC_RMID);
	} else if (a->base) {
		for (unsigned i = 0; i < a->nsems; i++)
			sem_destroy(&a->sems[i]);
		munmap(a->base, a->map_size);
	}
	a->base = NULL;
	a->sems = NULL;
	a->semid = -1;
	a->shmid = -1;
}

int
area_post(struct area *a, unsigned i)
{
	if (a->via == AREA_SHM) {
		struct sembuf op = { .sem_num = (unsigned short)i,
			             .sem_op = 1 };

		return semop(a->semid, &op, 1) == -1 ? -errno : 0;
	}
	return sem_post(&a->sems[i]) == -1 ? -errno : 0;
}

int
area_wait(struct area *a, unsigned i, int timeout_ms)
{
	struct timespec ts = { .tv_sec = timeout_ms / 1000,
		               .tv_nsec = (long)(timeout_ms % 1000) * 1000000 };
	int rc;

	if (a->via == AREA_SHM) {
		struct sembuf op = { .sem_num = (unsigned short)i,
			             .sem_op = -1 };

		rc = semtimedop(a->semid, &op, 1, timeout_ms < 0 ? NULL : &ts);
		if (rc == -1 && errno == EAGAIN)
			return -ETIMEDOUT;
		return rc == -1 ? -errno : 0;
	}
	if (timeout_ms < 0) {
		rc = sem_wait(&a->sems[i]);
	} else {
		struct timespec now;

		/* sem_timedwait takes an absolute CLOCK_REALTIME time;
		 * sem_clockwait (glibc 2.30) takes CLOCK_MONOTONIC. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		ts.tv_sec += now.tv_sec;
		ts.tv_nsec += now.tv_nsec;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		rc = sem_clockwait(&a->sems[i], CLOCK_MONOTONIC, &ts);
	}
	return rc == -1 ? -errno : 0;
}
