/* SPDX-License-Identifier: MIT */
/*
 * Pinning user memory: faulting it in writable, locking it, and counting
 * pins per frame.
 *
 * Pin counts and tags (below) live in leaves of 1024 pages (one leaf per
 * 4 MiB of user address space), found through a util_u64map keyed by the
 * leaf number.  That is 7 bytes per pinned page (struct pin_leaf says how)
 * plus a small constant, and O(1) per lookup; the hpa of a page needs no
 * storage at all (emu/mem_hpa.c).
 *
 * Why everything runs under one mutex, mlock included: mlock is not counted
 * by the kernel.  When the last pin of a page goes, the page is munlocked;
 * if another thread could mlock-and-count the same page between our count
 * reaching 0 and our munlock, its page would end up unlocked while pinned.
 * Doing the lock/unlock syscalls and the count changes under one mutex
 * closes that window.  The cost is that pins of different ranges do not
 * fault in in parallel.
 *
 * A page the process had mlocked itself is munlocked when its last pin
 * goes: munlock is not counted either.  Processes that lock their memory
 * themselves (mlockall) should use EMU_PIN_POPULATE.
 *
 * Fork: a child's pages are new copies, not pinned; the child starts with an
 * empty table, and pins inherited from the parent (in objects the child may
 * still hold) are recognised by their generation and never counted down.
 *
 * How the device reaches a pinned page after the process dropped it.  The
 * kernel's pin holds the page itself: when the process munmaps or
 * mprotects the range, or maps something else there, the device keeps
 * writing the pinned page (invisible to the process from then on) and
 * never faults.  Userspace has no handle on a page, only on an address, so
 * each pinned page carries a tag, set when its pin count goes 0 -> 1:
 *   alias    The page belongs to a MAP_SHARED mapping (shmem, memfd, tmpfs,
 *            hugetlbfs files).  The pin maps the same pages a second time,
 *            privately to the library (mremap with old size 0; for
 *            hugetlbfs, which refuses that, mmap of the file opened through
 *            /proc/self/map_files or the VMA's path), and the device copies
 *            through that alias with memcpy: exactly the kernel's device,
 *            at the same cost as before, whatever the process does to its
 *            own mapping.  The alias lives until the last page of it is
 *            unpinned.  Aliases sit in a table by id and a page's tag holds
 *            the id, so the last unpin of a page finds its alias in O(1)
 *            (a list searched per page made DPDK's release of 16,384
 *            one-page registrations quadratic: half of its run).
 *   pfn      Private memory (anonymous, or private file copies) cannot be
 *            mapped twice.  When the pages are mlocked and the process may
 *            read page frame numbers (/proc/self/pagemap, CAP_SYS_ADMIN),
 *            the frame number at pin time is the page's identity: a DMA
 *            asks the protection of its pages' VMAs (one PROCMAP_QUERY
 *            per VMA) and whether each is still mlocked (one msync with
 *            MS_INVALIDATE, EBUSY on a locked VMA): if so the pages are
 *            the pinned ones or the kernel's migrations of them (see
 *            emu__mem_check_pages); if not, it reads the current frame
 *            numbers (one pread of pagemap per contiguous run).  Then it
 *            copies with memcpy; without
 *            PROCMAP_QUERY (before Linux 6.11) it copies with
 *            process_vm_readv/writev on the own pid, which fails with
 *            EFAULT on an unmapped, PROT_NONE or (for writes) read-only
 *            page instead of raising SIGSEGV.  (Always copying that way
 *            was measured: the kernel's copy runs at half of memcpy's
 *            speed, 1 MiB transfers fell to 0.4 of memcpy.)  A
 *            different frame means a different mapping, unless the kernel
 *            migrated the mlocked page (compaction may): then the VMA is
 *            checked for VM_LOCKED (smaps "lo"; a mapping placed in the hole
 *            is not locked), and when it still is, the new frame is
 *            recorded and the DMA goes on.
 *   present  Private memory without frame numbers (not root, or pages not
 *            mlocked): the page must still be present or swapped; a fresh
 *            mapping in the hole is neither until touched.  A replacement
 *            the process has already written is not detected here: that
 *            is the one remaining gap, documented in docs/emu.md.
 * Where the emulator cannot reach the pinned page, the DMA fails with
 * EMU_FAULT_USER_UNMAPPED.
 */
#define _GNU_SOURCE	/* mremap */
#include <errno.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "emu/mem_priv.h"
#include "util/fail.h"
#include "util/lock.h"
#include "util/range.h"
#include "util/u64map.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define LEAF_SHIFT 10u
#define LEAF_PAGES (1u << LEAF_SHIFT)
#define DEFAULT_CHUNK 16384u

/*
 * A page's tag as emu__mem_dma_page hands it out (see above): the alias
 * address | ALIAS, pfn << 12 | PFN, or PRESENT.  A leaf stores it more
 * compactly (struct pin_leaf).
 */
#define TAG_ALIAS 1ull
#define TAG_PFN 2ull
#define TAG_PRESENT 4ull
#define TAG_KIND 7ull

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_PFN_MASK ((1ull << 55) - 1)

/*
 * How a leaf stores a page: 7 bytes.
 *   count    22 bits: the low 16 in count_lo, the high 6 in bits 0-5 of hi.
 *            The kernel's own limit is lower: a pin adds 1024
 *            (GUP_PIN_COUNTING_BIAS) to the page's 31-bit positive
 *            reference count, so about 2^21 pins of one page overflow it;
 *            a pin past COUNT_MAX fails with -ENOMEM here.
 *   kind     bits 6-7 of hi: KIND_NONE exactly when the count is 0.
 *   payload  32 bits: the alias's id (KIND_ALIAS: an index into
 *            pin_alias_tab, so that dropping the page's alias is O(1)) or
 *            the page frame number (KIND_PFN).  A frame at or above 2^32
 *            (host memory beyond 16 TiB) does not fit: such a page is
 *            tagged KIND_PRESENT instead (the weaker check).
 * 8 bytes per page or more (the former 32-bit count and 64-bit tag) would
 * have put a registered page's bookkeeping over its goal of 8 bytes.
 */
enum { KIND_NONE, KIND_ALIAS, KIND_PFN, KIND_PRESENT };
#define COUNT_MAX ((1u << 22) - 1)
#define HI_COUNT 0x3fu
#define HI_KIND_SHIFT 6u

