/* SPDX-License-Identifier: MIT */
/*
 * spapr/guest_priv.h: the objects of the guest (hypercall) path behind the
 * spapr_guest_* and spapr_h_* calls of spapr/spapr.h.  For guest*.c and
 * hcall*.c only; the container objects they reach are in spapr_priv.h.
 */
#ifndef SPAPRTCE_GUEST_PRIV_H
#define SPAPRTCE_GUEST_PRIV_H

#include "spapr/spapr_priv.h"



/*
 * Locks of the guest path, in order, before every container lock:
 *   guest->lock (rwlock)   written by memslot, table create/destroy,
 *                          attach/detach; read by every hypercall.
 *   table->lock (mutex)    serialises the hypercalls of one LIOBN that
 *                          has no attachment.  With attachments, which
 *                          do not change under guest->lock, their
 *                          windows' write_locks serialise them (every
 *                          hypercall on the table takes them all), and
 *                          table->lock is not taken: one lock pair less
 *                          per call (spapr__hcall_lock).
 * Then every distinct container's group_lock (read), in ascending address
 * order, then every distinct window's write_lock, in ascending address order
 * (att[] is kept sorted), then the mmreg read section.
 */
#define SPAPR_GUEST_MAX_ATTACH 8u
#define SPAPR_GUEST_TCES_PER_PAGE (EMU_PAGE_SIZE / 8)

struct spapr_guest_attachment {
	struct spapr_window *w;		/* a reference */
	struct spapr_container *c;	/* a reference on the container object */
	int group;			/* IOMMU group id */
};

struct spapr_guest_table {
	uint64_t liobn;
	unsigned page_shift;		/* guest IOMMU page shift */
	uint64_t offset, size;		/* guest entries */
	uint64_t **pages;		/* npages page pointers; each NULL until needed, atomic */
	uint64_t npages;
	uint64_t charged;		/* pages charged to the guest's mm */
	pthread_mutex_t lock;
	unsigned natt;
	struct spapr_guest_attachment att[SPAPR_GUEST_MAX_ATTACH];	/* sorted by w */
};

struct spapr_guest_memslot {
	uint64_t gpa, size, ua;		/* size 0: unused */
};

struct spapr_guest {
	pthread_rwlock_t lock;
	struct mmreg_mm *mm;		/* a reference */
	struct spapr_guest_memslot slots[SPAPR_GUEST_MEMSLOTS];
	struct util_u64map tables;	/* liobn -> struct spapr_guest_table * */
	/*
	 * The memslots the last hypercall found its TCEs' pages and its
	 * INDIRECT list in, where the next one looks first.  Only hints:
	 * hypercalls under the lock for reading read and write them with
	 * relaxed atomics, and any value will do.
	 */
	unsigned slot_hint, list_slot_hint;
};

/* guest.c */
/* Pages charged for a guest table of @npages pages of entries (KVM's kvmppc_stt_pages). */
uint64_t spapr__guest_table_charge(uint64_t npages);
struct spapr_guest_table *spapr__guest_table_find(struct spapr_guest *guest, uint64_t liobn);
/* ua of guest physical [gpa, gpa + len) inside one memslot; *hint caches the slot. */
int spapr__guest_gpa_to_ua(const struct spapr_guest *guest, uint64_t gpa, uint64_t len,
			   uint64_t *ua, unsigned *hint);

/* guest_attach.c */
void spapr__guest_table_detach_all(struct spapr_guest_table *gt);

/* hcall_lock.c: the locks of a hypercall on one table (see the order above). */
struct spapr_hcall_locks {
	struct spapr_guest_table *tlock;	/* whose lock is held: a table without attachments */
	unsigned n;				/* distinct windows */
	struct spapr_window *w[SPAPR_GUEST_MAX_ATTACH];
	bool live[SPAPR_GUEST_MAX_ATTACH];	/* not removed: may be written */
	unsigned nc;
	struct spapr_container *c[SPAPR_GUEST_MAX_ATTACH];
};
void spapr__hcall_lock(struct spapr_guest_table *gt, struct spapr_hcall_locks *l);
void spapr__hcall_unlock(struct spapr_hcall_locks *l);

#endif
