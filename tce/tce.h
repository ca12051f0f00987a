/* SPDX-License-Identifier: MIT */
/*
 * tce/tce.h: TCE tables as the OS driver owns them (the kernel's
 * arch/powerpc/kernel/iommu.c and powernv/pci-ioda-tce.c).
 *
 * Concepts
 *   table    One DMA window's translation table: entries it_offset ...
 *            it_offset + it_size - 1, each translating one IOMMU page of
 *            2^it_page_shift bytes.  A tree of 1 to 5 levels
 *            (it_indirect_levels = levels - 1) of equal blocks of
 *            it_level_size entries, in table memory of emu/mem.h on one NUMA
 *            node.  Only the top block exists after creation; lower blocks
 *            are allocated when an entry below them is first written and live
 *            until the table is destroyed.
 *   hardware entry
 *            Big-endian 64-bit: hpa of the IOMMU page | TCE_PCI_READ (0x1,
 *            the device may read memory) | TCE_PCI_WRITE (0x2, it may write
 *            it).  0 is empty.  Storing WRITE always adds READ (pnv_tce_xchg).
 *            An indirect entry holds the hpa of the next level's block |
 *            READ | WRITE, so the emulated host bridge walks the table from
 *            the top block's hpa (tce_table_hpa) and physical memory alone.
 *   shadow   The userspace view (the kernel's it_userspace): a second tree of
 *            the same shape and its own blocks, allocated in parallel, whose
 *            leaf entries hold the big-endian ua that was mapped (0: none).
 *            Its indirect entries use the hardware format too (child hpa |
 *            READ | WRITE), so one walk serves both trees.
 *   kill     Invalidation of the device's TCE cache for a range of entries.
 *            Entry operations never kill by themselves; they add what they
 *            changed to a caller's struct tce_kill_batch, whose flush hands
 *            each merged range to the table's kill callback once per
 *            operation, as the kernel's iommu_tce_kill after iommu_tce_xchg_no_kill.
 *   old entries
 *            Every operation that overwrites or clears valid entries (xchg,
 *            map, unmap, store, store_run) reports them in one way: as runs
 *            {entry, ua, n}, n consecutive entries that held n consecutive
 *            user pages (struct tce_old_run), handed in batches to one
 *            callback type (tce_old_fn), so that the container can drop the
 *            mapped count of the region each run lies in, a run at a time.
 *
 * Units
 *   entry    Absolute TCE number: bus address >> it_page_shift.  Kill ranges
 *            and struct tce_old_run use entries.
 *   index    entry - it_offset, in the same IOMMU pages (2^it_page_shift
 *            bytes).  Internal to the walk; the API speaks entries.
 *   npages   A count of entries, i.e. of IOMMU pages (not system pages);
 *            so is a tce_old_run's n, whose uas step by 2^it_page_shift.
 *   hpa, ua, bus_offset, window_size: bytes.  it_allocated_size: bytes.
 *   last is inclusive, end exclusive.
 *
 * Invariants (tce_table_check verifies them when no writer is running)
 *   T1 an indirect entry is non-zero exactly when its lower block exists,
 *      and then holds that block's hpa | READ | WRITE;
 *   T2 a shadow leaf entry is non-zero exactly when the hardware entry is
 *      valid (non-zero permission bits), and a non-zero hardware entry has
 *      READ set and an hpa aligned to the IOMMU page (quirks=kernel only:
 *      a hardware entry may also be an aligned hpa without permission bits,
 *      and a shadow entry may be non-zero beside an invalid one: KVM's
 *      writes, tce_table_map_noperm and tce_table_clear_hw);
 *   T3 the per-level block counters equal the blocks reachable in each tree;
 *   T4 entries beyond it_size (in the last blocks) are 0, and no lower block
 *      lies beyond it;
 *   T5 every hardware leaf block has a shadow twin and a node in the
 *      table's leaf list (which the bulk clear uses), and every node names
 *      one;
 *   T6 every valid hardware entry and every non-zero shadow entry lies in a
 *      unit of indexes that the table's written map marks (tce/tce_priv.h),
 *      which the clear and the release rely on to skip the rest.
 *   A failed operation leaves every entry as it was (levels it allocated
 *   before failing stay, as in the kernel; they are freed with the table).
 *
 * Concurrency and locks
 *   There is no table lock.  Entry operations (xchg, map, unmap, read,
 *   shadow read/write) may run concurrently from any threads on any entries,
 *   as the kernel runs MAP and UNMAP without the container mutex:
 *     - each hardware and each shadow entry is changed by one atomic
 *       exchange, so the hardware never sees a torn entry and every old
 *       value is reported to exactly one writer (a table created with
 *       TCE_TABLE_SERIAL_WRITERS, whose owner serialises every writer, is
 *       written with an atomic load and an atomic store instead);
 *     - a missing level is allocated and installed with a compare-and-
 *       exchange against 0; the loser frees its block and uses the winner's
 *       (pnv_tce, the v5.4 race fix);
 *     - the hardware and shadow entries of one entry are two exchanges, not
 *       one: concurrent writers of the *same* entry may leave them paired
 *       differently (as in the kernel).  Callers that care serialise writers
 *       of one entry themselves.
 *   Creation, the last put and tce_table_check must not race with entry
 *   operations on the same table.  References are atomic.  The kill
 *   callback is called from the thread that flushes, with whatever locks it
 *   holds; it must not call back into this table's entry operations.
 *   No function of this layer takes a lock of its own except through
 *   emu_mem_table_alloc/free (emu's table lock, a leaf).
 *
 * Errors: 0 or a negative errno.  Functions that create an object return an
 * int and deliver it through an out-parameter.
 */