struct pin_leaf {
	uint64_t key;			/* page number >> LEAF_SHIFT */
	uint32_t nonzero;		/* counters > 0 in this leaf */
	uint32_t payload[LEAF_PAGES];
	uint16_t count_lo[LEAF_PAGES];
	uint8_t hi[LEAF_PAGES];
};

/* A second mapping of the pages of a shared run, private to the library. */
struct pin_alias {
	uint64_t ua;			/* user address the alias starts at */
	uint64_t base, len;		/* the alias mapping */
	uint64_t refs;			/* pinned pages whose tag names it */
	uint32_t id;			/* its index in pin_alias_tab */
};

struct emu_pin {
	uint64_t ua;
	uint64_t npages;
	unsigned generation;		/* pin_generation at creation */
	unsigned nruns;
	unsigned min_shift;
	struct emu__backing_run *runs;
	struct emu_pin *prev, *next;	/* pin_list, under pin_lock */
};

/*
 * All of the following is protected by pin_lock, a leaf lock: nothing else
 * is taken under it.
 */
static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
static struct util_u64map pin_leaves = UTIL_U64MAP_INIT;	/* leaf number -> leaf */
static struct emu_pin pin_list = { .prev = &pin_list, .next = &pin_list };
static unsigned pin_generation;
static enum emu_pin_mode pin_mode = EMU_PIN_AUTO;
static bool pin_mlock_refused;		/* AUTO mode fell back to populate-only */
static bool pin_ever_mlocked;
static uint64_t pin_chunk = DEFAULT_CHUNK;
static uint32_t pin_count_max = COUNT_MAX;
static struct emu_mem_stats pin_stats;
/*
 * The live aliases (refs > 0) by id: ids [0, alias_top) were handed out,
 * the free ones (NULL slots) are stacked in alias_free.  Both arrays have
 * alias_cap slots.
 */
static struct pin_alias **alias_tab;
static uint32_t *alias_free;
static uint32_t alias_cap, alias_top, alias_nfree;
static int pin_pfn_visible = -1;	/* pagemap shows frame numbers: -1 not known yet */
static int pagemap_fd = -1;		/* /proc/self/pagemap; atomic; reopened after fork */
static int maps_fd = -1;		/* /proc/self/maps for PROCMAP_QUERY; the same */

/* ------------------------------------------------------------ a page's slot */

static uint32_t cnt_get(const struct pin_leaf *l, unsigned j)
{
	return l->count_lo[j] | (uint32_t)(l->hi[j] & HI_COUNT) << 16;
}

static void cnt_set(struct pin_leaf *l, unsigned j, uint32_t c)
{
	l->count_lo[j] = (uint16_t)c;
	l->hi[j] = (uint8_t)((l->hi[j] & ~HI_COUNT) | (c >> 16));
}

static unsigned kind_get(const struct pin_leaf *l, unsigned j)
{
	return l->hi[j] >> HI_KIND_SHIFT;
}

static void kind_set(struct pin_leaf *l, unsigned j, unsigned kind, uint32_t payload)
{
	l->hi[j] = (uint8_t)((l->hi[j] & HI_COUNT) | kind << HI_KIND_SHIFT);
	l->payload[j] = payload;
}

/* The page's tag in the form emu__mem_dma_page gives (an alias's as its address). */
static uint64_t tag_get(const struct pin_leaf *l, unsigned j)
{
	switch (kind_get(l, j)) {
	case KIND_ALIAS: {
		const struct pin_alias *a = alias_tab[l->payload[j]];
		uint64_t ua = ((l->key << LEAF_SHIFT) | j) << EMU_PAGE_SHIFT;

		return (a->base + (ua - a->ua)) | TAG_ALIAS;
	}
	case KIND_PFN:
		return (uint64_t)l->payload[j] << EMU_PAGE_SHIFT | TAG_PFN;
	case KIND_PRESENT:
		return TAG_PRESENT;
	}
	return 0;
}

/* Tags the page with its frame @pfn, or as present when the frame does not fit. */
static void tag_pfn(struct pin_leaf *l, unsigned j, uint64_t pfn)
{
	if (pfn <= UINT32_MAX)
		kind_set(l, j, KIND_PFN, (uint32_t)pfn);
	else
		kind_set(l, j, KIND_PRESENT, 0);
}

/* ------------------------------------------------------------ the leaf hash */

static struct pin_leaf *leaf_find(uint64_t key)
{
	return (struct pin_leaf *)(uintptr_t)util_u64map_get(&pin_leaves, key);
}

/*
 * A run of pages' leaves, looked up once per leaf instead of once per page
 * (a hash lookup each: a walk page by page over a 1 MiB region made 256).
 * Only while no leaf is freed, i.e. within one step under pin_lock.
 */
struct leaf_cursor {
	uint64_t key;		/* the leaf's key, or UINT64_MAX: none looked up */
	struct pin_leaf *l;	/* NULL: no leaf there */
};

#define LEAF_CURSOR_INIT { UINT64_MAX, NULL }

static struct pin_leaf *leaf_at(struct leaf_cursor *cur, uint64_t page)
{
	if (page >> LEAF_SHIFT != cur->key) {
		cur->key = page >> LEAF_SHIFT;
		cur->l = leaf_find(cur->key);
	}
	return cur->l;
}

static int leaf_get(uint64_t key, struct pin_leaf **out)
{
	struct pin_leaf *l = leaf_find(key);

	if (l) {
		*out = l;
		return 0;
	}
	if (util_should_fail("emu_pin_leaf"))
		return -ENOMEM;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->key = key;
	if (util_u64map_insert(&pin_leaves, key, (uint64_t)(uintptr_t)l)) {
		free(l);
		return -ENOMEM;
	}
	*out = l;
	return 0;
}

static void leaf_remove(struct pin_leaf *l)
{
	util_u64map_remove(&pin_leaves, l->key);
	free(l);
}

/* ------------------------------------------------------------ page tags */

static void alias_unmap(struct pin_alias *a)
{
	munmap((void *)(uintptr_t)a->base, (size_t)a->len);
	free(a);
}

/*
 * Makes room in the alias table for @n more aliases, so that tags_set
 * cannot fail.  0 or -ENOMEM (the table is unchanged).
 */
