/* SPDX-License-Identifier: MIT */
/*
 * emu/mem.h: the emulated machine's host physical memory, the bottom layer.
 *
 * Concepts
 *   frame     A system page (EMU_PAGE_SIZE, 4 KiB on x86) of host memory as
 *             the emulated POWER machine sees it: it has a host physical
 *             address (hpa) and a host virtual address (hva) where the
 *             process can reach it.
 *   pin       A user range whose frames are faulted in writable, locked
 *             (mlock where the process may) and counted as pinned.  Each
 *             frame has a pin count; a frame is "pinned" while it is > 0.
 *             The DMA engine only ever touches pinned frames.
 *   backing   The page size that backs a user address: EMU_PAGE_SHIFT for
 *             normal memory (THP included: it may be split), the huge page
 *             shift for hugetlbfs memory.  Read from the kernel by default;
 *             a test may install an oracle instead (check_mmreg
 *             pageshift_from_alignment_and_hugetlb_backing).
 *   table memory
 *             Zeroed, physically contiguous, naturally aligned blocks on a
 *             given NUMA node, for TCE table levels.  An indirect TCE holds
 *             such a block's hpa, so the emulated hardware walks tables from
 *             physical memory alone.
 *
 * The hpa space
 *   hpa bits 48..55 name a zone, the rest an address inside it:
 *     zone s (12 <= s < 48): user memory backed by pages of 2^s bytes.  The
 *       page number ua >> s is scrambled by a bijection on 48 - s bits, so
 *       consecutive user pages get non-consecutive hpas (code that assumes
 *       contiguity is caught) while each backing page is one contiguous run
 *       (a 2 MiB hugetlbfs page has 2 MiB of consecutive hpas).
 *     zone 1: table memory, hpa = zone | hva (contiguous by construction).
 *   The hpa of a user byte depends only on its ua and backing, so the same
 *   page pinned twice has the same hpa, as on real hardware.
 *
 * Units: ua, hva, hpa in bytes; npages in system pages (EMU_PAGE_SIZE).
 *
 * Errors: 0 or a negative errno, never errno itself.
 *
 * Locks: one mutex for the pin counts, one for table memory; both are leaves
 * (no other lock is taken under them).  Every function may be called from any
 * thread.
 *
 * Fork: a child starts with nothing pinned (pins, like mlock, belong to the
 * parent's pages); table memory stays allocated in the child's copy.
 */
#ifndef SPAPRTCE_EMU_MEM_H
#define SPAPRTCE_EMU_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_PAGE_SHIFT 12u
#define EMU_PAGE_SIZE (1ull << EMU_PAGE_SHIFT)
/* User addresses must lie below 2^48 (x86-64 four-level paging). */
#define EMU_UA_BITS 48u
#define EMU_HPA_ZONE_SHIFT 48u
#define EMU_HPA_ZONE_TABLE 1u

/* ---------------------------------------------------------------- pinning */

enum emu_pin_mode {
	EMU_PIN_AUTO,		/* mlock; fall back to populate-only when refused (default) */
	EMU_PIN_MLOCK,		/* mlock or fail with -ENOMEM */
	EMU_PIN_POPULATE,	/* fault in writable, do not mlock */
};

struct emu_pin;

/* Selects how later pins lock memory.  Returns 0, or -EINVAL for an unknown mode. */
int emu_mem_set_pin_mode(enum emu_pin_mode mode);

/*
 * emu_mem_pin - fault in, lock and count the frames of a user range.
 * @ua:     start, EMU_PAGE_SIZE aligned
 * @npages: length in system pages, > 0
 * @out:    the pin on success
 *
 * Pins in chunks (emu_mem_set_pin_chunk); each chunk is a fault-injection point.
 * Returns 0, -EINVAL (ua unaligned, npages 0, range wraps), -EFAULT (part of
 * the range is unmapped, read-only, or at or above 2^EMU_UA_BITS; or faulting
 * in failed), -ENOMEM (bookkeeping allocation, or mlock refused in
 * EMU_PIN_MLOCK mode).  On failure nothing is left pinned or locked.
 */
int emu_mem_pin(uint64_t ua, uint64_t npages, struct emu_pin **out);
/*
 * emu_mem_pin_dir - the same, for the access the device will make: with
 * @write false (a read-only pin, the kernel's pin without FOLL_WRITE) the
 * range need only be readable, is faulted in for reading, and a shared
 * file mapping needs no dirty tracking.  emu_mem_pin is @write true.
 */
int emu_mem_pin_dir(uint64_t ua, uint64_t npages, bool write, struct emu_pin **out);

/* Drops the pin: pin counts go down, frames that reach 0 are munlocked.  Never fails. */
void emu_mem_unpin(struct emu_pin *pin);