#ifndef SPAPRTCE_TCE_H
#define SPAPRTCE_TCE_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCE_PCI_READ 0x1ull
#define TCE_PCI_WRITE 0x2ull
#define TCE_PCI_RW (TCE_PCI_READ | TCE_PCI_WRITE)

#define TCE_LEVELS_MAX 5u
/* IOMMU page shifts accepted (4 KiB ... 32 TiB); the 55-bit rule cuts the top further. */
#define TCE_PAGE_SHIFT_MIN 12u
#define TCE_PAGE_SHIFT_MAX 45u

/* DMA direction of an entry, i.e. its permission bits. */
enum tce_dir {
	TCE_DIR_NONE = 0,				/* empty, no access */
	TCE_DIR_TO_DEVICE = TCE_PCI_READ,		/* device reads memory */
	TCE_DIR_FROM_DEVICE = TCE_PCI_WRITE,		/* stored as READ | WRITE */
	TCE_DIR_BIDIRECTIONAL = TCE_PCI_RW,
};

struct tce_table;

/* Platform invalidation: entries [first_entry, first_entry + npages). */
typedef void (*tce_kill_fn)(void *ctx, uint64_t first_entry, uint64_t npages);

/* ------------------------------------------------------------- geometry */

/* Creation flags. */
/* it_size = window_size >> page_shift exactly: no enlargement to PAGE_SIZE/8 entries (Q9). */
#define TCE_TABLE_STRICT_SIZE 0x1u
/* Allocate levels on params.node instead of the host bridge's node (emu_mem_node()). */
#define TCE_TABLE_ON_NODE 0x2u
/*
 * The one single-writer flag: the owner serialises every writer of the
 * table's entries (the container holds a per-window write lock).  xchg,
 * map and unmap then read each old entry and store the new one with single
 * atomic operations instead of atomic exchanges (a locked instruction each
 * on x86, 2.5 to 3 times the cost), and tce_table_store/_run, which rely on
 * it, are allowed.  The hardware still never sees a torn entry.
 */
#define TCE_TABLE_SERIAL_WRITERS 0x4u

