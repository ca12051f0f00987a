/* SPDX-License-Identifier: MIT */
/*
 * emu/emu.h: the emulated machine's configuration and its device side: the
 * PCI host bridge (phb) with its partitionable endpoints, their window
 * registers, the hardware TCE walker and TCE cache, and the devices that DMA
 * through them, with a fault log and a dirty log per endpoint.
 *
 * Concepts
 *   machine   One host bridge whose endpoints are IOMMU groups 0 ... groups-1.
 *             Its shape (struct emu_machine_config) is fixed when the machine
 *             is first used ("started"): by the default, then
 *             emu_machine_configure(), then the SPAPRTCE_MACHINE environment
 *             variable (see emu_machine_configure).
 *   window    A window register (the kernel's TVE) of one endpoint, in one of
 *             EMU_MAX_WINDOWS slots: the top-level table hpa, levels, level
 *             size, table size (it_size), IOMMU page shift and bus offset.
 *             Programmed by the OS layer (spapr/) through emu_phb_set_window,
 *             like the kernel's powernv set_window.  Window w covers bus
 *             addresses [bus_offset, bus_offset + (it_size << page_shift)).
 *   walker    Translates a bus address the way the hardware does: finds the
 *             window containing it, takes entry = addr >> page_shift, index
 *             i = entry - it_offset, and walks the table from the window's
 *             table hpa through physical memory alone (emu_mem_table_hva for
 *             every level), reading big-endian entries (docs/tce.md, "Layout").  It
 *             never calls tce/.
 *   TCE cache A bounded, per-endpoint, set-associative cache (4 ways, LRU in
 *             a set) of leaf TCE values keyed by (slot, entry).  Only a kill
 *             (emu_phb_tce_kill) or (un)programming a window invalidates it,
 *             so an OS layer that forgets a kill is caught: the device keeps
 *             using the stale TCE.
 *   strictness
 *             A DMA is served only from user memory whose frames are pinned
 *             (emu_mem_hpa_pins > 0), reached at hva = ua.  Anything else
 *             (a stale cached TCE after unmap + unpin, a TCE to a freed or
 *             unknown frame) is a "use-after-unpin" fault: -EFAULT, recorded,
 *             and in debug builds (SPAPRTCE_DEBUG) an abort() unless switched
 *             off with emu_machine_set_abort_on_unpinned(false).
 *   fault log A ring per endpoint of struct emu_fault.  The producer never
 *             overwrites unread records: when the ring is full a new fault is
 *             dropped and counted in overflow (the VFIO/hardware convention).
 *   dirty log Per endpoint, VFIO DMA logging semantics (START / REPORT /
 *             STOP): writes inside the tracked IOVA ranges mark pages.
 *
 * Units: iova (bus address), hpa, ua, lengths in bytes; entry is an absolute
 * TCE number (iova >> page_shift); it_size and level_size count entries;
 * npages of a kill counts IOMMU pages (entries) of that window.
 *
 * Errors: 0 or a negative errno, never errno itself.
 *
 * Locks (each endpoint owns two; documented once, here):
 *   ep->rw   a writer-preferring rwlock, the "TVE lock".  DMA holds it for
 *            reading for the whole transfer (translation and copy); window
 *            programming, kills and dirty-log start/report/stop hold it for
 *            writing.  So a kill returns only after every DMA that could have
 *            used the killed TCEs has finished: an OS layer that kills before
 *            it unpins never has a DMA in flight into unpinned memory.  A kill
 *            that finds, under ep->lock, no DMA past its translation and an
 *            empty cache has nothing to wait for and skips ep->rw.
 *   ep->lock a mutex for the TCE cache, the fault ring and the counters;
 *            taken under ep->rw (either mode) or alone.
 *   Order: machine lock -> ep->rw -> ep->lock -> emu/mem's locks (leaves).
 *   emu/mem functions are called under ep->lock; emu/mem never calls here.
 *   Every function may be called from any thread, except emu_machine_reset.
 *
 * Fork: a forked child gets the machine as it was (windows, cache, logs):
 * every global lock and every endpoint's locks are held across fork() in
 * the order above (util/lock.h's registry) and released in the child; its
 * pins are gone (emu/mem.h), so a DMA in the child through an inherited
 * window faults as use-after-unpin.
 */
