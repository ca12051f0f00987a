/* SPDX-License-Identifier: MIT */
/*
 * util/u64map.h: a hash map from uint64_t keys to non-zero uint64_t values.
 *
 * Open addressing with linear probing; removal shifts entries back instead
 * of leaving tombstones, so it never allocates and lookups stay short.  The
 * map grows at half load; growth is a fault-injection point.
 *
 * Not thread-safe: the owner's lock protects it.
 */
#ifndef SPAPRTCE_UTIL_U64MAP_H
#define SPAPRTCE_UTIL_U64MAP_H

#include <stdint.h>

struct util_u64map_slot {
	uint64_t key;
	uint64_t val;		/* 0: empty slot */
};

struct util_u64map {
	struct util_u64map_slot *slots;
	uint64_t cap;		/* power of two, or 0 */
	uint64_t n;
};

#define UTIL_U64MAP_INIT { NULL, 0, 0 }

/* The value stored for @key, or 0. */
uint64_t util_u64map_get(const struct util_u64map *m, uint64_t key);
/* Stores @val (non-zero) for @key, which must be absent.  Returns 0 or -ENOMEM (map unchanged). */
int util_u64map_insert(struct util_u64map *m, uint64_t key, uint64_t val);
/* Removes @key if present.  Never fails, never allocates. */
void util_u64map_remove(struct util_u64map *m, uint64_t key);
/* Frees the slots; the map is empty and usable again. */
void util_u64map_destroy(struct util_u64map *m);
/* Bytes of memory the map holds. */
static inline uint64_t util_u64map_bytes(const struct util_u64map *m)
{
	return m->cap * sizeof(struct util_u64map_slot);
}

#endif
