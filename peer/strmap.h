// SPDX-License-Identifier: MIT
/* strmap.h - a string-keyed hash map (open addressing, linear probing):
 * keys and values are borrowed, the table owns only its slots. */
#ifndef PEER_STRMAP_H
#define PEER_STRMAP_H

#include <stddef.h>

struct strmap_slot {
	const char *key; /* NULL: empty; STRMAP_TOMB: deleted */
	void *value;
};

struct strmap {
	struct strmap_slot *slots; /* owned */
	size_t cap, used, live;    /* cap is 0 or a power of two */
};

void strmap_init(struct strmap *m);
void strmap_fini(struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
/* strmap_put - insert or replace; the key must outlive the entry. */
void strmap_put(struct strmap *m, const char *key, void *value);
/* strmap_del - the removed value, or NULL. */
void *strmap_del(struct strmap *m, const char *key);

#endif
