// SPDX-License-Identifier: MIT
/* strmap.c - FNV-1a hashed open addressing with tombstones. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "xalloc.h"

static const char strmap_tomb_mark;
#define STRMAP_TOMB (&strmap_tomb_mark)

static uint64_t
strmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void
strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void
strmap_fini(struct strmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static struct strmap_slot *
strmap_find(const struct strmap *m, const char *key)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	i = strmap_hash(key) & (m->cap - 1);
	for (;;) {
		struct strmap_slot *s = &m->slots[i];

		if (s->key == NULL)
			return NULL;
		if (s->key != STRMAP_TOMB && strcmp(s->key, key) == 0)
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key);

	return s ? s->value : NULL;
}

static void
strmap_grow(struct strmap *m)
{
	struct strmap_slot *old = m->slots;
	size_t old_cap = m->cap;

	m->cap = m->cap ? m->cap * 2 : 64;
	while (m->live * 2 >= m->cap)
		m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	m->used = m->live = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].key && old[i].key != STRMAP_TOMB)
			strmap_put(m, old[i].key, old[i].value);
	free(old);
}

void
strmap_put(struct strmap *m, const char *key, void *value)
{
	struct strmap_slot *s = strmap_find(m, key);
	size_t i;

	if (s) {
		s->key = key;
		s->value = value;
		return;
	}
	if ((m->used + 1) * 4 >= m->cap * 3)
		strmap_grow(m);
	i = strmap_hash(key) & (m->cap - 1);
	while (m->slots[i].key && m->slots[i].key != STRMAP_TOMB)
		i = (i + 1) & (m->cap - 1);
	if (m->slots[i].key == NULL)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].value = value;
	m->live++;
}

void *
strmap_del(struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key);
	void *v;

	if (s == NULL)
		return NULL;
	v = s->value;
	s->key = STRMAP_TOMB;
	s->value = NULL;
	m->live--;
	return v;
}
