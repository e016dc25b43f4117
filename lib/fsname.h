// SPDX-License-Identifier: MIT
/* fsname.h - the filesystem objects ipckit made (FIFOs, socket files), so
 * that ipk_list() can find them wherever they are: an index directory
 * private to the user ($XDG_RUNTIME_DIR/ipckit, else /tmp/ipckit-UID),
 * one small file per object naming its path and creator.  Entries whose
 * object has gone are dropped as the index is read. */
#ifndef IPK_FSNAME_H
#define IPK_FSNAME_H

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

/* fsname_start_time - this process's start time in clock ticks since
 * boot (/proc/self/stat), 0 if unknown: with the pid, it names a process
 * even after the pid is reused. */
unsigned long long fsname_start_time(pid_t pid);

#endif