struct tce_table_params {
	uint64_t bus_offset;	/* window start in bytes, aligned to the IOMMU page */
	uint64_t window_size;	/* bytes, a power of two, at least one IOMMU page */
	unsigned page_shift;	/* IOMMU page shift p */
	unsigned levels;	/* 1 ... TCE_LEVELS_MAX */
	unsigned flags;		/* TCE_TABLE_* */
	int node;		/* with TCE_TABLE_ON_NODE */
	tce_kill_fn kill;	/* may be NULL: flushes then only forget their ranges */
	void *kill_ctx;
};

/* The shape of a table, fixed at creation; field names are the kernel's. */
struct tce_geometry {
	uint64_t it_offset;		/* first entry: bus_offset >> it_page_shift */
	uint64_t it_size;		/* entries */
	uint64_t it_level_size;		/* entries per block, every level */
	uint64_t it_allocated_size;	/* bytes charged to locked_vm: hardware + shadow (get_table_size) */
	unsigned it_page_shift;
	unsigned it_indirect_levels;	/* levels - 1 */
	unsigned level_shift;		/* log2 of a block's bytes (ls of docs/tce.md, "Geometry") */
};

/*
 * tce_geometry_calc - validate creation parameters and compute the shape.
 * @p:   parameters; kill and node are not looked at
 * @geo: filled on success
 *
 * it_size = max(window_size >> page_shift, EMU_PAGE_SIZE / 8) (without
 * TCE_TABLE_STRICT_SIZE), it_level_size = 2^(ls - 3) with
 * ls = max(ceil(E / L) + 3, 12), E = log2(window_size) - page_shift.
 * Returns 0 or -EINVAL: levels 0 or > 5; page_shift outside
 * [TCE_PAGE_SHIFT_MIN, TCE_PAGE_SHIFT_MAX]; window_size not a power of two
 * or smaller than one IOMMU page (Q14); (ls - 3) * L + page_shift >= 55;
 * bus_offset not aligned to the IOMMU page; the window's end beyond 2^64;
 * unknown flags.  *geo is unchanged on failure.  No lock.
 */
int tce_geometry_calc(const struct tce_table_params *p, struct tce_geometry *geo);

/*
 * tce_table_size - bytes charged to locked_vm for such a table (the
 * kernel's get_table_size: hardware plus shadow), with the system page
 * shift s = EMU_PAGE_SHIFT.
 * Returns 0 or -EINVAL for the geometries tce_geometry_calc rejects (levels,
 * page shift, window size, the 55-bit rule).  *bytes unchanged on failure.
 */
int tce_table_size(unsigned page_shift, uint64_t window_size, unsigned levels, uint64_t *bytes);
/*
 * tce_table_charge_size - the same bytes without the 55-bit rule: what the
 * kernel's get_table_size computes, and charges, before the platform's
 * table allocation checks that rule.  Returns 0 or -EINVAL (levels, page
 * shift, window size).
 */
int tce_table_charge_size(unsigned page_shift, uint64_t window_size, unsigned levels,
			  uint64_t *bytes);
/*
 * tce_table_size_sys - the same formula for any system page shift
 * @sys_page_shift (12 ... 16), e.g. 16 to compare with a 64 KiB POWER kernel.
 * Returns 0 or -EINVAL (as tce_table_size, or sys_page_shift out of range).
 */
int tce_table_size_sys(unsigned sys_page_shift, unsigned page_shift, uint64_t window_size,
		       unsigned levels, uint64_t *bytes);

/* --------------------------------------------------------------- tables */

/*
 * tce_table_create - allocate a table with its top block, hardware and shadow.
 * @p:   parameters (see struct tce_table_params)
 * @out: the table, holding one reference, on success
 *
 * Returns 0, -EINVAL (tce_geometry_calc's cases; TCE_TABLE_ON_NODE with a
 * node that does not exist), -ENOMEM (the table or a top block could not be
 * allocated; fault-injection points "tce_table_create" and emu's table
 * allocation).  On failure nothing is allocated.  No lock.
 */
int tce_table_create(const struct tce_table_params *p, struct tce_table **out);

