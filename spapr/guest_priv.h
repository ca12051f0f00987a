/* SPDX-License-Identifier: MIT */
/*
 * spapr/guest_priv.h: the objects of the guest (hypercall) path behind the
 * spapr_guest_* and spapr_h_* calls of spapr/spapr.h.  For guest*.c and
 * hcall*.c only; the container objects they reach are in spapr_priv.h.
 */
#ifndef SPAPRTCE_GUEST_PRIV_H
#define SPAPRTCE_GUEST_PRIV_H

#include "spapr/spapr_priv.h"



#define SPAPR_GUEST_MAX_ATTACH 8u
#define SPAPR_GUEST_TCES_PER_PAGE (EMU_PAGE_SIZE / 8)

struct spapr_guest_attachment {
	struct spapr_window *w;		/* a reference */
	struct spapr_tce_container *tc;	/* w->tc, a reference: outlives its release (Q15) */
	struct spapr_container *c;	/* a reference on the container object */
	int group;			/* IOMMU group id */
	unsigned refs;			/* attaches of this group less its detaches */
	uint64_t seq;			/* Q12: when w joined the table (hcall_kernel.c's window order) */
};

struct spapr_guest_table {
	uint64_t liobn;
	unsigned page_shift;		/* guest IOMMU page shift */
	uint64_t offset, size;		/* guest entries */
	uint64_t **pages;		/* npages page pointers; each NULL until needed, atomic */
	uint64_t npages;
	uint64_t charged;		/* pages charged to the guest's mm */
	struct util_mutex lock;		/* 2 in the lock order (struct spapr_guest) */
	bool q12_diverged;		/* Q12 (quirks=kernel): a hypercall failed half-way (hcall_kernel.c) */
	uint64_t q12_seq;		/* Q12: the last attachment seq given (hcall_kernel.c) */
	unsigned natt;
	struct spapr_guest_attachment att[SPAPR_GUEST_MAX_ATTACH];	/* sorted by w */
	/*
	 * Bumped, under the guest lock (write), whenever an attachment goes:
	 * a window pointer seen before may then name another window.
	 */
	unsigned att_gen;
	/*
	 * H_PUT_TCE's leaf blocks of its last entry (hcall_put1.c): valid
	 * while @w is still the table's one window and @gen is att_gen (the
	 * attachment's window reference keeps the window's table, whose blocks
	 * live as long as it).  Under w->write_lock.
	 */
	struct {
		struct spapr_window *w;
		unsigned gen;
		struct tce_leaf leaf;
	} put1;
};

struct spapr_guest_memslot {
	uint64_t gpa, size, ua;		/* size 0: unused */
};

/*
 * THE LOCK ORDER of spapr-tce.  This is the one text: spapr.h,
 * spapr_priv.h, hcall_lock.c and the docs point here.  guest->lock is the
 * outermost lock, so the order lives on the struct that owns it.  Every
 * function whose comment says "under X" asserts it (util/lock.h; debug and
 * test builds).
 *
 *   1. guest->lock (rwlock, struct spapr_guest): written by memslot
 *      changes, table create and destroy, attach and detach; read by every
 *      hypercall, for its whole length.
 *   2. gt->lock (mutex, struct spapr_guest_table): serialises the
 *      hypercalls of one LIOBN that has no attachment.  With attachments,
 *      which do not change under guest->lock, their windows' write_locks
 *      (7) serialise them, since every hypercall on the table takes them
 *      all, and gt->lock is not taken (spapr__hcall_lock).
 *   3. spapr_vfio_lock (global mutex, fd.c): group <-> container attachment;
 *      held across SET_CONTAINER, UNSET_CONTAINER, a group's last close and
 *      an attach's look at the group's container.  A device fd's release
 *      takes the device's locks (spapr/device_priv.h) under it.
 *   4. spapr_fd_lock (global mutex, fd.c): the fd table and the set of open
 *      groups; held across lookups and a group's creation only, never
 *      while another lock of this list is taken.  The device's interrupt
 *      set-up looks an fd up under the device's irq_lock, so it comes after
 *      the device's locks, hence after spapr_vfio_lock (the order in which
 *      fork() takes them, util/lock.h).
 *   5. c->group_lock (rwlock, struct spapr_container): the VFIO core's
 *      lock.  Written to change the group list, the IOMMU type or the
 *      driver instance; read by every driver request, MAP and UNMAP
 *      included, and by hypercalls.  Under it the group list does not
 *      change, so kill callbacks walk it without a lock.  A hypercall takes
 *      every distinct container's, for reading, in ascending address order.
 *   6. tc->lock (mutex, struct spapr_tce_container): the driver's container
 *      mutex: REGISTER, UNREGISTER, TCE_CREATE, TCE_REMOVE, ENABLE,
 *      DISABLE, the default window, release.  MAP, UNMAP and hypercalls do
 *      not take it.
 *   7. w->write_lock (mutex, struct spapr_window): serialises the writers
 *      of one window's entries (MAP, UNMAP, a hypercall, the clear of a
 *      removal or release), so that entries are stored with plain atomic
 *      stores instead of locked exchanges.  A hypercall takes every
 *      distinct window's in ascending address order (gt->att[] is kept
 *      sorted), so that two tables sharing windows lock them in one order.
 *   8. mmreg: mm->lock and the read section (a hypercall holds the read
 *      section across its whole run), then emu's leaf locks.
 *
 * A lock may be skipped, never taken out of order.
 */