/* Backing page shift at @ua, which must lie inside @pin. */
unsigned emu_pin_page_shift(const struct emu_pin *pin, uint64_t ua);
/* Smallest backing page shift over the whole pin. */
unsigned emu_pin_min_page_shift(const struct emu_pin *pin);
/* hpa of the byte at @ua, which must lie inside @pin. */
uint64_t emu_pin_hpa(const struct emu_pin *pin, uint64_t ua);
/*
 * hpas of @n pages of 2^@step_shift bytes from @ua into @out (the run must
 * lie inside @pin): the batched form of emu_pin_hpa for mapping runs of
 * TCEs, one backing lookup per backing run and one scramble per backing page.
 */
void emu_pin_hpas(const struct emu_pin *pin, uint64_t ua, uint64_t n, unsigned step_shift,
		  uint64_t *out);
/*
 * The same hpas as a hardware table holds them: htobe64(hpa | @low) into
 * @dst, a shared array (util/simd.h: each entry written by one
 * single-copy-atomic store, a release fence after the last), where @low
 * holds bits below 2^@step_shift (a TCE's permissions).  Lets the table's
 * writer compute entries in place instead of through a buffer of hpas.
 */
void emu_pin_hpas_be(const struct emu_pin *pin, uint64_t ua, uint64_t n, unsigned step_shift,
		     uint64_t low, uint64_t *dst);

/*
 * emu_mem_unpin_unheld - the record of an unpin of @npages system pages
 * from @ua by a caller that holds no pin of them: "a page unpinned more
 * times than it was pinned" (the kernel's tce_iommu_unuse_page on a page a
 * hypercall mapped into a v1 window, quirk Q17 of docs/quirks.md).  Counts
 * the event and changes no pin count: the page stays pinned for its real
 * holders (emu/mem_pin_underflow.c says why).  Never fails.
 */
void emu_mem_unpin_unheld(uint64_t ua, uint64_t npages);

struct emu_mem_unheld {
	uint64_t unpins;		/* pages unpinned by a caller holding no pin of them */
	uint64_t unpins_unpinned;	/* of those, pages that no pin held at all */
	uint64_t last_ua;		/* the last such page (0: none yet) */
};
/* The record so far (process-wide; a forked child inherits the parent's). */
void emu_mem_unheld_unpins(struct emu_mem_unheld *out);

/* hpa of the byte at @ua when backed by pages of 2^@shift bytes (no pin needed). */
uint64_t emu_mem_ua_to_hpa(uint64_t ua, unsigned shift);
/* Inverse for user zones: sets *ua and returns true; false for other zones. */
bool emu_mem_hpa_to_ua(uint64_t hpa, uint64_t *ua);
/* Pin count of the frame holding @hpa; 0 when not pinned or not user memory. */
uint32_t emu_mem_hpa_pins(uint64_t hpa);
/* Pin count of the system page holding user address @ua. */
uint32_t emu_mem_ua_pins(uint64_t ua);

/*
 * Pinned pages per NUMA node: per_node[n] += the pinned system pages that
 * live on node n (n < @nnodes), *unknown += those whose node the kernel
 * did not report (or n >= nnodes).  Walks every pinned page (move_pages(2)
 * in query mode, in batches).  Returns 0 or -ENOMEM.
 */
int emu_mem_pinned_per_node(uint64_t *per_node, unsigned nnodes, uint64_t *unknown);

/*
 * A page-size oracle replaces the kernel's answer for the backing of user
 * memory (pinning itself stays real).  It returns the backing shift at @ua and
 * sets *run_end to the end of the run with that same backing (> ua).
 * emu_mem_set_page_shift_oracle(NULL, NULL) restores the kernel's answer.
 */
typedef unsigned (*emu_page_shift_fn)(void *ctx, uint64_t ua, uint64_t *run_end);
void emu_mem_set_page_shift_oracle(emu_page_shift_fn fn, void *ctx);

/* Test tunable: pages per pin chunk (default 16384, i.e. 64 MiB); 0 restores it. */
void emu_mem_set_pin_chunk(uint64_t npages);

/* The most one emu_mem_hugetlb_reserve may add to a pool: 1 GiB. */
#define EMU_HUGETLB_MAX_RAISE (1ull << 30)

/*
 * Makes at least @pages huge pages of 2^@shift bytes free in the host's
 * hugetlbfs pool, raising nr_hugepages when needed (root only), by at most
 * EMU_HUGETLB_MAX_RAISE bytes and at most half of MemAvailable.  *prev is
 * the pool size to restore with emu_mem_hugetlb_restore, or -1 when nothing
 * was changed.  The library also restores the pool by itself at exit and
 * on fatal signals (emu/mem_hugetlb.c).  Returns 0, -EINVAL (shift),
 * -ENOENT (no pool of that size), -E2BIG (over EMU_HUGETLB_MAX_RAISE),
 * -ENOMEM (over half of MemAvailable, or the kernel could not find the
 * pages; the pool is restored), -EPERM (the pool may not be changed).
 */
int emu_mem_hugetlb_reserve(unsigned shift, uint64_t pages, long *prev);
/* Gives the pool back the size @prev from emu_mem_hugetlb_reserve (-1: nothing). */
void emu_mem_hugetlb_restore(unsigned shift, long prev);