/*
 * tce_table_get - take a reference.  Returns 0, or -ENOENT when the count
 * was already 0 (the table is being destroyed; nothing changed).  The
 * caller must know the table's memory is still valid (it holds a reference,
 * or the pointer is protected by RCU across the last put).
 */
int tce_table_get(struct tce_table *t);

/*
 * tce_table_put - drop a reference; the last one destroys the table: every
 * present block of both trees is freed.  Never fails, never allocates, does
 * not kill (the platform invalidates when it unprograms the window).
 */
void tce_table_put(struct tce_table *t);

/* The shape (immutable for the table's life). */
const struct tce_geometry *tce_table_geometry(const struct tce_table *t);
/* hpa of the top hardware block: what the platform programs into the window register. */
uint64_t tce_table_hpa(const struct tce_table *t);
/* NUMA node of the table's blocks. */
int tce_table_node(const struct tce_table *t);
/* True when @entry lies in [it_offset, it_offset + it_size). */
bool tce_table_contains(const struct tce_table *t, uint64_t entry);

struct tce_table_stats {
	uint64_t refs;
	uint64_t hw_blocks;				/* sum over levels */
	uint64_t shadow_blocks;
	uint64_t hw_level_blocks[TCE_LEVELS_MAX];	/* [0] is the top level */
	uint64_t shadow_level_blocks[TCE_LEVELS_MAX];
	uint64_t block_bytes;				/* bytes of one block */
	uint64_t leaf_nodes;				/* leaf list nodes (>= leaf blocks) */
	uint64_t install_races;				/* installations lost (block freed) */
	uint64_t unit_entries;				/* entries per unit of the written map */
	uint64_t written_units;				/* units marked written (never unmarked) */
};

/* Reads the counters (each atomically; exact when no writer is running). */
void tce_table_get_stats(const struct tce_table *t, struct tce_table_stats *st);

/*
 * Debug invariant checker (T1-T6 above; every indirect entry is also
 * checked against emu_mem_table_hva, as hardware would find it).  Returns 0
 * or -EUCLEAN with a message on stderr.  No writer may run meanwhile.
 */
int tce_table_check(const struct tce_table *t);

/* ---------------------------------------------------------- kill batches */

/*
 * A kill batch collects the entry ranges one operation changed and hands
 * them to the table's kill callback on flush, merged: adjacent or
 * overlapping ranges become one.  It holds at most TCE_KILL_BATCH_RANGES
 * ranges; when one more disjoint range arrives, the two neighbouring ranges
 * with the smallest gap are merged across it (killing a few unchanged
 * entries is harmless; missing one is not), so a batch never allocates and
 * never flushes early.  On the caller's stack, used by one thread; the
 * fields are private.
 */
#define TCE_KILL_BATCH_RANGES 8u

struct tce_kill_range {
	uint64_t first;		/* entry */
	uint64_t npages;
};

struct tce_kill_batch {
	struct tce_table *table;
	unsigned n;
	struct tce_kill_range r[TCE_KILL_BATCH_RANGES + 1];	/* sorted, disjoint, +1 spare */
};

/* Starts an empty batch for @t.  No lock (the batch belongs to the calling thread). */
void tce_kill_batch_init(struct tce_kill_batch *b, struct tce_table *t);
/*
 * Adds entries [entry, entry + npages) (absolute entry numbers); npages 0 is
 * ignored, a range past 2^64 is cut there.  Never fails, never calls back.
 */
void tce_kill_batch_add(struct tce_kill_batch *b, uint64_t entry, uint64_t npages);
/*
 * Calls the table's kill callback once per merged range, in ascending order,
 * then empties the batch (without a callback it only empties it).  Never
 * fails.  The caller holds whatever the callback needs (the platform's
 * lock order is the platform's).
 */
void tce_kill_batch_flush(struct tce_kill_batch *b);
/* Number of merged ranges pending. */
unsigned tce_kill_batch_ranges(const struct tce_kill_batch *b);

