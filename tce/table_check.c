/* SPDX-License-Identifier: MIT */
/*
 * The debug invariant checker (T1-T6 of tce/tce.h).  It walks both trees in
 * parallel, as the bulk clear does, and finds every indirect entry's block
 * through emu_mem_table_hva(), the way the hardware would, rather than
 * trusting the hpa arithmetic the fast paths use.
 *
 * Pages nothing ever touched are skipped, not trusted.  A block is private
 * anonymous memory (emu/mem_table.c), and such a page with neither a page
 * table entry nor a swap entry reads as zero: the kernel has no other
 * content for it.  /proc/self/pagemap says which pages have one (bit 63
 * present, 62 swapped, 61 file or shared), so the checker reads every page
 * that may hold a non-zero word and none that cannot, and checks exactly
 * what a full scan would: a stray write lands on a page, which then has an
 * entry.  Why: a 2 GiB window of 4 KiB pages is a 4 MiB leaf block per
 * tree; scanning both (and faulting in every page of them) was most of a
 * fuzz run, where a window holds a few entries.  The written map is not
 * used to skip anything: it is one of the things checked (T6).  Without
 * pagemap (no /proc) every page is read.  A touched page is first read
 * once as a whole (page_zero): most are the zero page, mapped by a read of
 * an entry nobody wrote (a device read, H_GET_TCE), and the per-word
 * checks only skip zero words.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "emu/quirk.h"
#include "tce/tce_priv.h"

#define CHECK_MAX_MESSAGES 8
#define PAGE_WORDS (EMU_PAGE_SIZE / sizeof(uint64_t))	/* table words per page */
#define PAGEMAP_BATCH 512u				/* pagemap entries read at once */
#define PAGEMAP_TOUCHED (7ull << 61)			/* present, swapped, file/shared */

/* The pagemap entries of PAGEMAP_BATCH pages from page @first, per tree. */
struct pagemap_cache {
	uint64_t first, n;
	uint64_t e[PAGEMAP_BATCH];
};

struct check_ctx {
	const struct tce_table *t;
	uint64_t counted[TCE__NTREES][TCE_LEVELS_MAX];
	unsigned problems;
	int pagemap;			/* /proc/self/pagemap, or -1: read every page */
	struct pagemap_cache pm[TCE__NTREES];
};

static const char *const tree_name[TCE__NTREES] = { "hardware", "shadow" };

__attribute__((format(printf, 2, 3)))
static void complain(struct check_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->problems++ >= CHECK_MAX_MESSAGES)
		return;
	fprintf(stderr, "tce_table_check: table %p: ", (const void *)c->t);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The block an indirect entry points to, or NULL (with a complaint) if it is malformed. */
static uint64_t *indirect_child(struct check_ctx *c, enum tce__tree_id tree, unsigned depth,
				uint64_t j, uint64_t raw)
{
	const struct tce_table *t = c->t;
	uint64_t v = be64toh(raw), hpa = v & ~TCE_PCI_RW;
	uint64_t *hva;

	if ((v & TCE_PCI_RW) != TCE_PCI_RW) {
		complain(c, "%s indirect entry %#llx (depth %u slot %llu) lacks READ|WRITE",
			 tree_name[tree], (unsigned long long)v, depth, (unsigned long long)j);
		return NULL;
	}
	hva = emu_mem_table_hva(hpa, t->block_bytes);
	if (!hva || hva != tce__block_hva(hpa) || (hpa & (t->block_bytes - 1) &
						   ((1ull << 21) - 1))) {
		complain(c, "%s indirect entry %#llx (depth %u slot %llu) is not a live block",
			 tree_name[tree], (unsigned long long)v, depth, (unsigned long long)j);
		return NULL;
	}
	c->counted[tree][depth + 1]++;
	return hva;
}

/* May the page holding @p (a word of @tree's block) be anything but zero? */
static bool page_touched(struct check_ctx *c, enum tce__tree_id tree, const uint64_t *p)
{
	struct pagemap_cache *pm = &c->pm[tree];
	uint64_t page = (uintptr_t)p >> EMU_PAGE_SHIFT;
	ssize_t n;

	if (c->pagemap < 0)
		return true;
	if (page - pm->first >= pm->n) {
		pm->first = page;
		n = pread(c->pagemap, pm->e, sizeof(pm->e), (off_t)(page * sizeof(uint64_t)));
		if (n < (ssize_t)sizeof(uint64_t)) {
			close(c->pagemap);	/* cannot tell: read everything from now on */
			c->pagemap = -1;
			return true;
		}
		pm->n = (uint64_t)n / sizeof(uint64_t);
	}
	return pm->e[page - pm->first] & PAGEMAP_TOUCHED;
}

/*
 * Is the page of @p (page aligned) all zero?  Touched pages are mostly
 * pages something only read: a device read or an H_GET_TCE of an entry
 * nobody wrote maps the kernel's zero page there, which pagemap shows as
 * present.  One pass of plain loads over such a page costs a fraction of
 * the per-word checks below, which find nothing in zero words anyway.
 * Left out of ASan's instrumentation (the block is the table's own memory,
 * a page at least); relaxed loads, as a writer may race with a check.
 */