static int alias_reserve(uint32_t n)
{
	uint32_t cap = alias_cap;
	struct pin_alias **tab;
	uint32_t *fr;

	if (n <= alias_cap - alias_top + alias_nfree)
		return 0;
	if (util_should_fail("emu_pin_alias_table"))
		return -ENOMEM;
	if ((uint64_t)alias_top + n > UINT32_MAX)
		return -ENOMEM;
	while (n > cap - alias_top + alias_nfree)
		cap = cap ? (cap > UINT32_MAX / 2 ? UINT32_MAX : 2 * cap) : 64;
	tab = realloc(alias_tab, cap * sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	alias_tab = tab;
	fr = realloc(alias_free, cap * sizeof(*fr));
	if (!fr)
		return -ENOMEM;	/* the larger alias_tab is harmless: alias_cap stays */
	alias_free = fr;
	alias_cap = cap;
	return 0;
}

/* Enters @a into the table (room was reserved). */
static void alias_enter(struct pin_alias *a)
{
	a->id = alias_nfree ? alias_free[--alias_nfree] : alias_top++;
	alias_tab[a->id] = a;
}

/* Frees the table (no alias is live). */
static void alias_table_free(void)
{
	free(alias_tab);
	free(alias_free);
	alias_tab = NULL;
	alias_free = NULL;
	alias_cap = alias_top = alias_nfree = 0;
}

/* Takes @a out of the table and unmaps it (the table stays, its room too). */
static void alias_forget(struct pin_alias *a)
{
	alias_tab[a->id] = NULL;
	alias_free[alias_nfree++] = a->id;
	alias_unmap(a);
}

/* Clears the tag of a page that lost its last pin; an alias with no page left goes. */
static void tag_drop(struct pin_leaf *l, unsigned j)
{
	if (kind_get(l, j) == KIND_ALIAS) {
		struct pin_alias *a = alias_tab[l->payload[j]];

		if (!--a->refs) {
			alias_forget(a);
			if (alias_nfree == alias_top)	/* the last alias: the table goes too */
				alias_table_free();
		}
	}
	kind_set(l, j, KIND_NONE, 0);
}

/* The process-wide fd of /proc/self/@name in *@slot, opened on first use. */
static int proc_fd(int *slot, const char *name)
{
	int fd = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (fd < 0) {
		fd = open(name, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			int none = -1;

			if (!__atomic_compare_exchange_n(slot, &none, fd, false, __ATOMIC_ACQ_REL,
							 __ATOMIC_ACQUIRE)) {
				close(fd);
				fd = none;
			}
		}
	}
	return fd;
}

int emu__mem_maps_fd(void)
{
	return proc_fd(&maps_fd, "/proc/self/maps");
}

static int pagemap_get(void)
{
	return proc_fd(&pagemap_fd, "/proc/self/pagemap");
}

/* pagemap entries of @n pages from @page into @out.  0 or -EFAULT. */
static int pagemap_read(uint64_t page, uint64_t n, uint64_t *out)
{
	int fd = pagemap_get();
	size_t want = (size_t)n * sizeof(*out);

	if (fd < 0)
		return -EFAULT;
	if (pread(fd, out, want, (off_t)(page * sizeof(*out))) != (ssize_t)want)
		return -EFAULT;
	return 0;
}

/*
 * A second mapping of the shared run @r (see the essay), covering whole
 * backing pages.  Returns the alias or NULL when the kernel refuses both ways.
 */
static struct pin_alias *alias_map(const struct emu__backing_run *r)
{
	uint64_t align = (1ull << r->shift) - 1;
	uint64_t start = r->start & ~align, end = (r->end + align) & ~align;
	struct pin_alias *a;
	void *m = MAP_FAILED;

	if (util_should_fail("emu_pin_alias"))
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	if (r->shift == EMU_PAGE_SHIFT)
		m = mremap((void *)(uintptr_t)start, 0, (size_t)(end - start), MREMAP_MAYMOVE);
	if (m == MAP_FAILED) {
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "/proc/self/map_files/%llx-%llx",
			 (unsigned long long)r->vma_start, (unsigned long long)r->vma_end);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			m = mmap(NULL, (size_t)(end - start), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
				 (off_t)(r->vma_off + (start - r->vma_start)));
			close(fd);
		}
	}
	if (m == MAP_FAILED) {
		free(a);
		return NULL;
	}
	a->ua = start;
	a->base = (uint64_t)(uintptr_t)m;
	a->len = end - start;
	return a;
}

/*
 * Tags the pages of @pin that have none yet (their count just went 0 -> 1).
 * @aliases[i] is the alias of run i (NULL for private runs or when none
 * could be made).  Aliases no page took are unmapped.  Under pin_lock.
 */
static void tags_set(struct emu_pin *pin, struct pin_alias **aliases)
{
	bool pfn_ok = pin_ever_mlocked && !pin_mlock_refused && pin_mode != EMU_PIN_POPULATE;
	uint64_t pm[64];
	unsigned i;

	for (i = 0; i < pin->nruns; i++) {
		const struct emu__backing_run *r = &pin->runs[i];
		struct pin_alias *a = aliases[i];
		uint64_t page = r->start >> EMU_PAGE_SHIFT, end = r->end >> EMU_PAGE_SHIFT;
		struct leaf_cursor cur = LEAF_CURSOR_INIT;

		if (a)
			alias_enter(a);
		while (page < end) {
			uint64_t n = end - page < 64 ? end - page : 64, k;

			if (!a && (pfn_ok && pin_pfn_visible != 0) && pagemap_read(page, n, pm))
				memset(pm, 0, sizeof(pm));
			for (k = 0; k < n; k++) {
				struct pin_leaf *l = leaf_at(&cur, page + k);
				unsigned j = (page + k) & (LEAF_PAGES - 1);

				if (kind_get(l, j) != KIND_NONE)
					continue;
				if (a) {
					kind_set(l, j, KIND_ALIAS, a->id);
					a->refs++;
					continue;
				}
				if (pfn_ok && pin_pfn_visible != 0 && (pm[k] & PM_PRESENT)) {
					if (pin_pfn_visible < 0)
						pin_pfn_visible = (pm[k] & PM_PFN_MASK) != 0;
					if (pin_pfn_visible) {
						tag_pfn(l, j, pm[k] & PM_PFN_MASK);
						continue;
					}
				}
				kind_set(l, j, KIND_PRESENT, 0);
			}
			page += n;
		}
		if (a && !a->refs)
			alias_forget(a);
	}
	if (alias_nfree == alias_top)
		alias_table_free();
}

/* ------------------------------------------------------------ pin counting */

static uint32_t count_of(uint64_t page)
{
	struct pin_leaf *l = leaf_find(page >> LEAF_SHIFT);

	return l ? cnt_get(l, page & (LEAF_PAGES - 1)) : 0;
}