/* ------------------------------------------------------------- entries */

/*
 * Valid entries an operation replaced or cleared, as a run: entries
 * [entry, entry + n) held the user pages ua, ua + 2^it_page_shift, ...,
 * ua + ((n - 1) << it_page_shift).  n counts entries (IOMMU pages).  The
 * old hpas and directions are not reported: nobody above needs them (read
 * them first with tce_table_read if you do), and the single writer's store
 * never reads them.  ua is 0 only in a run of one, for a valid entry whose
 * shadow a writer racing on the same entry had cleared (see Concurrency).
 */
struct tce_old_run {
	uint64_t entry;		/* first entry, absolute */
	uint64_t ua;		/* the first entry's old shadow ua */
	uint64_t n;		/* entries, >= 1 */
};

/*
 * The one way old entries are reported, by every operation that replaces
 * or clears entries: batches of up to TCE_OLD_BATCH runs, each run as long
 * as consecutive entries held consecutive pages, in ascending entry order
 * (unmap: within a leaf block; the blocks in any order, so a run of pages
 * may come as one run per leaf block).  A
 * NULL callback reports nothing.  Every run it receives has already been
 * overwritten or cleared (so the caller may give back what the run held
 * once it has killed it), but the operation may not be finished.  Called
 * from the operating thread; must not call this table's entry operations.
 */
typedef void (*tce_old_fn)(void *ctx, const struct tce_old_run *run, size_t n);
#define TCE_OLD_BATCH 64u

/*
 * tce_table_xchg - atomically replace one entry, hardware and shadow.
 * @entry: absolute entry number
 * @hpa:   new IOMMU page address, aligned to 2^it_page_shift (0 when clearing)
 * @ua:    new shadow value: the mapped user address, non-zero and aligned to
 *         2^it_page_shift (0 when clearing)
 * @dir:   TCE_DIR_NONE clears; otherwise the permission (WRITE adds READ)
 * @kill:  if non-NULL, the entry is added when the new or the old entry is valid
 * @old_fn: if non-NULL, receives the old entry as a run of one when it was valid
 *
 * Setting walks both trees allocating missing levels; clearing allocates
 * nothing (an entry below a missing level is reported empty).
 * Returns 0, -EINVAL (entry outside the table; hpa or ua unaligned, ua 0 when
 * setting, hpa or ua non-zero when clearing; unknown dir), -ENOMEM (a level
 * could not be allocated).  On failure the entry is unchanged and nothing
 * was reported.  No lock (see Concurrency above).
 */
int tce_table_xchg(struct tce_table *t, uint64_t entry, uint64_t hpa, uint64_t ua,
		   enum tce_dir dir, struct tce_kill_batch *kill, tce_old_fn old_fn, void *old_ctx);

/*
 * tce_table_read - read one hardware entry without allocating.
 * @hpa, @dir: the entry's address (permission bits stripped) and direction;
 *             0 and TCE_DIR_NONE below a missing level.
 * Returns 0 or -EINVAL (entry outside the table; outputs unchanged).  No lock.
 */
int tce_table_read(const struct tce_table *t, uint64_t entry, uint64_t *hpa, enum tce_dir *dir);

/*
 * tce_table_shadow_read - read one shadow entry without allocating (the
 * kernel's IOMMU_TABLE_USERSPACE_ENTRY_RO).  *ua is 0 below a missing level.
 * Returns 0 or -EINVAL (entry outside the table; *ua unchanged).  No lock.
 */
int tce_table_shadow_read(const struct tce_table *t, uint64_t entry, uint64_t *ua);

/*
 * tce_table_shadow_write - store one shadow entry, allocating the shadow
 * path (IOMMU_TABLE_USERSPACE_ENTRY).  For callers that update the shadow
 * separately, as the kernel's VFIO code does; tce_table_xchg already writes
 * it.  Invariant T2 is theirs to keep.
 * Returns 0, -EINVAL (entry outside the table), -ENOMEM (a level could not be
 * allocated; the entry is unchanged).  No lock.
 */
