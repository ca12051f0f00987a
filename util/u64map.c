/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "util/fail.h"
#include "util/range.h"
#include "util/u64map.h"

static uint64_t home_of(uint64_t key, uint64_t cap)
{
	return (key * 0x9e3779b97f4a7c15ull) >> (64 - util_ilog2(cap));
}

static uint64_t find_slot(const struct util_u64map *m, uint64_t key)
{
	uint64_t i = home_of(key, m->cap);

	while (m->slots[i].val && m->slots[i].key != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

uint64_t util_u64map_get(const struct util_u64map *m, uint64_t key)
{
	if (!m->cap)
		return 0;
	return m->slots[find_slot(m, key)].val;
}

static int grow(struct util_u64map *m)
{
	uint64_t cap = m->cap ? m->cap * 2 : 64, i;
	struct util_u64map old = *m;

	if (util_should_fail("util_u64map_grow"))
		return -ENOMEM;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		*m = old;
		return -ENOMEM;
	}
	m->cap = cap;
	for (i = 0; i < old.cap; i++)
		if (old.slots[i].val)
			m->slots[find_slot(m, old.slots[i].key)] = old.slots[i];
	free(old.slots);
	return 0;
}

int util_u64map_insert(struct util_u64map *m, uint64_t key, uint64_t val)
{
	int rc;

	if ((m->n + 1) * 2 > m->cap) {
		rc = grow(m);
		if (rc)
			return rc;
	}
	m->slots[find_slot(m, key)] = (struct util_u64map_slot){ key, val };
	m->n++;
	return 0;
}

void util_u64map_remove(struct util_u64map *m, uint64_t key)
{
	uint64_t i, j;

	if (!m->cap)
		return;
	i = find_slot(m, key);
	if (!m->slots[i].val)
		return;
	m->slots[i].val = 0;
	for (j = (i + 1) & (m->cap - 1); m->slots[j].val; j = (j + 1) & (m->cap - 1)) {
		uint64_t h = home_of(m->slots[j].key, m->cap);

		/* Move j into the hole at i unless its home lies cyclically in (i, j]. */
		if (i < j ? (h <= i || h > j) : (h <= i && h > j)) {
			m->slots[i] = m->slots[j];
			m->slots[j].val = 0;
			i = j;
		}
	}
	m->n--;
}

void util_u64map_destroy(struct util_u64map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}