/* count_of through a cursor (leaf_at). */
static uint32_t count_at(struct leaf_cursor *cur, uint64_t page)
{
	struct pin_leaf *l = leaf_at(cur, page);

	return l ? cnt_get(l, page & (LEAF_PAGES - 1)) : 0;
}

/* Takes back the pin counts_inc just added to pages [page, p) (they have no tag yet). */
static void counts_undo(uint64_t page, uint64_t p)
{
	while (p > page) {
		struct pin_leaf *u = leaf_find((p - 1) >> LEAF_SHIFT);
		unsigned j = (p - 1) & (LEAF_PAGES - 1);
		uint32_t c = cnt_get(u, j) - 1;

		cnt_set(u, j, c);
		pin_stats.pin_refs--;
		if (!c) {
			pin_stats.pinned_pages--;
			if (!--u->nonzero)
				leaf_remove(u);
		}
		p--;
	}
}

/*
 * Adds one pin to each of @n pages from @page; on failure (-ENOMEM: a leaf,
 * or a page at COUNT_MAX) adds none.
 */
static int counts_inc(uint64_t page, uint64_t n)
{
	uint64_t p = page, end = page + n;

	while (p < end) {
		struct pin_leaf *l;
		uint64_t stop = ((p >> LEAF_SHIFT) + 1) << LEAF_SHIFT;
		int rc = leaf_get(p >> LEAF_SHIFT, &l);

		if (rc) {
			counts_undo(page, p);
			return rc;
		}
		if (stop > end)
			stop = end;
		for (; p < stop; p++) {
			unsigned j = p & (LEAF_PAGES - 1);
			uint32_t c = cnt_get(l, j);

			if (c >= pin_count_max) {
				counts_undo(page, p);
				return -ENOMEM;
			}
			cnt_set(l, j, c + 1);
			if (!c) {
				l->nonzero++;
				pin_stats.pinned_pages++;
			}
			pin_stats.pin_refs++;
		}
	}
	return 0;
}

/* Drops one pin from each of @n pages from @page.  Never fails. */
static void counts_dec(uint64_t page, uint64_t n)
{
	uint64_t p = page, end = page + n;

	while (p < end) {
		struct pin_leaf *l = leaf_find(p >> LEAF_SHIFT);
		uint64_t stop = ((p >> LEAF_SHIFT) + 1) << LEAF_SHIFT;

		if (stop > end)
			stop = end;
		if (!l) {
			pin_stats.unpin_underflows += stop - p;
			p = stop;
			continue;
		}
		for (; p < stop; p++) {
			unsigned j = p & (LEAF_PAGES - 1);
			uint32_t c = cnt_get(l, j);

			if (!c) {
				pin_stats.unpin_underflows++;
				continue;
			}
			cnt_set(l, j, c - 1);
			pin_stats.pin_refs--;
			if (c == 1) {
				pin_stats.pinned_pages--;
				l->nonzero--;
				tag_drop(l, j);
			}
		}
		if (!l->nonzero)
			leaf_remove(l);
	}
}

/* munlocks the runs of pages in [page, page + n) that no pin holds any more. */
static void munlock_unpinned(uint64_t page, uint64_t n)
{
	uint64_t p = page, end = page + n;
	struct leaf_cursor cur = LEAF_CURSOR_INIT;

	if (!pin_ever_mlocked)
		return;
	while (p < end) {
		uint64_t run;

		while (p < end && count_at(&cur, p))
			p++;
		for (run = p; run < end && !count_at(&cur, run); run++)
			;
		if (run > p)
			munlock((void *)(uintptr_t)(p << EMU_PAGE_SHIFT),
				(size_t)((run - p) << EMU_PAGE_SHIFT));
		p = run;
	}
}

/* Faults [ua, ua + len) in (writable for @write) and locks it as the mode says. */
static int fault_in(uint64_t ua, uint64_t len, bool write)
{
	void *addr = (void *)(uintptr_t)ua;
	int populate = write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;

	if (pin_mode != EMU_PIN_POPULATE && !pin_mlock_refused) {
		if (!mlock(addr, (size_t)len)) {
			pin_ever_mlocked = true;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
			/* The sanitizer runtimes make mlock a no-op: fault the pages in ourselves. */
			if (madvise(addr, (size_t)len, populate))
				return -EFAULT;
#endif
			return 0;
		}
		if (errno != EPERM && errno != EAGAIN && errno != ENOMEM)
			return -EFAULT;
		if (pin_mode == EMU_PIN_MLOCK)
			return -ENOMEM;
		/* Not allowed to lock: populate-only from now on. */
		pin_mlock_refused = true;
	}
	if (madvise(addr, (size_t)len, populate))
		return -EFAULT;
	return 0;
}

static int pin_one_chunk(uint64_t ua, uint64_t npages, bool write)
{
	int rc;

	if (util_should_fail("emu_pin_chunk"))
		return -ENOMEM;
	rc = fault_in(ua, npages << EMU_PAGE_SHIFT, write);
	if (!rc)
		rc = counts_inc(ua >> EMU_PAGE_SHIFT, npages);
	if (rc)
		munlock_unpinned(ua >> EMU_PAGE_SHIFT, npages);
	return rc;
}

/* ------------------------------------------------------------------- fork */

static void pin_atfork_child(void)
{
	uint64_t i;

	/* The child's copies of the aliases map the parent's shared pages: unmap them. */
	for (i = 0; i < alias_top; i++)
		if (alias_tab[i])
			alias_unmap(alias_tab[i]);
	alias_table_free();
	/* The inherited pagemap fd describes the parent's address space. */
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	pagemap_fd = -1;
	if (maps_fd >= 0)
		close(maps_fd);
	maps_fd = -1;
	for (i = 0; i < pin_leaves.cap; i++)
		free((void *)(uintptr_t)pin_leaves.slots[i].val);
	util_u64map_destroy(&pin_leaves);
	pin_list.prev = pin_list.next = &pin_list;
	pin_generation++;
	pin_ever_mlocked = false;	/* mlock is not inherited */
	memset(&pin_stats, 0, sizeof(pin_stats));
}

/* Held across fork() in its rank (util/lock.h); the child forgets the parent's pins. */
UTIL_FORK_LOCK(pin_fork, .rank = UTIL_RANK_EMU_PIN, .name = "emu pin_lock", .mutex = &pin_lock,
	       .child = pin_atfork_child)

/* ------------------------------------------------------------------ public */