int tce_table_shadow_write(struct tce_table *t, uint64_t entry, uint64_t ua);

/*
 * tce_table_map - set a run of entries (the fast path of MAP_DMA).
 * @entry:  first entry
 * @npages: entries to set, > 0
 * @hpa:    @npages IOMMU page addresses, each aligned to 2^it_page_shift
 * @ua:     user address of the first page; page j gets ua + (j << it_page_shift)
 * @dir:    not TCE_DIR_NONE
 * @kill:   if non-NULL, receives [entry, entry + npages)
 * @old_fn: if non-NULL, receives the entries that were valid before (replaced)
 *
 * All-or-nothing: every level the run needs is allocated first, so either
 * all entries are written or none is.  The walk happens once per leaf block,
 * not once per entry.
 * Returns 0, -EINVAL (run outside the table or empty; an hpa, ua unaligned,
 * ua 0 or the ua run wrapping; dir NONE or unknown), -ENOMEM (a level could
 * not be allocated).  On failure no entry changed and nothing was reported
 * or added to @kill.  No lock.
 */
int tce_table_map(struct tce_table *t, uint64_t entry, uint64_t npages, const uint64_t *hpa,
		  uint64_t ua, enum tce_dir dir, struct tce_kill_batch *kill, tce_old_fn old_fn,
		  void *old_ctx);

/*
 * tce_table_store - write a run of entries as their only writer (the
 * hypercall path), in a table created with TCE_TABLE_SERIAL_WRITERS: the
 * caller holds every level a valid entry needs (tce_table_reserve) and
 * kills the run itself.
 * @entry, @npages: the run, npages > 0
 * @hw_be:  @npages hardware entries as stored (big-endian hpa | READ [|
 *          WRITE]), or 0 to clear
 * @sh_be:  @npages shadow entries as stored (big-endian ua), 0 exactly where
 *          @hw_be is 0 (invariant T2)
 * @old_fn: if non-NULL, receives the entries that were valid before
 *          (replaced or cleared), in ascending order
 *
 * Within each leaf block the old shadow entries are read (by T2 they alone
 * say which entries were valid: the old hardware entries are never read),
 * then the shadow entries are stored, then the hardware ones; a missing
 * block that would only receive zeros is left missing.  Nothing is added to
 * a kill batch.  The values are trusted; test builds (SPAPRTCE_DEBUG) check
 * each against T2, READ and alignment and return -EINVAL.
 * Returns 0, -EINVAL (run outside the table or empty; the table lacks
 * TCE_TABLE_SERIAL_WRITERS), -ENOMEM (a valid entry's level is missing: it
 * was not reserved).  On failure no entry changed and nothing was reported.
 * No lock.
 */
int tce_table_store(struct tce_table *t, uint64_t entry, uint64_t npages, const uint64_t *hw_be,
		    const uint64_t *sh_be, tce_old_fn old_fn, void *old_ctx);

/*
 * The hardware side of a run, computed where its hpas are known: stores
 * htobe64(hpa of the run's page @k + x | @bits) at @hw[x] for x in [0, @n),
 * each entry by one single-copy-atomic store and a release fence after the
 * last (util/simd.h's shared arrays), and writes nothing else.  Cannot
 * fail: the caller checked the run beforehand.  mmreg_region_ua_to_hpas_be
 * is the usual body.
 */
typedef void tce_fill_fn(void *ctx, uint64_t k, uint64_t n, uint64_t bits, uint64_t *hw);

/* A run of consecutive user pages with one direction, as tce_table_store_run takes it. */
struct tce_run {
	uint64_t ua;		/* the first page's user address: IOMMU page aligned, non-zero */
	uint64_t bits;		/* TCE_PCI_READ, with or without TCE_PCI_WRITE */
	tce_fill_fn *fill;	/* writes the hardware entries */
	void *ctx;		/* @fill's */
};