#ifndef SPAPRTCE_EMU_EMU_H
#define SPAPRTCE_EMU_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the shared library exports (see spapr/spapr.h); each public header stands alone. */
#ifndef SPAPRTCE_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define SPAPRTCE_API __attribute__((visibility("default")))
#else
#define SPAPRTCE_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define EMU_MAX_GROUPS 256u
#define EMU_MAX_WINDOWS 2u
#define EMU_MAX_LEVELS 5u
#define EMU_MAX_TCE_CACHE 65536u
#define EMU_MAX_FAULT_RING 65536u

/* Permission bits of a TCE (the kernel's TCE_PCI_READ and TCE_PCI_WRITE):
 * the device may read / write memory. */
#define EMU_TCE_READ 0x1ull
#define EMU_TCE_WRITE 0x2ull

/* ----------------------------------------------------------- the machine */

struct emu_machine_config {
	unsigned groups;	/* IOMMU groups 0 ... groups-1; 1 ... EMU_MAX_GROUPS (4) */
	uint64_t pgsizes;	/* IOMMU page sizes, bit n for 2^n; bits 12 ... 45 (4K|64K|2M|1G) */
	uint64_t tce32_start;	/* bus address of the default window and slot 0 (0) */
	uint64_t tce32_size;	/* bytes of the default 32-bit window (2 GiB) */
	uint64_t slot1_start;	/* bus address where slot 1 starts (1 << 59) */
	unsigned max_windows;	/* window slots per endpoint, 1 ... EMU_MAX_WINDOWS (2) */
	unsigned max_levels;	/* 1 ... EMU_MAX_LEVELS (5) */
	bool ddw;		/* dynamic DMA windows supported (true) */
	unsigned tce_cache;	/* cached TCEs per endpoint, a power of two <= 65536 (64) */
	unsigned fault_ring;	/* fault records per endpoint, 1 ... 65536 (64) */
	int node;		/* NUMA node of the host bridge, for table memory (0) */
	bool eeh;		/* endpoints freeze on errors and have EEH (true); emu_pe_* */
	unsigned quirks;	/* EMU_QUIRKS_FIXED (0, default) or EMU_QUIRKS_KERNEL */
};

/*
 * The behaviour of the kernel quirks (docs/quirks.md): FIXED answers what the
 * kernel meant (EBUSY for UNREGISTER of a mapped region, EINVAL for a
 * misaligned iova, ...); KERNEL answers what the current kernel answers,
 * leaks and orphans included.  A machine-wide setting because it is the
 * "host kernel" the emulator plays; env key quirks=fixed|kernel.
 */
#define EMU_QUIRKS_FIXED 0u
#define EMU_QUIRKS_KERNEL 1u

/*
 * True when the machine plays the kernel's quirks.  Does not start the
 * machine: before the start it reports the configured value (the
 * environment applies at the start).  Lock-free; readable by every layer,
 * the ones below spapr/ (mmreg/, tce/) included, since the configuration
 * is emu/'s and emu/ is the bottom layer.
 */
SPAPRTCE_API bool emu_machine_quirks_kernel(void);

/* Fills @c with the default machine (the values in brackets above). */
SPAPRTCE_API void emu_machine_config_default(struct emu_machine_config *c);