int emu_mem_set_pin_mode(enum emu_pin_mode mode)
{
	if (mode != EMU_PIN_AUTO && mode != EMU_PIN_MLOCK && mode != EMU_PIN_POPULATE)
		return -EINVAL;
	pthread_mutex_lock(&pin_lock);
	pin_mode = mode;
	pin_mlock_refused = false;
	pthread_mutex_unlock(&pin_lock);
	return 0;
}

void emu__mem_set_pin_count_max(uint32_t max)
{
	pthread_mutex_lock(&pin_lock);
	pin_count_max = max && max < COUNT_MAX ? max : COUNT_MAX;
	pthread_mutex_unlock(&pin_lock);
}

void emu_mem_set_pin_chunk(uint64_t npages)
{
	pthread_mutex_lock(&pin_lock);
	pin_chunk = npages ? npages : DEFAULT_CHUNK;
	pthread_mutex_unlock(&pin_lock);
}

int emu_mem_pin(uint64_t ua, uint64_t npages, struct emu_pin **out)
{
	return emu_mem_pin_dir(ua, npages, true, out);
}

int emu_mem_pin_dir(uint64_t ua, uint64_t npages, bool write, struct emu_pin **out)
{
	struct emu_pin *pin;
	struct pin_alias **aliases;
	uint64_t end, done = 0, chunk;
	unsigned i, naliases = 0;
	int rc;

	if (!npages || !util_is_aligned(ua, EMU_PAGE_SHIFT) || npages > (UINT64_MAX >> EMU_PAGE_SHIFT))
		return -EINVAL;
	if (!util_range_end(ua, npages << EMU_PAGE_SHIFT, &end))
		return -EINVAL;
	if (end > (1ull << EMU_UA_BITS))
		return -EFAULT;
	if (util_should_fail("emu_pin_alloc"))
		return -ENOMEM;
	pin = calloc(1, sizeof(*pin));
	if (!pin)
		return -ENOMEM;
	pin->ua = ua;
	pin->npages = npages;
	rc = emu__mem_probe(ua, end, write, &pin->runs, &pin->nruns);
	if (rc)
		goto err_free;
	pin->min_shift = EMU_UA_BITS;
	for (i = 0; i < pin->nruns; i++)
		if (pin->runs[i].shift < pin->min_shift)
			pin->min_shift = pin->runs[i].shift;
	/* Aliases are made before mlock so that they do not count as locked twice. */
	rc = -ENOMEM;
	if (util_should_fail("emu_pin_aliases"))
		goto err_runs;
	aliases = calloc(pin->nruns, sizeof(*aliases));
	if (!aliases)
		goto err_runs;
	for (i = 0; i < pin->nruns; i++)
		if (pin->runs[i].flags & EMU__RUN_SHARED)
			naliases += (aliases[i] = alias_map(&pin->runs[i])) != NULL;

	pthread_mutex_lock(&pin_lock);
	rc = alias_reserve(naliases);
	if (rc)
		goto err_unpin;
	chunk = pin_chunk;
	for (done = 0; done < npages; done += chunk) {
		uint64_t n = npages - done < chunk ? npages - done : chunk;

		rc = pin_one_chunk(ua + (done << EMU_PAGE_SHIFT), n, write);
		if (rc)
			goto err_unpin;
	}
	tags_set(pin, aliases);
	free(aliases);
	pin->generation = pin_generation;
	pin->next = &pin_list;
	pin->prev = pin_list.prev;
	pin_list.prev->next = pin;
	pin_list.prev = pin;
	pin_stats.pins++;
	pin_stats.pin_meta_bytes += sizeof(*pin) + pin->nruns * sizeof(*pin->runs);
	pthread_mutex_unlock(&pin_lock);
	*out = pin;
	return 0;

err_unpin:
	counts_dec(ua >> EMU_PAGE_SHIFT, done);
	munlock_unpinned(ua >> EMU_PAGE_SHIFT, done);
	if (alias_nfree == alias_top)	/* room reserved for nothing */
		alias_table_free();
	pthread_mutex_unlock(&pin_lock);
	for (i = 0; i < pin->nruns; i++)
		if (aliases[i])
			alias_unmap(aliases[i]);
	free(aliases);
err_runs:
	free(pin->runs);
err_free:
	free(pin);
	return rc;
}

void emu_mem_unpin(struct emu_pin *pin)
{
	if (!pin)
		return;
	pthread_mutex_lock(&pin_lock);
	if (pin->generation == pin_generation) {
		counts_dec(pin->ua >> EMU_PAGE_SHIFT, pin->npages);
		munlock_unpinned(pin->ua >> EMU_PAGE_SHIFT, pin->npages);
		pin->prev->next = pin->next;
		pin->next->prev = pin->prev;
		pin_stats.pins--;
		pin_stats.pin_meta_bytes -= sizeof(*pin) + pin->nruns * sizeof(*pin->runs);
	}
	pthread_mutex_unlock(&pin_lock);
	free(pin->runs);
	free(pin);
}

static const struct emu__backing_run *run_at(const struct emu_pin *pin, uint64_t ua)
{
	unsigned lo = 0, hi = pin->nruns;

	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (pin->runs[mid].start <= ua)
			lo = mid;
		else
			hi = mid;
	}
	return &pin->runs[lo];
}

unsigned emu_pin_page_shift(const struct emu_pin *pin, uint64_t ua)
{
	return run_at(pin, ua)->shift;
}

unsigned emu_pin_min_page_shift(const struct emu_pin *pin)
{
	return pin->min_shift;
}

uint64_t emu_pin_hpa(const struct emu_pin *pin, uint64_t ua)
{
	return emu_mem_ua_to_hpa(ua, run_at(pin, ua)->shift);
}

/* emu_pin_hpas (@be false) or emu_pin_hpas_be: one backing run at a time. */
static void pin_hpas(const struct emu_pin *pin, uint64_t ua, uint64_t n, unsigned step_shift,
		     uint64_t low, bool be, uint64_t *out)
{
	const struct emu__backing_run *run = run_at(pin, ua);
	uint64_t k = 0;

	while (k < n) {
		uint64_t left = (run->end - ua) >> step_shift;
		uint64_t m = left < n - k ? left : n - k;

		if (be)
			emu__hpa_run_be(ua, m, step_shift, run->shift, low, out + k);
		else
			emu__hpa_run(ua, m, step_shift, run->shift, out + k);
		k += m;
		ua += m << step_shift;
		run++;	/* runs are contiguous: the pin's range is covered without holes */
	}
}

void emu_pin_hpas(const struct emu_pin *pin, uint64_t ua, uint64_t n, unsigned step_shift,
		  uint64_t *out)
{
	pin_hpas(pin, ua, n, step_shift, 0, false, out);
}

