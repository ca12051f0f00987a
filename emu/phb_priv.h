/* SPDX-License-Identifier: MIT */
/*
 * emu/phb_priv.h: internals shared by the device side of the machine
 * (machine.c, phb.c, phb_dma.c, faultlog.c, dirtylog.c).  Other layers use
 * emu/emu.h.  The lock rules are those of emu/emu.h.
 */
#ifndef SPAPRTCE_EMU_PHB_PRIV_H
#define SPAPRTCE_EMU_PHB_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "emu/emu.h"

#define EMU__CACHE_WAYS 4u

/* A programmed window register and what the walker derives from it once. */
struct emu__window_reg {
	bool programmed;
	struct emu_window w;
	uint64_t it_offset;	/* first entry */
	uint64_t start, end;	/* bus addresses, end exclusive */
	unsigned level_bits;	/* S = log2(level_size) */
};

/* key = ((entry << 1) | slot) + 1; 0 is an empty way. */
struct emu__cache_ent {
	uint64_t key;
	uint64_t tce;
};

struct emu__dirty_log;

/* What a PE reset saved of its function's config (emu/dev.c). */
struct emu__dev_saved {
	bool valid;
	uint16_t command;
	uint16_t msix_ctl;
	uint16_t msi_ctl;	/* MSI enable and QSIZE (emu/dev.c) */
};

/* The EEH state of an endpoint (emu/pe.c), under ep->lock; zero is a normal PE. */
struct emu__pe {
	struct emu_pe_status st;	/* states and counters as emu_pe_status reports them */
	unsigned inj_type, inj_func;	/* with st.inject_armed */
	uint64_t inj_addr, inj_mask;
	struct emu__dev_saved saved;	/* by the last reset asserted */
};

/*
 * One partitionable endpoint (= IOMMU group).  Lock order and roles in
 * emu/emu.h: rw (the TVE lock) -> lock -> emu/mem's leaf locks.
 */
struct emu__endpoint {
	pthread_rwlock_t rw;
	/* Under rw: written with it held for writing, read with it held either way. */
	struct emu__window_reg win[EMU_MAX_WINDOWS];
	struct emu__dirty_log *dirty;

	pthread_mutex_t lock;
	/* Under lock. */
	struct emu__cache_ent *cache;	/* sets * EMU__CACHE_WAYS ways, LRU first */
	unsigned cache_sets, cache_ways;
	struct emu_fault *ring;
	uint64_t prod, cons;
	struct emu_group_stats st;	/* counters; windows/dirty fields filled on read */
	struct emu__pe pe;
	/*
	 * DMAs between their translation and their end (phb.c's
	 * emu__dma_begin/end): atomic, raised under lock.  A kill that finds
	 * it 0 and the cache empty under lock needs no wait (phb.c).
	 */
	uint64_t dma_inflight;
};

struct emu__machine {
	bool started;		/* set under the machine lock, read with acquire */
	struct emu_machine_config cfg;
	struct emu__endpoint *ep;	/* cfg.groups of them */
	unsigned quirks;	/* cfg.quirks, read lock-free by every layer (atomic) */
};

extern struct emu__machine emu__machine;

/* The endpoint of @group, starting the machine.  0, -ENODEV, -ENOMEM. */
int emu__endpoint(int group, struct emu__endpoint **ep);

/* Whether debug-build DMAs abort on use-after-unpin. */
bool emu__abort_on_unpinned(void);

/*
 * phb.c: a DMA's translation starts (ep->rw held for reading, ep->lock
 * held) and it ends (ep->rw still held, after the last byte moved, on every
 * path): between the two, kills wait for it (emu_phb_tce_kill).
 */
void emu__dma_begin(struct emu__endpoint *ep);
void emu__dma_end(struct emu__endpoint *ep);

/* phb.c: TCE cache (ep->lock held) and walker. */
bool emu__cache_find(struct emu__endpoint *ep, unsigned slot, uint64_t entry, uint64_t *tce);
void emu__cache_insert(struct emu__endpoint *ep, unsigned slot, uint64_t entry, uint64_t tce);
void emu__cache_flush(struct emu__endpoint *ep);
/*
 * Walks window @r's table for @entry.  Returns 0 with *tce the leaf value
 * (0: empty), or the fault reason EMU_FAULT_NO_TRANSLATION (indirect entry
 * missing) / EMU_FAULT_TABLE_UNREADABLE, as a positive number.
 */
int emu__walk(const struct emu__window_reg *r, uint64_t entry, uint64_t *tce);
int emu__phb_check(struct emu__endpoint *ep, int group);

/* faultlog.c (ep->lock held). */
void emu__fault_record(struct emu__endpoint *ep, uint64_t iova, uint64_t tce,
		       enum emu_dma_access access, enum emu_fault_reason reason);
int emu__fault_check(struct emu__endpoint *ep, int group);

/* pe.c (ep->lock held): a fault freezes the PE; a DMA asks whether it may run (0 or -ESHUTDOWN). */
void emu__pe_fault(struct emu__endpoint *ep, enum emu_fault_reason reason);
int emu__pe_dma(struct emu__endpoint *ep, uint64_t iova, enum emu_dma_access access);

/* dev.c: a PE reset of @group's device, if it has one (takes the device table lock, d->lock). */
void emu__dev_eeh_reset(int group, struct emu__dev_saved *saved);
void emu__dev_eeh_restore(int group, const struct emu__dev_saved *saved);

/* dirtylog.c: marks [iova, end) (ep->rw held for reading; atomic bit sets). */
void emu__dirty_mark(struct emu__dirty_log *d, uint64_t iova, uint64_t end);
void emu__dirty_free(struct emu__dirty_log *d);
uint64_t emu__dirty_page_size(const struct emu__dirty_log *d);
int emu__dirty_check(const struct emu__dirty_log *d, int group);

#endif
