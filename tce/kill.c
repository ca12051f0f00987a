/* SPDX-License-Identifier: MIT */
/*
 * Kill batches: the entry ranges one operation changed, merged, handed to
 * the platform once per operation instead of once per entry (the kernel's iommu_tce_kill).
 * The array is tiny (TCE_KILL_BATCH_RANGES + 1), so sorted insertion and a
 * full merge pass are cheaper than anything clever; the common case, an
 * operation walking upwards, only ever extends the last range.
 */
#include <string.h>

#include "tce/tce_priv.h"
#include "util/range.h"

void tce_kill_batch_init(struct tce_kill_batch *b, struct tce_table *t)
{
	b->table = t;
	b->n = 0;
}

static uint64_t range_end(const struct tce_kill_range *r)
{
	return r->first + r->npages;
}

/* Merges overlapping or adjacent neighbours of the sorted array. */
static void coalesce(struct tce_kill_batch *b)
{
	unsigned i = 0, k;

	while (i + 1 < b->n) {
		if (range_end(&b->r[i]) >= b->r[i + 1].first) {
			uint64_t end = range_end(&b->r[i + 1]);

			if (end > range_end(&b->r[i]))
				b->r[i].npages = end - b->r[i].first;
			for (k = i + 1; k + 1 < b->n; k++)
				b->r[k] = b->r[k + 1];
			b->n--;
		} else {
			i++;
		}
	}
}

/* Over capacity: merge across the smallest gap (over-killing is harmless). */
static void squeeze(struct tce_kill_batch *b)
{
	uint64_t best = UINT64_MAX;
	unsigned i, at = 0, k;

	for (i = 0; i + 1 < b->n; i++) {
		uint64_t gap = b->r[i + 1].first - range_end(&b->r[i]);

		if (gap < best) {
			best = gap;
			at = i;
		}
	}
	b->r[at].npages = range_end(&b->r[at + 1]) - b->r[at].first;
	for (k = at + 1; k + 1 < b->n; k++)
		b->r[k] = b->r[k + 1];
	b->n--;
}

void tce_kill_batch_add(struct tce_kill_batch *b, uint64_t entry, uint64_t npages)
{
	uint64_t end;
	unsigned pos;

	/* Entry numbers of a table never reach 2^64; saturate rather than wrap. */
	if (!util_range_end(entry, npages, &end)) {
		end = UINT64_MAX;
		npages = end - entry;
	}
	if (!npages)
		return;
	if (b->n) {
		struct tce_kill_range *last = &b->r[b->n - 1];

		if (entry >= last->first && entry <= range_end(last)) {
			if (end > range_end(last))
				last->npages = end - last->first;
			return;
		}
	}
	for (pos = 0; pos < b->n && b->r[pos].first <= entry; pos++)
		;
	memmove(&b->r[pos + 1], &b->r[pos], (b->n - pos) * sizeof(b->r[0]));
	b->r[pos].first = entry;
	b->r[pos].npages = npages;
	b->n++;
	coalesce(b);
	if (b->n > TCE_KILL_BATCH_RANGES)
		squeeze(b);
}

void tce_kill_batch_flush(struct tce_kill_batch *b)
{
	struct tce_table *t = b->table;
	unsigned i;

	if (t && t->kill)
		for (i = 0; i < b->n; i++)
			t->kill(t->kill_ctx, b->r[i].first, b->r[i].npages);
	b->n = 0;
}

unsigned tce_kill_batch_ranges(const struct tce_kill_batch *b)
{
	return b->n;
}