/*
 * emu_machine_configure - set the machine's shape before it is first used.
 * @c: the configuration, copied
 *
 * When the machine starts (the first call of any other function of this
 * header, except emu_machine_config_default and
 * emu_machine_set_abort_on_unpinned), the environment variable
 * SPAPRTCE_MACHINE, if set, is applied on top of this configuration (the
 * user at the shell has the last word): comma-separated key=value with keys
 * groups, pgsizes, tce32_start, tce32_size, slot1_start, windows, levels,
 * ddw, tce_cache, fault_ring, node, eeh (0 or 1); numbers in C syntax (0x41001000); and
 * devG=MODEL[:KEY=VAL...] for the device of group G (emu_dev_configure).
 * A bad key or value, or a result that fails the checks below, is reported
 * on stderr and the whole variable is ignored.
 *
 * Returns 0, -EBUSY (the machine has started), -EINVAL (a value out of the
 * ranges above; tce32 window empty, not 4 KiB aligned, wrapping, or reaching
 * slot1_start; slot1_start not 4 KiB aligned; node does not exist).  On
 * failure nothing changes.  Takes the machine lock.
 */
SPAPRTCE_API int emu_machine_configure(const struct emu_machine_config *c);

/*
 * emu_machine_start - start the machine now (every other call does it
 * implicitly).  Allocates the endpoints, their TCE caches and fault rings
 * (fault-injection points "emu_machine_alloc", "emu_cache_alloc",
 * "emu_fault_ring_alloc"), and sets emu/mem's node to the config's node.
 * Returns 0 (also when already started) or -ENOMEM; on failure nothing is
 * allocated and the machine is still unstarted.  Takes the machine lock.
 */
SPAPRTCE_API int emu_machine_start(void);

/* The effective configuration (starts the machine).  Returns 0 or -ENOMEM. */
SPAPRTCE_API int emu_machine_get_config(struct emu_machine_config *c);

/*
 * emu_machine_reset - back to the unstarted default machine, freeing
 * everything (tests).  Returns 0, or -EBUSY when a window is programmed or a
 * dirty log is running in some endpoint (nothing changes).  No other thread
 * may use the machine meanwhile.
 */
SPAPRTCE_API int emu_machine_reset(void);

/*
 * A DMA that would be served from memory that is not pinned fails with
 * -EFAULT and is logged as EMU_FAULT_UNPINNED; in debug builds it also
 * aborts, unless switched off here (tests that provoke it on purpose).
 * Without SPAPRTCE_DEBUG the switch is ignored (never aborts).
 */
SPAPRTCE_API void emu_machine_set_abort_on_unpinned(bool on);

/*
 * Debug invariant checker: every cached TCE belongs to a programmed slot,
 * the cache count matches, ring indexes are consistent (consumer <=
 * producer <= consumer + size), programmed windows are well-formed and
 * their top block is live table memory, dirty-log bitmaps match their
 * ranges.  Returns 0, or -EUCLEAN with a message on stderr.  Takes each
 * endpoint's locks in turn.  Does not start the machine.
 */
SPAPRTCE_API int emu_machine_check(void);

struct emu_group_info {
	uint64_t tce32_start;
	uint64_t tce32_size;
	uint64_t pgsizes;			/* bit n for 2^n */
	unsigned max_dynamic_windows_supported;	/* max_windows when ddw, else 0 */
	unsigned max_levels;
	unsigned windows;			/* slots: the config's max_windows */
	bool ddw;
	uint64_t window_start[EMU_MAX_WINDOWS];	/* bus address where each slot starts */
	int node;
};

/* Describes endpoint @group.  Returns 0, -ENODEV (no such group), -ENOMEM (start). */
SPAPRTCE_API int emu_group_info(int group, struct emu_group_info *info);

/* ----------------------------------------------------- host bridge (phb) */

/* A window register (TVE), in the kernel's terms. */
struct emu_window {
	uint64_t table_hpa;	/* hpa of the top-level block, in live table memory */
	unsigned levels;	/* 1 ... max_levels (it_indirect_levels + 1) */
	uint64_t level_size;	/* entries per block of every level, a power of two */
	uint64_t size;		/* it_size: entries */
	unsigned page_shift;	/* it_page_shift: a page size of pgsizes */
	uint64_t bus_offset;	/* bus address of entry it_offset, in bytes */
};