__attribute__((no_sanitize("address")))
static bool page_zero(const uint64_t *p)
{
	uint64_t any = 0;

	for (unsigned k = 0; k < PAGE_WORDS; k++)
		any |= __atomic_load_n(&p[k], __ATOMIC_RELAXED);
	return !any;
}

/* May the page holding word @j of @b (of @tree) hold a non-zero word? */
static bool page_live(struct check_ctx *c, enum tce__tree_id tree, const uint64_t *b, uint64_t j)
{
	return b && page_touched(c, tree, b + j) && !page_zero(b + j);
}

/*
 * The first index from @j of the blocks @hw and @sh (either may be NULL)
 * that lies on a page of either block that may hold a non-zero word: the
 * words between read as zero (never touched, or checked zero just now).
 * Blocks are page aligned, at least a page.
 */
static uint64_t next_touched(struct check_ctx *c, const uint64_t *hw, const uint64_t *sh, uint64_t j)
{
	const uint64_t end = c->t->level_mask + 1;

	for (; j < end; j = (j | (PAGE_WORDS - 1)) + 1)
		if (page_live(c, TCE__HW, hw, j) || page_live(c, TCE__SHADOW, sh, j))
			return j;
	return end;
}

static void check_leaf(struct check_ctx *c, const uint64_t *hw, const uint64_t *sh, uint64_t base)
{
	const struct tce_table *t = c->t;
	uint64_t page_mask = (1ull << t->geo.it_page_shift) - 1, j;
	bool kernel = emu__quirk(EMU_Q12);

	for (j = next_touched(c, hw, sh, 0); j <= t->level_mask;
	     j = (j + 1) % PAGE_WORDS ? j + 1 : next_touched(c, hw, sh, j + 1)) {
		uint64_t h = hw ? be64toh(__atomic_load_n(&hw[j], __ATOMIC_ACQUIRE)) : 0;
		uint64_t s = sh ? be64toh(__atomic_load_n(&sh[j], __ATOMIC_ACQUIRE)) : 0;
		uint64_t idx = base + j;

		if (!h && !s)
			continue;
		if (idx >= t->geo.it_size) {
			complain(c, "index %llu beyond it_size %llu holds %#llx / ua %#llx",
				 (unsigned long long)idx, (unsigned long long)t->geo.it_size,
				 (unsigned long long)h, (unsigned long long)s);
			continue;
		}
		/* Q12, quirks=kernel: KVM's permission-less entries and stale shadows (tce/noperm.c). */
		if (h && (((h & TCE_PCI_RW) ? !(h & TCE_PCI_READ) : !kernel) ||
			  ((h & ~TCE_PCI_RW) & page_mask)))
			complain(c, "entry %llu: hardware %#llx lacks READ or is unaligned",
				 (unsigned long long)(idx + t->geo.it_offset), (unsigned long long)h);
		if (!tce__unit_written(t, idx >> t->unit_shift))
			complain(c, "entry %llu holds %#llx / ua %#llx but its unit is not marked written",
				 (unsigned long long)(idx + t->geo.it_offset), (unsigned long long)h,
				 (unsigned long long)s);
		if ((h & TCE_PCI_RW) ? !s : s && !kernel)
			complain(c, "entry %llu: hardware %#llx but shadow ua %#llx",
				 (unsigned long long)(idx + t->geo.it_offset), (unsigned long long)h,
				 (unsigned long long)s);
	}
}