void emu_pin_hpas_be(const struct emu_pin *pin, uint64_t ua, uint64_t n, unsigned step_shift,
		     uint64_t low, uint64_t *dst)
{
	pin_hpas(pin, ua, n, step_shift, low, true, dst);
}

uint32_t emu_mem_ua_pins(uint64_t ua)
{
	uint32_t c;

	pthread_mutex_lock(&pin_lock);
	c = count_of(ua >> EMU_PAGE_SHIFT);
	pthread_mutex_unlock(&pin_lock);
	return c;
}

/* emu__mem_dma_page's answer for @ua, whose leaf is @l (NULL: none), under pin_lock. */
static uint32_t dma_page_locked(const struct pin_leaf *l, uint64_t ua, uint64_t *alias,
				uint64_t *tag)
{
	unsigned j = (ua >> EMU_PAGE_SHIFT) & (LEAF_PAGES - 1);
	uint32_t c;
	uint64_t t;

	*alias = 0;
	*tag = 0;
	if (!l)
		return 0;
	c = cnt_get(l, j);
	t = tag_get(l, j);
	if ((t & TAG_KIND) == TAG_ALIAS)
		*alias = (t & ~TAG_KIND) | (ua & (EMU_PAGE_SIZE - 1));
	else
		*tag = t;
	return c;
}

uint32_t emu__mem_dma_page(uint64_t ua, uint64_t *alias, uint64_t *tag)
{
	uint32_t c;

	pthread_mutex_lock(&pin_lock);
	c = dma_page_locked(leaf_find(ua >> EMU_PAGE_SHIFT >> LEAF_SHIFT), ua, alias, tag);
	pthread_mutex_unlock(&pin_lock);
	return c;
}

/*
 * Why a batch: a 64 KiB transfer through 4 KiB TCEs asked for its 16 pages
 * one by one, a lock round and a hash lookup each (about 5% of
 * bench_device's run); here it is one lock round per transfer and one
 * lookup per leaf the pages fall in, in order.
 */
uint64_t emu__mem_dma_pages(struct emu__dma_page *p, uint64_t n)
{
	const struct pin_leaf *l = NULL;
	uint64_t i, key = UINT64_MAX;

	pthread_mutex_lock(&pin_lock);
	for (i = 0; i < n; i++) {
		uint64_t k = p[i].ua >> EMU_PAGE_SHIFT >> LEAF_SHIFT;

		if (k != key) {
			key = k;
			l = leaf_find(k);
		}
		if (!dma_page_locked(l, p[i].ua, &p[i].alias, &p[i].tag))
			break;
	}
	pthread_mutex_unlock(&pin_lock);
	return i;
}

/* True when the VMA holding @ua is mlocked (smaps VmFlags "lo"): the slow path. */
static bool vma_locked(uint64_t ua)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false, locked = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (sscanf(line, "%llx-%llx ", &s, &e) == 2 && strchr(line, '-') &&
		    line[strcspn(line, " ")] == ' ' && strncmp(line, "VmFlags", 7)) {
			if (in)
				break;
			in = ua >= s && ua < e;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			locked = strstr(line, " lo") != NULL;
			break;
		}
	}
	fclose(f);
	return locked;
}

/* Records @pfn as the new frame of the pinned page at @ua if its tag is still @old. */
static void retag(uint64_t ua, uint64_t old, uint64_t pfn)
{
	uint64_t page = ua >> EMU_PAGE_SHIFT;
	struct pin_leaf *l;

	pthread_mutex_lock(&pin_lock);
	l = leaf_find(page >> LEAF_SHIFT);
	if (l && tag_get(l, page & (LEAF_PAGES - 1)) == old)
		tag_pfn(l, page & (LEAF_PAGES - 1), pfn);
	pthread_mutex_unlock(&pin_lock);
}

/*
 * Whether the mapping holding [ua, end) (page aligned, inside one VMA as
 * PROCMAP_QUERY just found it) is mlocked: msync with MS_INVALIDATE alone
 * fails with EBUSY on a VM_LOCKED VMA and does nothing else (no page is
 * touched; the kernel's msync only looks at the VMAs for it).  About 0.1
 * microsecond, against 0.45 to 1 for a pagemap read of 16 pages.
 */
static uint64_t check_counts[3];	/* fast, full, lock queries: atomic, for tests */

static bool range_locked(uint64_t ua, uint64_t end)
{
	__atomic_add_fetch(&check_counts[2], 1, __ATOMIC_RELAXED);
	return msync((void *)(uintptr_t)ua, (size_t)(end - ua), MS_INVALIDATE) && errno == EBUSY;
}

/*
 * Every byte of [ua, end) lies in a VMA that allows the access: 0, -EFAULT
 * with *bad the first byte that does not, or -ENOTTY without PROCMAP_QUERY.
 * @memo (may be NULL) is the last VMA found allowing the access during the
 * same transfer's check: a byte inside it needs no second query.  (A
 * transfer over pages scattered in one mapping asked once per segment: 16
 * queries for 64 KiB through 4 KiB TCEs.)  The answer is as old as the
 * check's first query, within the gap between check and copy that the
 * essay of emu/phb_dma.c already admits.
 * With @locked (may be NULL): *locked is cleared unless every VMA of the
 * range is mlocked (range_locked, asked once per VMA per transfer and
 * remembered in @memo); the protection is checked all the same.
 */
static int prot_check(uint64_t ua, uint64_t end, bool write, struct emu__vma_memo *memo,
		      bool *locked, uint64_t *bad)
{
	uint64_t need = write ? EMU_PROCMAP_VMA_WRITABLE : EMU_PROCMAP_VMA_READABLE;

	while (ua < end) {
		uint64_t stop;
		unsigned l = EMU__VMA_LOCK_UNKNOWN;

		if (memo && ua >= memo->start && ua < memo->end) {
			stop = memo->end < end ? memo->end : end;
			l = memo->locked;
		} else {
			struct emu_procmap_query q = {
				.size = sizeof(q),
				.query_flags = EMU_PROCMAP_COVERING_OR_NEXT_VMA,
				.query_addr = ua,
			};
			int fd = emu__mem_maps_fd();

			if (fd < 0)
				return -ENOTTY;
			if (ioctl(fd, EMU_PROCMAP_QUERY, &q)) {
				if (errno == ENOTTY || errno == EINVAL)
					return -ENOTTY;
				*bad = ua;
				return -EFAULT;
			}
			if (q.vma_start > ua || !(q.vma_flags & need)) {
				*bad = ua;
				return -EFAULT;
			}
			if (memo)
				*memo = (struct emu__vma_memo){ q.vma_start, q.vma_end,
								EMU__VMA_LOCK_UNKNOWN };
			stop = q.vma_end < end ? q.vma_end : end;
		}
		if (locked && *locked) {
			if (l == EMU__VMA_LOCK_UNKNOWN) {
				l = range_locked(ua, stop) ? EMU__VMA_LOCKED : EMU__VMA_UNLOCKED;
				if (memo)
					memo->locked = l;
			}
			*locked = l == EMU__VMA_LOCKED;
		}
		ua = stop;
	}
	return 0;
}

