// SPDX-License-Identifier: MIT
/* registry.h - a per-user record of the named objects ipckit made at paths
 * of the user's choosing (file queues), so that `ipckit ls` can find them.
 * Kept as symbolic links in $IPCKIT_STATE_DIR, else $XDG_STATE_HOME/ipckit,
 * else ~/.local/state/ipckit, one directory per scheme. */
#ifndef IPK_REGISTRY_H
#define IPK_REGISTRY_H

/* registry_add - remember path (absolute) for scheme.  0 or -errno; callers
 * treat failure as harmless (the object works, it is just not listed). */
int registry_add(const char *scheme, const char *path);

/* registry_remove - forget path; 0 when it was not there either. */
int registry_remove(const char *scheme, const char *path);

/* registry_walk - call fn for every remembered path of scheme; a non-zero
 * return stops the walk and is returned.  Entries whose path no longer
 * exists are forgotten on the way.  0 when nothing was ever recorded. */
int registry_walk(const char *scheme, int (*fn)(const char *path, void *arg),
                  void *arg);

#endif