/*
 * tce_table_store_run - tce_table_store for a run of consecutive user pages
 * with one direction: entry k gets shadow htobe64(@run->ua + k * IOMMU page
 * size) and hardware htobe64(hpa | @run->bits), the latter written by
 * @run->fill a leaf block at a time (a piece of one when a batch of old
 * runs fills up and is reported first), straight into the block: no buffer of
 * hpas is written and read back.
 * @old_fn: as for tce_table_store.  The common case, a run replacing a run,
 *          is one tce_old_run for the whole call.
 *
 * Same rules and errors as tce_table_store: every level must be reserved
 * (-ENOMEM otherwise, nothing written); -EINVAL for bad bits or ua, or a
 * table without TCE_TABLE_SERIAL_WRITERS (nothing written).  The fill is
 * trusted; the invariant checker (tce_table_check) finds a hardware entry
 * it left without READ or unaligned.
 */
int tce_table_store_run(struct tce_table *t, uint64_t entry, uint64_t npages,
			const struct tce_run *run, tce_old_fn old_fn, void *old_ctx);

/*
 * tce_table_unmap - clear a run of entries (the bulk clear of UNMAP_DMA and
 * window removal).
 * @entry, @npages: the run, npages > 0
 * @kill:   if non-NULL, receives every entry that was valid (merged)
 * @old_fn: if non-NULL, receives every entry that was valid, as runs
 * @cleared: if non-NULL, receives the number of valid entries cleared
 *
 * Follows the hardware tree: a missing block at any level is skipped whole
 * (or, for long runs, only the existing leaf blocks are visited), so the
 * cost follows the populated blocks, not the run's length.  Allocates
 * nothing.  Each valid entry is cleared by atomic exchange (with
 * TCE_TABLE_SERIAL_WRITERS: a load and a store), then its shadow.
 * Returns 0 or -EINVAL (run outside the table or empty; nothing changed).
 * No lock.
 */
int tce_table_unmap(struct tce_table *t, uint64_t entry, uint64_t npages,
		    struct tce_kill_batch *kill, tce_old_fn old_fn, void *old_ctx,
		    uint64_t *cleared);

/*
 * tce_table_reserve - allocate every level (hardware and shadow) that
 * entries [entry, entry + npages) need, changing no entry, so that a later
 * tce_table_map of any part of the run cannot fail with -ENOMEM.
 * Returns 0, -EINVAL (run outside the table or empty), -ENOMEM (a level
 * could not be allocated; the levels allocated before stay, as after a
 * failed map).  No lock.
 */
int tce_table_reserve(struct tce_table *t, uint64_t entry, uint64_t npages);

/* ------------------------------------- KVM's entry writes (quirks=kernel) */

/*
 * Quirk Q12 (docs/quirks.md), for spapr/hcall_kernel.c only: the default
 * mode never makes these two shapes, which break invariant T2 (a non-zero
 * shadow entry then no longer means a valid hardware entry: never follow
 * them with tce_table_store or tce_table_store_run).  tce_table_check
 * accepts them only under quirks=kernel.  tce/noperm.c has the story.
 *
 * tce_table_map_noperm - what KVM's kvmppc_tce_iommu_do_map writes for a
 * TCE without permission: the shadow path is allocated (the only failure),
 * then the hardware entry, if its level exists (none is allocated), gets
 * @hpa with no permission bits (pnv_tce_xchg with DMA_NONE), and the shadow
 * entry @ua.  The device faults on such an entry (no permission); every
 * clear or replacement sees no permission and reports nothing, so the
 * mapped count the caller took for it is never given back.
 * @hpa, @ua: non-zero, aligned to 2^it_page_shift
 * @kill:   if non-NULL, gets the entry when a hardware entry was written
 * @old_fn: receives the old entry as a run of one when it was valid
 * Returns 0, -EINVAL (entry outside the table; hpa or ua 0 or unaligned),
 * -ENOMEM (a shadow level could not be allocated; nothing changed).
 * No lock (as tce_table_xchg).
 *
 * tce_table_clear_hw - kvmppc_clear_tce's clear of one entry: the hardware
 * entry is zeroed (nothing when its level is missing), the shadow entry is
 * left as it was, nothing is reported or killed.  Returns 0 or -EINVAL
 * (entry outside the table).  No lock.
 */
