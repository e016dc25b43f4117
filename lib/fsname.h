// SPDX-License-Identifier: MIT
/* fsname.h - the filesystem objects ipckit made (FIFOs, socket files), so
 * that ipk_list() can find them wherever they are: an index directory
 * private to the user ($XDG_RUNTIME_DIR/ipckit, else /tmp/ipckit-UID),
 * one small file per object naming its path and creator.  Entries whose
 * object has gone are dropped as the index is read. */
#ifndef IPK_FSNAME_H
#define IPK_FSNAME_H

#include <stdbool.h>
#include <sys/types.h>

#include "ipckit.h"

/* fsname_add - note that this process created path (a FIFO or socket
 * file) for scheme.  Best effort: an index that cannot be written only
 * makes `ipckit ls` miss the object. */
void fsname_add(const char *scheme, const char *path);

/* fsname_remove - forget path (after unlinking it). */
void fsname_remove(const char *scheme, const char *path);

/* fsname_list - call fn for each indexed object of scheme that still
 * exists with the file type `type` (S_IFIFO, S_IFSOCK).  Returns 0 or
 * fn's non-zero value. */
int fsname_list(const char *scheme, mode_t type, ipk_list_fn *fn, void *arg);

/*
 * Objects without a file of their own (System V queues) or on a file
 * system of their own (POSIX queues) get a note instead: "name\npid start
 * tag\n", where tag tells the object from a later one of the same name
 * (a queue's ctime, an inode), so that `ipckit ls` can say whether the
 * process that made it still runs.  All best effort, like fsname_add().
 */

/* fsname_note - note that this process made the object name of scheme. */
void fsname_note(const char *scheme, const char *name, unsigned long long tag);

/* fsname_forget - drop the note on name (after removing the object). */
void fsname_forget(const char *scheme, const char *name);

/* fsname_creator - the creator noted for name with this tag: 0 and *pid,
 * *start; -ENOENT when there is none (or it was for another object). */
int fsname_creator(const char *scheme, const char *name, unsigned long long tag,
                   pid_t *pid, unsigned long long *start);

/* fsname_sweep - drop the notes of scheme whose object gone() says has
 * gone, so that notes do not pile up when objects are removed by others
 * (ipcrm, mq_unlink). */
typedef bool fsname_gone_fn(const char *name, unsigned long long tag);
void fsname_sweep(const char *scheme, fsname_gone_fn *gone);

/* fsname_start_time - this process's start time in clock ticks since
 * boot (/proc/self/stat), 0 if unknown: with the pid, it names a process
 * even after the pid is reused. */
unsigned long long fsname_start_time(pid_t pid);

#endif