/*
 * emu_phb_set_window - program window slot @slot of endpoint @group.
 * @w: copied
 *
 * Checks: levels 1 ... max_levels; level_size a power of two and
 * levels * log2(level_size) bits enough to index @size entries (the walk
 * would otherwise alias); size > 0; page_shift in pgsizes;
 * bus_offset aligned to the IOMMU page; the window's end within 2^64 and
 * not overlapping the other slot's programmed window; [table_hpa,
 * table_hpa + level_size * 8) live table memory.  The start need not equal
 * the slot's window_start (the OS layer puts it there).  Invalidates the
 * endpoint's whole TCE cache.
 *
 * Returns 0, -ENODEV (no such group), -EINVAL (slot >= windows, or a check
 * above), -EBUSY (slot already programmed), -ENOMEM (start).  On failure
 * nothing changes (the cache is kept).  Takes ep->rw for writing, so it
 * waits for DMAs in flight.
 */
SPAPRTCE_API int emu_phb_set_window(int group, unsigned slot, const struct emu_window *w);

/*
 * emu_phb_unset_window - clear window slot @slot and invalidate the whole
 * TCE cache.  The table is the caller's and is not touched.
 * Returns 0, -ENODEV, -EINVAL (slot >= windows), -ENOENT (slot not
 * programmed: a double unset is a bug of the OS layer we want to see;
 * nothing changes).  Takes ep->rw for writing.
 */
SPAPRTCE_API int emu_phb_unset_window(int group, unsigned slot);

/*
 * emu_phb_get_window - read back window register @slot.
 * Returns 0, -ENODEV, -EINVAL (slot), -ENOENT (not programmed).
 */
SPAPRTCE_API int emu_phb_get_window(int group, unsigned slot, struct emu_window *w);

/*
 * emu_phb_tce_kill - invalidate the cached TCEs of absolute entries
 * [first_entry, first_entry + npages) of window slot @slot (the firmware's
 * "kill pages"; entries past 2^64 are clamped).  Counted in the group's
 * stats (kills, killed_pages) even when nothing was cached or the slot is
 * empty.  An unknown group or a slot >= windows is ignored (nothing to
 * kill).  Returns after every DMA in flight: takes ep->rw for writing
 * unless none is and the cache is empty (then ep->lock alone).
 */
SPAPRTCE_API void emu_phb_tce_kill(int group, unsigned slot, uint64_t first_entry, uint64_t npages);

/*
 * emu_phb_cache_lookup - whether the TCE cache holds (slot, entry), for
 * tests and the stats command; does not change LRU order or counters.
 * Returns 0 with *tce set, -ENOENT (not cached), -ENODEV, -EINVAL (slot).
 */
SPAPRTCE_API int emu_phb_cache_lookup(int group, unsigned slot, uint64_t entry, uint64_t *tce);

/* ---------------------------------------------------------------- devices */

/*
 * emu_dma_read / emu_dma_write - a device of @iommu_group reads @len bytes
 * of memory at bus address @iova into @buf (needs TCE READ on every page),
 * or writes @buf there (needs TCE WRITE).
 *
 * Translated TCE page by TCE page (a transfer may cross pages and windows),
 * through the TCE cache and the walker; then every system page is checked
 * to be pinned user memory.  All or nothing: every page is checked before
 * any byte moves, so a faulting transfer touches no memory.  A write marks
 * the dirty log.  @len 0 succeeds without translating.
 *
 * Returns 0; -EFAULT (no window, no translation, table memory unreadable,
 * or use-after-unpin); -EACCES (the TCE lacks the permission); -ESHUTDOWN
 * (the endpoint's DMA is stopped by EEH, or an injected DMA error matched:
 * see emu_pe_*; recorded as EMU_FAULT_FROZEN); -ENODEV (no
 * such group); -EINVAL (iova + len beyond 2^64); -ENOMEM (start, or the
 * segment list of a transfer of more than 32 discontiguous pieces:
 * fault-injection point "emu_dma_segments").  Each -EFAULT/-EACCES is
 * recorded once in the fault log, at the first faulting byte; on a machine
 * with EEH it also freezes the endpoint (emu_pe_*).
 * Takes ep->rw for reading, and ep->lock during translation.
 */
