/* SPDX-License-Identifier: MIT */
/*
 * The locks a hypercall holds on its table and the hardware windows.
 *
 * One hypercall at a time per table (all-or-nothing, and the guest-visible
 * entries have one writer).  A table with attachments gets that from its
 * windows' write_locks, since every hypercall on it takes them all and its
 * attachments do not change under the guest lock; only a table without any
 * takes its own lock.  Each lock pair costs tens of nanoseconds, a few
 * percent of an H_PUT_TCE_INDIRECT of 512 entries.
 *
 * Then the group_lock of every distinct container, for reading (as every
 * MAP_DMA holds it: the kill callback walks the container's groups), then
 * the write_lock of every distinct window, each kind in ascending address
 * order: the lock order (on struct spapr_guest, guest_priv.h) says why.
 * The write_lock serialises us with MAP,
 * UNMAP and the clear of a removal.  A window found dead under its
 * write_lock was removed (TCE_REMOVE or the container's release): its table
 * no longer serves any device, so it is left alone; under quirks=kernel it
 * is written as KVM writes the table it still holds (Q15: the attachment
 * keeps the window's driver instance alive for that, guest_attach.c).
 */
#include "emu/quirk.h"
#include "spapr/guest_priv.h"

/* Caller holds the guest lock (read or write). */
void spapr__hcall_lock(struct spapr_guest_table *gt, struct spapr_hcall_locks *l)
{
	l->tlock = gt->natt ? NULL : gt;
	if (l->tlock)
		util_mutex_lock(&gt->lock);
	l->n = 0;
	l->nc = 0;
	for (unsigned i = 0; i < gt->natt; i++) {
		const struct spapr_guest_attachment *a = &gt->att[i];
		unsigned k;

		if (l->n && l->w[l->n - 1] == a->w)
			continue;	/* two groups of one container share its windows */
		l->w[l->n++] = a->w;
		for (k = 0; k < l->nc && l->c[k] != a->c; k++)
			;
		if (k < l->nc)
			continue;
		/* Containers in ascending address order too, whatever their windows' order. */
		for (k = l->nc++; k > 0 && (uintptr_t)l->c[k - 1] > (uintptr_t)a->c; k--)
			l->c[k] = l->c[k - 1];
		l->c[k] = a->c;
	}
	for (unsigned k = 0; k < l->nc; k++)
		util_rwlock_rdlock(&l->c[k]->group_lock);
	for (unsigned j = 0; j < l->n; j++) {
		util_mutex_lock(&l->w[j]->write_lock);
		/* q1517: Q15 under quirks=kernel, KVM writes a removed table too. */
		l->live[j] = !l->w[j]->dead || emu__quirk(EMU_Q15);
	}
}

void spapr__hcall_unlock(struct spapr_hcall_locks *l)
{
	for (unsigned j = l->n; j-- > 0;)
		util_mutex_unlock(&l->w[j]->write_lock);
	for (unsigned k = l->nc; k-- > 0;)
		util_rwlock_unlock(&l->c[k]->group_lock);
	if (l->tlock)
		util_mutex_unlock(&l->tlock->lock);
}