/*
 * The full check: the frame of every page from pagemap (one pread per 64
 * pages), then the protection.  See emu__mem_check_pages.
 */
static int check_frames(uint64_t ua, uint64_t npages, const struct emu__dma_page *pages,
			bool write, struct emu__vma_memo *memo, uint64_t *bad)
{
	uint64_t pm[64], page = ua >> EMU_PAGE_SHIFT, done = 0;
	int rc;

	while (done < npages) {
		uint64_t n = npages - done < 64 ? npages - done : 64, k;

		if (pagemap_read(page + done, n, pm)) {
			*bad = (page + done) << EMU_PAGE_SHIFT;
			return -EFAULT;
		}
		for (k = 0; k < n; k++) {
			uint64_t t = pages[done + k].tag, e = pm[k], at = (page + done + k) << EMU_PAGE_SHIFT;

			if (!(e & (PM_PRESENT | PM_SWAPPED)) || !t) {
				*bad = at;
				return -EFAULT;
			}
			if ((t & TAG_KIND) != TAG_PFN)
				continue;
			if ((e & PM_PRESENT) && (e & PM_PFN_MASK) == (t >> EMU_PAGE_SHIFT))
				continue;
			/* Another frame (or swapped): migrated, or another mapping? */
			if (!(e & PM_PRESENT) || !vma_locked(at)) {
				*bad = at;
				return -EFAULT;
			}
			retag(at, t, e & PM_PFN_MASK);
		}
		done += n;
	}
	rc = prot_check(ua, ua + (npages << EMU_PAGE_SHIFT), write, memo, NULL, bad);
	return rc == -ENOTTY ? 1 : rc;
}

/*
 * Why a page tagged with its frame may skip the frame check when its
 * mapping is still mlocked: the pin mlocked it (frames are only recorded
 * for mlocked pins), and the full check accepts a page whose frame changed
 * exactly when its VMA is still mlocked (the kernel migrated it).  So for
 * such a page the frame adds nothing once the VMA is known to be locked: a
 * page the process unmapped leaves a hole (the protection query fails), a
 * mapping it put in the place of the pinned one is a new VMA, not locked
 * (msync says so, and the full check runs).  What the full check still
 * decides: a range the process munlocked itself, pages of a mapping mlocked
 * with MLOCK_ONFAULT that were never touched (not present: the full check
 * refuses them, this one lets the copy fault them in), pages without a
 * frame tag, and every failure (the fault is then reported where the full
 * check reports it).  Cost per transfer in one mapping: one PROCMAP_QUERY
 * and one msync, where the full check reads pagemap (the kernel walks the
 * page table and reads each page's struct page: 0.45 microseconds for 16
 * pages with warm caches, about 1 in bench_device).
 */
int emu__mem_check_pages(uint64_t ua, uint64_t npages, const struct emu__dma_page *pages,
			 bool write, struct emu__vma_memo *memo, uint64_t *bad)
{
	uint64_t k;

	for (k = 0; k < npages && (pages[k].tag & TAG_KIND) == TAG_PFN; k++)
		;
	if (k == npages) {
		bool locked = true;

		if (!prot_check(ua, ua + (npages << EMU_PAGE_SHIFT), write, memo, &locked, bad) &&
		    locked) {
			__atomic_add_fetch(&check_counts[0], 1, __ATOMIC_RELAXED);
			return 0;
		}
	}
	__atomic_add_fetch(&check_counts[1], 1, __ATOMIC_RELAXED);
	return check_frames(ua, npages, pages, write, memo, bad);
}

void emu__mem_check_counts(uint64_t *fast, uint64_t *full, uint64_t *lock_queries)
{
	*fast = __atomic_load_n(&check_counts[0], __ATOMIC_RELAXED);
	*full = __atomic_load_n(&check_counts[1], __ATOMIC_RELAXED);
	*lock_queries = __atomic_load_n(&check_counts[2], __ATOMIC_RELAXED);
}

uint32_t emu_mem_hpa_pins(uint64_t hpa)
{
	uint64_t ua;

	if (!emu_mem_hpa_to_ua(hpa, &ua))
		return 0;
	return emu_mem_ua_pins(ua);
}

/* Asks the kernel where @n pinned pages live and counts them.  Under pin_lock. */
static void count_nodes(void **pages, int *status, unsigned n, uint64_t *per_node, unsigned nnodes,
			uint64_t *unknown)
{
	if (move_pages(0, n, pages, NULL, status, 0))
		for (unsigned i = 0; i < n; i++)
			status[i] = -1;
	for (unsigned i = 0; i < n; i++) {
		if (status[i] >= 0 && (unsigned)status[i] < nnodes)
			per_node[status[i]]++;
		else
			(*unknown)++;
	}
}

int emu_mem_pinned_per_node(uint64_t *per_node, unsigned nnodes, uint64_t *unknown)
{
	enum { BATCH = 512 };
	void **pages;
	int *status;
	unsigned n = 0;

	pages = malloc(BATCH * sizeof(*pages));
	status = malloc(BATCH * sizeof(*status));
	if (!pages || !status) {
		free(pages);
		free(status);
		return -ENOMEM;
	}
	pthread_mutex_lock(&pin_lock);
	for (uint64_t i = 0; i < pin_leaves.cap; i++) {
		struct pin_leaf *l = (struct pin_leaf *)(uintptr_t)pin_leaves.slots[i].val;

		for (unsigned j = 0; l && j < LEAF_PAGES; j++) {
			if (!cnt_get(l, j))
				continue;
			pages[n++] = (void *)(uintptr_t)(((l->key << LEAF_SHIFT) | j) << EMU_PAGE_SHIFT);
			if (n == BATCH) {
				count_nodes(pages, status, n, per_node, nnodes, unknown);
				n = 0;
			}
		}
	}
	if (n)
		count_nodes(pages, status, n, per_node, nnodes, unknown);
	pthread_mutex_unlock(&pin_lock);
	free(pages);
	free(status);
	return 0;
}