SPAPRTCE_API int emu_dma_read(int iommu_group, uint64_t iova, void *buf, size_t len);
SPAPRTCE_API int emu_dma_write(int iommu_group, uint64_t iova, const void *buf, size_t len);

/* -------------------------------------------------------------- fault log */

enum emu_fault_reason {
	EMU_FAULT_NO_WINDOW,		/* "no window": no programmed window holds the address */
	EMU_FAULT_NO_TRANSLATION,	/* "no translation": leaf or indirect entry 0 */
	EMU_FAULT_PERMISSION,		/* "permission": READ/WRITE bit missing (-EACCES) */
	EMU_FAULT_TABLE_UNREADABLE,	/* "table memory unreadable": a level hpa not live table memory */
	EMU_FAULT_UNPINNED,		/* "use-after-unpin": the hpa is not pinned user memory */
	EMU_FAULT_USER_UNMAPPED,	/* "registered memory unmapped by the process": pinned, but gone */
	EMU_FAULT_FROZEN,		/* "PE frozen": the endpoint's DMA is stopped (-ESHUTDOWN) */
	EMU_FAULT_NREASONS
};

enum emu_dma_access { EMU_DMA_READ, EMU_DMA_WRITE };

struct emu_fault {
	uint64_t seq;			/* global order of all faults of the machine, from 1 */
	uint64_t iova;			/* first faulting byte */
	uint64_t tce;			/* TCE value used (0 when none was found) */
	enum emu_dma_access access;
	enum emu_fault_reason reason;
};

/* "no window", "no translation", ...; "?" for values out of range. */
SPAPRTCE_API const char *emu_fault_reason_name(enum emu_fault_reason reason);

/*
 * emu_fault_log_read - consume up to @max records, oldest first.
 * Sets *n to the number copied to @out (0 when empty).
 * Returns 0, -ENODEV, -ENOMEM (start).  Takes ep->lock.
 */
SPAPRTCE_API int emu_fault_log_read(int group, struct emu_fault *out, unsigned max, unsigned *n);

struct emu_fault_log_stats {
	uint64_t producer;	/* records ever written (ring index = producer % size) */
	uint64_t consumer;	/* records ever consumed */
	uint64_t overflow;	/* faults dropped because the ring was full */
	unsigned size;		/* ring size */
};

/* Returns 0, -ENODEV, -ENOMEM (start).  Takes ep->lock. */
SPAPRTCE_API int emu_fault_log_stats(int group, struct emu_fault_log_stats *st);

/* -------------------------------------------------------------- dirty log */

struct emu_dirty_range {
	uint64_t iova;
	uint64_t length;
};

/*
 * emu_dirty_log_start - start logging DMA writes of @group
 * (VFIO_DEVICE_FEATURE_DMA_LOGGING_START).
 * @ranges, @nranges: the IOVA ranges to track (1 ... 4096 ranges); each
 *            non-empty, aligned to *page_size, not wrapping, none
 *            overlapping another (adjacent is fine)
 * @page_size: in: the tracking granularity asked for, a power of two; out:
 *            the one chosen.  As VFIO allows, a larger one is chosen when
 *            the bitmaps would exceed 2^30 bits (128 MiB).
 *
 * Memory proportional to the tracked pages, allocated here (fault-injection
 * points "emu_dirty_alloc", "emu_dirty_bitmap").
 * Returns 0, -ENODEV, -EINVAL (nranges 0, page size, a range empty,
 * misaligned or overlapping), -EOVERFLOW (a range wraps, as VFIO),
 * -E2BIG (more than 4096 ranges), -EBUSY (already started), -ENOMEM.  On
 * failure nothing is allocated and *page_size is unchanged.  Takes ep->rw
 * for writing.
 */
SPAPRTCE_API int emu_dirty_log_start(int group, const struct emu_dirty_range *ranges,
				     unsigned nranges, uint64_t *page_size);