struct spapr_guest {
	struct util_rwlock lock;		/* 1 in the lock order above */
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
	/*
	 * The table the last hypercall found, where the next looks first (its
	 * liobn compared).  A hint under the lock for reading, read and
	 * written with relaxed atomics; table destroy clears it under the lock
	 * for writing, so it never names a freed table.
	 */
	struct spapr_guest_table *last_gt;
};

/*
 * The guest API's bodies: 0 or a negative errno.  guest_api.c is the
 * public spapr_guest_* functions, each this body and the one conversion
 * to -1 and errno (spapr__ret).
 */
int spapr__guest_create(struct spapr_guest **out);
int spapr__guest_set_memslot(struct spapr_guest *guest, unsigned slot, uint64_t gpa,
			     uint64_t size, void *ua);
int spapr__guest_create_tce_table(struct spapr_guest *guest, uint64_t liobn,
				  unsigned page_shift, uint64_t offset, uint64_t size);
int spapr__guest_destroy_tce_table(struct spapr_guest *guest, uint64_t liobn);
int spapr__guest_attach_group(struct spapr_guest *guest, uint64_t liobn, int group_fd);
int spapr__guest_detach_group(struct spapr_guest *guest, uint64_t liobn, int group_fd);
int spapr__guest_check(struct spapr_guest *guest);
/* spapr__guest_check with G4 only for table @liobn's indexes [lo, hi)
 * (guest_check.c; the fuzz target's check after a hypercall). */
int spapr__guest_check_range(struct spapr_guest *guest, uint64_t liobn, uint64_t lo, uint64_t hi);
/* The guest is the parent's (this is a forked child): see guest_api.c. */
bool spapr__guest_foreign(const struct spapr_guest *guest);

/* guest.c */
/* Pages charged for a guest table of @npages pages of entries (KVM's kvmppc_stt_pages). */
uint64_t spapr__guest_table_charge(uint64_t npages);
struct spapr_guest_table *spapr__guest_table_find(struct spapr_guest *guest, uint64_t liobn);
/* ua of guest physical [gpa, gpa + len) inside one memslot; *hint caches the slot. */
int spapr__guest_gpa_to_ua(const struct spapr_guest *guest, uint64_t gpa, uint64_t len,
			   uint64_t *ua, unsigned *hint);

/*
 * hcall_put1.c: H_PUT_TCE on its fast path, under the guest lock (read),
 * for table @gt and guest entry @entry (checked): the H_* answer, or
 * SPAPR_HCALL_SLOW (nothing done, no fault point passed) when the general
 * path must answer.
 */
#define SPAPR_HCALL_SLOW (-65536l)	/* no H_* code */
long spapr__hcall_put1(struct spapr_guest *guest, struct spapr_guest_table *gt, uint64_t entry,
		       uint64_t tce);
/*
 * The checker's part of what the hypercalls keep between calls (G5, G6 of
 * guest_check.c): 0 or -EUCLEAN with a message.  Under the guest lock
 * (write).
 */
int spapr__hcall_put1_check(struct spapr_guest *guest);

/* guest_attach.c */
void spapr__guest_table_detach_all(struct spapr_guest_table *gt);

/* hcall_lock.c: the locks of a hypercall on one table (the order: struct spapr_guest). */
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

/* hcall_kernel.c (Q12): the seq of a new attachment of @w to @gt (KVM's list order). */
uint64_t spapr__hcall_kernel_seq(struct spapr_guest_table *gt, const struct spapr_window *w);

#endif