void emu__mem_pin_stats(struct emu_mem_stats *st)
{
	pthread_mutex_lock(&pin_lock);
	st->pins = pin_stats.pins;
	st->pinned_pages = pin_stats.pinned_pages;
	st->pin_refs = pin_stats.pin_refs;
	st->pin_meta_bytes = pin_stats.pin_meta_bytes + util_u64map_bytes(&pin_leaves) +
			     pin_leaves.n * sizeof(struct pin_leaf) +
			     alias_cap * (sizeof(*alias_tab) + sizeof(*alias_free)) +
			     (alias_top - alias_nfree) * sizeof(struct pin_alias);
	st->unpin_underflows = pin_stats.unpin_underflows;
	st->pin_aliases = alias_top - alias_nfree;
	st->mlocked = pin_ever_mlocked && !pin_mlock_refused && pin_mode != EMU_PIN_POPULATE;
	pthread_mutex_unlock(&pin_lock);
}

/*
 * The alias table: ids, the free stack, and each live alias's refs against
 * the pages tagged with it (which lie inside its range).  Under pin_lock.
 */
static int alias_check(uint64_t alias_pages)
{
	uint64_t live = 0, refs = 0;
	int rc = 0;

	for (uint32_t i = 0; i < alias_nfree; i++) {
		if (alias_free[i] >= alias_top || alias_tab[alias_free[i]]) {
			fprintf(stderr, "emu_mem_check: free alias id %u is in use\n", alias_free[i]);
			rc = -EUCLEAN;
		}
	}
	for (uint32_t id = 0; id < alias_top; id++) {
		const struct pin_alias *a = alias_tab[id];
		uint64_t n = 0;

		if (!a)
			continue;
		live++;
		refs += a->refs;
		for (uint64_t ua = a->ua; ua < a->ua + a->len; ua += EMU_PAGE_SIZE) {
			const struct pin_leaf *l = leaf_find(ua >> (LEAF_SHIFT + EMU_PAGE_SHIFT));
			unsigned j = (ua >> EMU_PAGE_SHIFT) & (LEAF_PAGES - 1);

			n += l && kind_get(l, j) == KIND_ALIAS && l->payload[j] == id;
		}
		if (a->id != id || !a->refs || n != a->refs) {
			fprintf(stderr, "emu_mem_check: alias %u (id %u) has %llu refs, %llu pages name it\n",
				id, a->id, (unsigned long long)a->refs, (unsigned long long)n);
			rc = -EUCLEAN;
		}
	}
	if (live + alias_nfree != alias_top || refs != alias_pages || alias_top > alias_cap) {
		fprintf(stderr, "emu_mem_check: aliases %llu live + %u free of %u (cap %u), "
			"%llu refs, %llu pages tagged\n", (unsigned long long)live, alias_nfree,
			alias_top, alias_cap, (unsigned long long)refs, (unsigned long long)alias_pages);
		rc = -EUCLEAN;
	}
	return rc;
}

int emu__mem_pin_check(void)
{
	uint64_t refs = 0, pages = 0, leaves = 0, alias_pages = 0, i;
	struct emu_pin *pin;
	int rc = 0;

	pthread_mutex_lock(&pin_lock);
	for (i = 0; i < pin_leaves.cap; i++) {
		struct pin_leaf *l = (struct pin_leaf *)(uintptr_t)pin_leaves.slots[i].val;
		uint32_t nz = 0;

		if (!l)
			continue;
		leaves++;
		for (unsigned j = 0; j < LEAF_PAGES; j++) {
			uint32_t c = cnt_get(l, j);
			unsigned kind = kind_get(l, j);
			bool bad = !c != (kind == KIND_NONE) || (kind != KIND_ALIAS && kind != KIND_PFN && l->payload[j]);

			refs += c;
			nz += !!c;
			if (kind == KIND_ALIAS) {
				alias_pages++;
				bad |= l->payload[j] >= alias_top || !alias_tab[l->payload[j]];
			}
			if (bad) {
				fprintf(stderr, "emu_mem_check: page %#llx count %u kind %u payload %#x\n",
					(unsigned long long)(((l->key << LEAF_SHIFT) | j) << EMU_PAGE_SHIFT),
					c, kind, l->payload[j]);
				rc = -EUCLEAN;
			}
		}
		pages += nz;
		if (nz != l->nonzero || !nz) {
			fprintf(stderr, "emu_mem_check: leaf %#llx nonzero %u, counted %u\n",
				(unsigned long long)l->key, l->nonzero, nz);
			rc = -EUCLEAN;
		}
		if (leaf_find(l->key) != l) {
			fprintf(stderr, "emu_mem_check: leaf %#llx unreachable\n",
				(unsigned long long)l->key);
			rc = -EUCLEAN;
		}
	}
	if (leaves != pin_leaves.n || refs != pin_stats.pin_refs || pages != pin_stats.pinned_pages) {
		fprintf(stderr, "emu_mem_check: leaves %llu/%llu refs %llu/%llu pages %llu/%llu\n",
			(unsigned long long)leaves, (unsigned long long)pin_leaves.n,
			(unsigned long long)refs, (unsigned long long)pin_stats.pin_refs,
			(unsigned long long)pages, (unsigned long long)pin_stats.pinned_pages);
		rc = -EUCLEAN;
	}
	refs = 0;
	for (pin = pin_list.next; pin != &pin_list; pin = pin->next) {
		struct leaf_cursor cur = LEAF_CURSOR_INIT;

		refs += pin->npages;
		for (i = 0; i < pin->npages; i++) {
			if (!count_at(&cur, (pin->ua >> EMU_PAGE_SHIFT) + i)) {
				fprintf(stderr, "emu_mem_check: page %#llx of a live pin is not pinned\n",
					(unsigned long long)(pin->ua + (i << EMU_PAGE_SHIFT)));
				rc = -EUCLEAN;
				break;
			}
		}
	}
	if (refs != pin_stats.pin_refs) {
		fprintf(stderr, "emu_mem_check: live pins hold %llu pages, counters %llu\n",
			(unsigned long long)refs, (unsigned long long)pin_stats.pin_refs);
		rc = -EUCLEAN;
	}
	if (alias_check(alias_pages))
		rc = -EUCLEAN;
	pthread_mutex_unlock(&pin_lock);
	return rc;
}