/*
 * emu_dirty_log_report - read and clear the log for [iova, iova + length)
 * (VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT).
 * @page_size: report granularity, any power of two (smaller or larger than
 *            the tracking page)
 * @bitmap:   u64 words; bit i (word i / 64, bit i % 64) stands for
 *            [iova + i * page_size, iova + (i + 1) * page_size), clipped to
 *            the range; it is set when a dirty tracked page intersects it.
 *            Bits are only ever set (ORed), never cleared.
 * @bitmap_bytes: size of @bitmap; at least 8 * ceil(pages / 64)
 *
 * Clearing works at the tracking granularity: every tracked page that
 * intersects the range is cleared (as a device's tracker does).
 * Returns 0, -ENODEV, -ENOENT (logging not started), -EINVAL (length 0,
 * page size not a power of two, bitmap too small, or part of the range not
 * tracked), -EOVERFLOW (the range wraps).  On failure nothing is cleared
 * and the bitmap is untouched.  Takes ep->rw for writing.
 */
SPAPRTCE_API int emu_dirty_log_report(int group, uint64_t iova, uint64_t length, uint64_t page_size,
				      uint64_t *bitmap, size_t bitmap_bytes);

/*
 * emu_dirty_log_stop - stop logging and free everything
 * (VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP).  Stopping a stopped log is a no-op.
 * Returns 0 or -ENODEV (or -ENOMEM from start).  Takes ep->rw for writing.
 */
SPAPRTCE_API int emu_dirty_log_stop(int group);

/* -------------------------------------------------------------------- EEH */

/*
 * Enhanced error handling of the endpoints (docs/eeh.md).  On a machine
 * with eeh (the default) every endpoint is a partitionable endpoint (PE)
 * with an error state:
 *   MMIO frozen   BAR and config reads of its device return all ones,
 *                 writes are dropped (the device fd asks emu_pe_access).
 *   DMA frozen    its DMAs fail with -ESHUTDOWN, logged as EMU_FAULT_FROZEN.
 *   reset         a hot or fundamental reset is asserted (the PE is frozen
 *                 and its device held in reset).
 * What freezes both MMIO and DMA: a faulting DMA (every fault reason but
 * EMU_FAULT_FROZEN) once EEH is enabled on the PE (emu_pe_set_enabled, the
 * ENABLE op; a fresh PE has it off), an injected error when the matching
 * access happens, emu_pe_freeze (from outside, for tests), asserting a
 * reset.
 * The recovery calls follow the kernel's eeh_pe_* helpers of
 * arch/powerpc/kernel/eeh.c; spapr/ maps VFIO_EEH_PE_OP onto them.
 * Without eeh nothing freezes and every emu_pe_* call returns -ENODEV
 * (the group has no PE).  Locks: ep->lock; emu_pe_freeze, the resets and
 * the restores take ep->rw for writing (they wait for DMAs in flight), the
 * resets also the device's lock (emu/dev.h) first.
 */

/* emu_pe_get_state's values (the numbers of the PE state of sPAPR's RTAS). */
enum emu_pe_state {
	EMU_PE_STATE_NORMAL = 0,	/* MMIO and DMA enabled */
	EMU_PE_STATE_RESET = 1,		/* a reset is asserted */
	EMU_PE_STATE_STOPPED = 2,	/* MMIO and DMA stopped (frozen) */
	EMU_PE_STATE_STOPPED_DMA = 4,	/* DMA stopped, MMIO enabled */
	EMU_PE_STATE_UNAVAIL = 5,	/* MMIO stopped, DMA enabled */
};

enum emu_pe_reset { EMU_PE_RESET_DEACTIVATE, EMU_PE_RESET_HOT, EMU_PE_RESET_FUNDAMENTAL };

/* What freezes a PE, for the counters. */
enum emu_pe_cause {
	EMU_PE_CAUSE_DMA_FAULT,		/* a faulting DMA */
	EMU_PE_CAUSE_INJECTED,		/* an injected error matched an access */
	EMU_PE_CAUSE_EXTERNAL,		/* emu_pe_freeze */
	EMU_PE_CAUSE_NCAUSES
};