/*
 * For the DMA engine (emu/phb_dma.c) only: how a device reaches the pinned
 * page at @ua (see the essay of emu/mem_pin.c).  Returns its pin count; when
 * > 0 either *alias is the address of the byte @ua in the library's own
 * mapping of the same page (shared memory: copy there with memcpy), or
 * *alias is 0 and *tag is the page's identity to check with
 * emu__mem_check_pages before a fault-safe copy at @ua itself.
 */
uint32_t emu__mem_dma_page(uint64_t ua, uint64_t *alias, uint64_t *tag);
/* One page of emu__mem_dma_pages: @ua in; *alias and *tag as emu__mem_dma_page sets them. */
struct emu__dma_page {
	uint64_t ua;
	uint64_t alias;
	uint64_t tag;
};
/*
 * emu__mem_dma_page for the pages p[0..n) under one lock round.  Returns
 * the index of the first page that is not pinned (@n when all are); the
 * entries up to it are filled (it gets alias 0 and tag 0), the ones after
 * it are untouched.
 */
uint64_t emu__mem_dma_pages(struct emu__dma_page *p, uint64_t n);
/*
 * Checks that the @npages pages from @ua (page aligned) are still the pinned
 * ones whose tags emu__mem_dma_page(s) gave (@pages, in order), and that the process's
 * mapping allows the access (@write: the device writes).  Returns 0 (a
 * memcpy is safe), 1 (the pages are the pinned ones but the protection
 * could not be checked: copy with process_vm_readv/writev), or -EFAULT with
 * *bad the address of the first page that fails.  @memo (may be NULL)
 * carries the mapping found allowing the access, and whether it is still
 * mlocked, from one call to the next of the same transfer ({0, 0,
 * EMU__VMA_LOCK_UNKNOWN} before the first), so that pages scattered in one
 * mapping ask the kernel about it once.  Pages tagged with their frame in
 * a mapping that is still mlocked need no frame read (emu/mem_pin.c).
 */
enum { EMU__VMA_LOCK_UNKNOWN, EMU__VMA_LOCKED, EMU__VMA_UNLOCKED };
struct emu__vma_memo {
	uint64_t start, end;
	unsigned locked;	/* EMU__VMA_*: whether the VMA was found mlocked */
};
int emu__mem_check_pages(uint64_t ua, uint64_t npages, const struct emu__dma_page *pages,
			 bool write, struct emu__vma_memo *memo, uint64_t *bad);

/* ----------------------------------------------------------- table memory */

/*
 * emu_mem_table_alloc - a zeroed, contiguous block of table memory.
 * @node:  NUMA node; emu_mem_node() for the host bridge's node
 * @size:  bytes, a power of two >= EMU_PAGE_SIZE
 * @hva:   where the process reads and writes the block
 * @hpa:   its host physical address, aligned to @size
 *
 * A fault-injection point.  Returns 0, -EINVAL (size not a power of two or
 * below EMU_PAGE_SIZE; node does not exist: never a silent fallback),
 * -ENOMEM.  On failure nothing is allocated.
 */
int emu_mem_table_alloc(int node, uint64_t size, void **hva, uint64_t *hpa);

/* Frees a block from emu_mem_table_alloc (same size).  Never fails. */
void emu_mem_table_free(void *hva, uint64_t size);

/* hva of [hpa, hpa + len) when it lies inside one live table block, else NULL. */
void *emu_mem_table_hva(uint64_t hpa, uint64_t len);

/* NUMA node of the host bridge (table memory goes there); 0 by default. */
int emu_mem_node(void);
/* Sets the host bridge's node.  Returns 0 or -EINVAL if the node does not exist. */
int emu_mem_set_node(int node);
/* True when @node exists on this machine. */
bool emu_mem_node_exists(int node);

/* ------------------------------------------------------------------ stats */

struct emu_mem_stats {
	uint64_t pins;			/* live struct emu_pin */
	uint64_t pinned_pages;		/* frames with pin count > 0 */
	uint64_t pin_refs;		/* sum of pin counts */
	uint64_t table_blocks;		/* live table blocks */
	uint64_t table_bytes;		/* bytes in live table blocks */
	uint64_t table_reserved;	/* bytes taken from the OS for table memory */
	uint64_t pin_meta_bytes;	/* bookkeeping bytes for pin counts and pins */
	uint64_t unpin_underflows;	/* unpins of frames that were not pinned */
	uint64_t pin_aliases;		/* live aliases of pinned shared memory (emu/mem_pin.c) */
	bool mlocked;			/* pins are mlocked (else populate-only) */
};

void emu_mem_get_stats(struct emu_mem_stats *st);

/*
 * Debug invariant checker: pin counts agree with the live pins, and table
 * accounting with the live blocks.  Returns 0, or -EUCLEAN with a message on
 * stderr.
 */
int emu_mem_check(void);

#endif