static void check_block(struct check_ctx *c, const uint64_t *hw, const uint64_t *sh,
			unsigned depth, uint64_t base)
{
	const struct tce_table *t = c->t;
	unsigned shift = tce__depth_shift(t, depth);
	uint64_t j;

	if (depth == t->geo.it_indirect_levels) {
		check_leaf(c, hw, sh, base);
		return;
	}
	for (j = next_touched(c, hw, sh, 0); j <= t->level_mask;
	     j = (j + 1) % PAGE_WORDS ? j + 1 : next_touched(c, hw, sh, j + 1)) {
		uint64_t rh = hw ? __atomic_load_n(&hw[j], __ATOMIC_ACQUIRE) : 0;
		uint64_t rs = sh ? __atomic_load_n(&sh[j], __ATOMIC_ACQUIRE) : 0;
		uint64_t child_base = base + (j << shift);
		uint64_t *ch = NULL, *cs = NULL;

		if (!rh && !rs)
			continue;
		if (child_base >= t->geo.it_size)
			complain(c, "depth %u slot %llu beyond it_size has a lower block", depth,
				 (unsigned long long)j);
		if (rh)
			ch = indirect_child(c, TCE__HW, depth, j, rh);
		if (rs)
			cs = indirect_child(c, TCE__SHADOW, depth, j, rs);
		if ((rh && !ch) || (rs && !cs))
			continue;
		check_block(c, ch, cs, depth + 1, child_base);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The leaf list: every node's parent entry holds the leaf block at its base,
 * its shadow pointer is that leaf's shadow twin, and the distinct bases are
 * exactly the reachable hardware leaves (their number equals the counter,
 * and each names a reachable leaf).
 */
static void check_leaves(struct check_ctx *c)
{
	const struct tce_table *t = c->t;
	uint64_t n = __atomic_load_n(&t->nleaves, __ATOMIC_RELAXED), i = 0, distinct = 0;
	const struct tce__leaf *leaf = __atomic_load_n(&t->leaves, __ATOMIC_ACQUIRE);
	uint64_t *bases;

	if (!t->geo.it_indirect_levels) {
		if (n || leaf)
			complain(c, "a 1-level table has leaf list nodes");
		return;
	}
	bases = calloc(n ? n : 1, sizeof(*bases));
	if (!bases) {
		complain(c, "no memory to check the leaf list");
		return;
	}
	for (; leaf; leaf = leaf->next, i++) {
		uint64_t raw = __atomic_load_n(leaf->slot, __ATOMIC_ACQUIRE);
		uint64_t *hw = tce__walk_ro(t, TCE__HW, leaf->base);

		if (i < n)
			bases[i] = leaf->base;
		if (leaf->base & t->level_mask || leaf->base >= t->geo.it_size || !raw ||
		    tce__child(raw) != hw || !hw) {
			complain(c, "leaf list node for index %llu does not name its block",
				 (unsigned long long)leaf->base);
			continue;
		}
		if (leaf->shadow != tce__walk_ro(t, TCE__SHADOW, leaf->base))
			complain(c, "leaf list node for index %llu has the wrong shadow twin",
				 (unsigned long long)leaf->base);
	}
	if (i != n) {
		complain(c, "leaf list holds %llu nodes, counter %llu", (unsigned long long)i,
			 (unsigned long long)n);
	} else {
		qsort(bases, n, sizeof(*bases), cmp_u64);
		for (i = 0; i < n; i++)
			distinct += !i || bases[i] != bases[i - 1];
		if (distinct != c->counted[TCE__HW][t->geo.it_indirect_levels])
			complain(c, "leaf list names %llu leaf blocks, %llu reachable",
				 (unsigned long long)distinct,
				 (unsigned long long)c->counted[TCE__HW][t->geo.it_indirect_levels]);
	}
	free(bases);
}

/* The written map's shape: as creation computed it, and no bit beyond the last unit. */
static void check_written(struct check_ctx *c)
{
	const struct tce_table *t = c->t;
	unsigned us;
	uint64_t words = tce__written_words(t->geo.it_size, &us), last;

	if (us != t->unit_shift || t->nunits != ((t->geo.it_size - 1) >> us) + 1 ||
	    (t->nunits + 63) / 64 != words) {
		complain(c, "written map of %llu units of 2^%u indexes does not fit it_size %llu",
			 (unsigned long long)t->nunits, t->unit_shift,
			 (unsigned long long)t->geo.it_size);
		return;
	}
	last = __atomic_load_n(&t->written[words - 1], __ATOMIC_RELAXED);
	if (t->nunits & 63 && last >> (t->nunits & 63))
		complain(c, "written map marks units beyond the last (%llu)",
			 (unsigned long long)t->nunits);
}

int tce_table_check(const struct tce_table *t)
{
	struct check_ctx c = { .t = t };
	unsigned i, d;

	c.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (!__atomic_load_n(&t->refs, __ATOMIC_RELAXED))
		complain(&c, "no reference left");
	for (i = 0; i < TCE__NTREES; i++) {
		if (!t->tree[i].top ||
		    emu_mem_table_hva(t->tree[i].top_hpa, t->block_bytes) != t->tree[i].top) {
			complain(&c, "%s top block is not a live block", tree_name[i]);
			if (c.pagemap >= 0)
				close(c.pagemap);
			return -EUCLEAN;
		}
		c.counted[i][0] = 1;
	}
	check_block(&c, t->tree[TCE__HW].top, t->tree[TCE__SHADOW].top, 0, 0);
	check_leaves(&c);
	check_written(&c);
	for (i = 0; i < TCE__NTREES; i++)
		for (d = 0; d < TCE_LEVELS_MAX; d++) {
			uint64_t n = __atomic_load_n(&t->tree[i].blocks[d], __ATOMIC_RELAXED);

			if (n != c.counted[i][d])
				complain(&c, "%s level %u: counter says %llu blocks, %llu reachable",
					 tree_name[i], d, (unsigned long long)n,
					 (unsigned long long)c.counted[i][d]);
		}
	if (c.pagemap >= 0)
		close(c.pagemap);
	if (c.problems > CHECK_MAX_MESSAGES)
		fprintf(stderr, "tce_table_check: table %p: %u problems in all\n", (const void *)t,
			c.problems);
	return c.problems ? -EUCLEAN : 0;
}