/* An access the PE checks (emu_pe_access) and the injection functions map to. */
enum emu_pe_access {
	EMU_PE_LOAD_MEM, EMU_PE_LOAD_IO, EMU_PE_LOAD_CFG,
	EMU_PE_STORE_MEM, EMU_PE_STORE_IO, EMU_PE_STORE_CFG,
	EMU_PE_DMA_READ, EMU_PE_DMA_WRITE,
};

/* emu_pe_inject's limits: type 0 (32-bit addresses) or 1 (64-bit); function 0 ... 19. */
#define EMU_PE_INJECT_TYPE_MAX 1u
#define EMU_PE_INJECT_FUNC_MAX 19u

struct emu_pe_status {
	bool enabled;			/* EEH enabled: faulting DMAs freeze the PE */
	bool mmio_frozen, dma_frozen;
	enum emu_pe_reset reset;	/* DEACTIVATE: no reset asserted */
	bool inject_armed;		/* an injected error waits for its access */
	uint64_t freezes[EMU_PE_CAUSE_NCAUSES];	/* normal -> frozen transitions by cause */
	uint64_t resets;		/* hot or fundamental resets asserted */
	uint64_t recoveries;		/* frozen -> normal transitions */
	uint64_t dma_stopped;		/* DMAs refused while DMA was frozen */
	uint64_t mmio_stopped;		/* loads answered all ones and stores dropped */
	uint64_t injections;		/* errors injected (armed) */
};

/*
 * emu_pe_freeze - freeze @group's PE (MMIO and DMA) as a hardware error
 * would: for tests, from outside the program (dropin: SPAPRTCE_EEH_CTL).
 * Returns after every DMA in flight has finished.  0 (also when frozen
 * already), -ENODEV (no such group, or no eeh), -ENOMEM (start).
 */
SPAPRTCE_API int emu_pe_freeze(int group);
/* The PE's state (enum emu_pe_state, >= 0), -ENODEV, -ENOMEM. */
SPAPRTCE_API int emu_pe_get_state(int group);
/*
 * emu_pe_set_enabled - ENABLE (true): faulting DMAs freeze the PE from now
 * on, and a frozen PE is thawed, as eeh_pe_change_owner does when the OS
 * takes the PE over.  DISABLE (false): faults no longer freeze it (PAPR's
 * meaning; a frozen PE stays frozen).  0, -ENODEV, -ENOMEM.
 */
SPAPRTCE_API int emu_pe_set_enabled(int group, bool enabled);
/* Thaws MMIO (@dma false) or DMA (@dma true); 0 also when not frozen.  0, -ENODEV, -ENOMEM. */
SPAPRTCE_API int emu_pe_thaw(int group, bool dma);
/*
 * emu_pe_reset - HOT or FUNDAMENTAL: freeze the PE, save the function's
 * command register and MSI-X control, reset the device model (emu/dev.h)
 * and leave bus mastering and memory decoding off.  DEACTIVATE: deassert,
 * restore what was saved (eeh_pe_restore_bars) and thaw (eeh_unfreeze_pe).
 * 0, -EINVAL (@how), -ENODEV, -ENOMEM.
 */
SPAPRTCE_API int emu_pe_reset(int group, enum emu_pe_reset how);
/* emu_pe_configure - restores the saved config again (after a reset).  0, -ENODEV, -ENOMEM. */
SPAPRTCE_API int emu_pe_configure(int group);
/*
 * emu_pe_inject - arm an error: the next access of function @func's kind
 * (0-1 MMIO load, 2-3 IO load, 4-5 config load, 6-7 MMIO store, 8-9 IO
 * store, 10-11 config store, 12-15 DMA read, 16-19 DMA write) whose address
 * matches @addr under @mask (32 bits of each for type 0) fails and freezes
 * the PE; one shot, replacing an armed one.  0, -EINVAL (@type > 1, @func
 * > 19), -ENODEV, -ENOMEM.
 */
SPAPRTCE_API int emu_pe_inject(int group, unsigned type, unsigned func, uint64_t addr,
			       uint64_t mask);