int tce_table_map_noperm(struct tce_table *t, uint64_t entry, uint64_t hpa, uint64_t ua,
			 struct tce_kill_batch *kill, tce_old_fn old_fn, void *old_ctx);
int tce_table_clear_hw(struct tce_table *t, uint64_t entry);

/* Direction from permission bits, and the bits stored for a direction (WRITE adds READ). */
static inline enum tce_dir tce_dir_from_bits(uint64_t bits)
{
	return (enum tce_dir)(bits & TCE_PCI_RW);
}

static inline uint64_t tce_dir_to_bits(enum tce_dir dir)
{
	return (dir & TCE_PCI_WRITE) ? TCE_PCI_RW : (uint64_t)dir & TCE_PCI_READ;
}

/* ------------------------------------------- one entry at a time (tce/leaf.c) */

/*
 * A leaf block pair (hardware and shadow) as a single writer keeps it
 * between calls that each write one entry (H_PUT_TCE): blocks live as long
 * as the table, so a pair found once stays valid until the table's last
 * put, and the next entry of the same block costs no walk.  The holder
 * must know the table is still the same one (a reference, or a generation
 * of its own that whatever drops the table bumps).
 */
struct tce_leaf {
	uint64_t first, end;	/* absolute entries [first, end) of the block; end == first: none */
	uint64_t *hw, *sh;	/* the blocks (their entry 0 is @first) */
};

/* True when @l holds @entry. */
static inline bool tce_leaf_holds(const struct tce_leaf *l, uint64_t entry)
{
	return entry - l->first < l->end - l->first;
}

/* The shadow ua of @entry, which @l holds (0: the entry is empty, by T2). */
static inline uint64_t tce_leaf_shadow(const struct tce_leaf *l, uint64_t entry)
{
	uint64_t raw = __atomic_load_n(&l->sh[entry - l->first], __ATOMIC_RELAXED);

	return be64toh(raw);	/* big-endian, as every table word */
}

/*
 * tce_table_leaf - the leaf blocks of @entry, without allocating.  Returns
 * 0 (*l filled; l->end == l->first when a level of either tree is
 * missing) or -EINVAL (entry outside the table).  No lock.
 */
int tce_table_leaf(const struct tce_table *t, uint64_t entry, struct tce_leaf *l);

/*
 * tce_leaf_store - store one entry, hardware and shadow, as the table's
 * only writer (TCE_TABLE_SERIAL_WRITERS; tce_table_store's rules): @hw_be
 * (big-endian hpa | READ [| WRITE]) and @sh_be (its big-endian ua), or both
 * 0 to clear.  @l holds @entry (tce_table_leaf).  Mapping: the written map
 * is marked, the shadow stored, then the hardware entry; clearing: the
 * hardware entry, then the shadow (as tce_table_unmap), nothing when the
 * entry was empty.  Nothing is added to a kill batch.  *old_ua gets the
 * entry's old shadow ua (0: it was empty).  Returns 0, or -EINVAL (a table
 * without TCE_TABLE_SERIAL_WRITERS; test builds: values breaking T2, READ
 * or alignment), nothing written.  No lock.
 */
int tce_leaf_store(struct tce_table *t, const struct tce_leaf *l, uint64_t entry, uint64_t hw_be,
		   uint64_t sh_be, uint64_t *old_ua);

/*
 * tce_table_kill - hand entries [entry, entry + npages) to the table's kill
 * callback now, as one flush of a batch holding that range would.  Nothing
 * without a callback or with npages 0.
 */
void tce_table_kill(struct tce_table *t, uint64_t entry, uint64_t npages);

#endif