/*
 * emu_pe_access - a CPU access of @group's device (a BAR at bus address
 * @addr, or config offset @addr) asks whether it reaches the device.  False
 * when MMIO is frozen (the access is counted) or an armed injection matches
 * (the PE freezes).  True on a machine without eeh or an unknown group.
 */
SPAPRTCE_API bool emu_pe_access(int group, enum emu_pe_access kind, uint64_t addr);
/* Status and counters.  0, -ENODEV, -ENOMEM. */
SPAPRTCE_API int emu_pe_status(int group, struct emu_pe_status *st);
/* "DMA fault", "injected", "external", "?" */
SPAPRTCE_API const char *emu_pe_cause_name(enum emu_pe_cause cause);

/* ------------------------------------------------------------------ stats */

struct emu_group_stats {
	bool programmed[EMU_MAX_WINDOWS];
	struct emu_window windows[EMU_MAX_WINDOWS];	/* geometry of programmed slots */
	uint64_t window_sets, window_unsets;
	uint64_t dma_reads, dma_writes;			/* successful transfers */
	uint64_t bytes_read, bytes_written;
	uint64_t cache_hits, cache_misses;		/* per TCE page translated */
	uint64_t cache_entries;				/* live now */
	uint64_t cache_flushes;				/* whole-cache invalidations */
	uint64_t kills, killed_pages;
	uint64_t faults[EMU_FAULT_NREASONS];
	uint64_t fault_overflow;
	bool dirty_logging;
	uint64_t dirty_page_size;			/* tracking page when logging */
};

/* Returns 0, -ENODEV, -ENOMEM (start).  Takes ep->rw for reading and ep->lock. */
SPAPRTCE_API int emu_group_get_stats(int group, struct emu_group_stats *st);

#ifdef __cplusplus
}
#endif

/* ---------------------------------------------------------- device models */

/*
 * emu_dev_configure - put device @spec in group @group before the machine
 * starts: "MODEL[:KEY=VAL...]" with MODEL dma-engine (no keys), or "none"
 * for no device.  The same as devG=SPEC in SPAPRTCE_MACHINE (which, when
 * set, is applied on top at start).  Default: a dma-engine in every group.
 * Returns 0, -EBUSY (started), -EINVAL (group >= EMU_MAX_GROUPS, unknown
 * model or key), -ENOMEM.  docs/devices.md describes the models.
 */
SPAPRTCE_API int emu_dev_configure(int group, const char *spec);

#define EMU_DEV_INFO_BARS 6u
/* bar_flags bits */
#define EMU_DEV_INFO_BAR_MEM64 0x1u	/* a 64-bit BAR: the next slot is its upper half (size 0) */
#define EMU_DEV_INFO_BAR_PREFETCH 0x2u
#define EMU_DEV_INFO_BAR_RAM 0x4u	/* plain memory: the device fd may mmap it */

struct emu_dev_info {
	char name[16];		/* PCI address, "0000:00:0X.0" with X = group + 1 */
	char model[24];		/* "dma-engine", ... */
	uint16_t vendor, device, subsystem_vendor, subsystem_device;
	uint32_t class_code;	/* base << 16 | sub << 8 | prog-if */
	uint8_t revision;
	uint64_t bar_size[EMU_DEV_INFO_BARS];	/* bytes, a power of two; 0: absent */
	uint32_t bar_flags[EMU_DEV_INFO_BARS];	/* EMU_DEV_INFO_BAR_* */
};

/*
 * emu_dev_info - what sits in @group (starts the machine): its identity and
 * its BAR layout (the memory BARs a PCI enumeration would size).  The
 * layout is the open instance's; when the device is not open, the model
 * builds a scratch instance that is destroyed before returning (for
 * virtio-blk that opens its file).  Returns 0, -ENODEV (no such group),
 * -ENOENT (no device there), -ENOMEM (start; fault points
 * "emu_dev_alloc", "emu_dev_ram"), or the model's create error (a
 * virtio-blk file that cannot be opened).  On failure *info is undefined.
 */
SPAPRTCE_API int emu_dev_info(int group, struct emu_dev_info *info);

#endif
