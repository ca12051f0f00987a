/* SPDX-License-Identifier: MIT */
/*
 * The fault log of each endpoint: a ring of struct emu_fault with
 * free-running producer and consumer counts (index = count % size).
 *
 * Why the new record is dropped when the ring is full: the producer of a
 * hardware/VFIO fault queue never overwrites records the consumer has not
 * read, so the oldest, usually most telling, fault survives; the loss is
 * counted in overflow.
 */
#include <errno.h>
#include <stdio.h>

#include "emu/phb_priv.h"

static uint64_t fault_seq;	/* global order of faults; atomic */

static const char *const reason_names[EMU_FAULT_NREASONS] = {
	[EMU_FAULT_NO_WINDOW] = "no window",
	[EMU_FAULT_NO_TRANSLATION] = "no translation",
	[EMU_FAULT_PERMISSION] = "permission",
	[EMU_FAULT_TABLE_UNREADABLE] = "table memory unreadable",
	[EMU_FAULT_UNPINNED] = "use-after-unpin",
	[EMU_FAULT_USER_UNMAPPED] = "registered memory unmapped by the process",
	[EMU_FAULT_FROZEN] = "PE frozen",
};

const char *emu_fault_reason_name(enum emu_fault_reason reason)
{
	if ((unsigned)reason >= EMU_FAULT_NREASONS)
		return "?";
	return reason_names[reason];
}

void emu__fault_record(struct emu__endpoint *ep, uint64_t iova, uint64_t tce,
		       enum emu_dma_access access, enum emu_fault_reason reason)
{
	unsigned size = emu__machine.cfg.fault_ring;
	struct emu_fault *f;

	ep->st.faults[reason]++;
	if (ep->prod - ep->cons >= size) {
		ep->st.fault_overflow++;
		return;
	}
	f = &ep->ring[ep->prod % size];
	f->seq = __atomic_add_fetch(&fault_seq, 1, __ATOMIC_RELAXED);
	f->iova = iova;
	f->tce = tce;
	f->access = access;
	f->reason = reason;
	ep->prod++;
}

int emu_fault_log_read(int group, struct emu_fault *out, unsigned max, unsigned *n)
{
	struct emu__endpoint *ep;
	unsigned size, k = 0;
	int rc = emu__endpoint(group, &ep);

	if (rc)
		return rc;
	size = emu__machine.cfg.fault_ring;
	pthread_mutex_lock(&ep->lock);
	while (k < max && ep->cons != ep->prod) {
		out[k++] = ep->ring[ep->cons % size];
		ep->cons++;
	}
	pthread_mutex_unlock(&ep->lock);
	*n = k;
	return 0;
}

int emu_fault_log_stats(int group, struct emu_fault_log_stats *st)
{
	struct emu__endpoint *ep;
	int rc = emu__endpoint(group, &ep);

	if (rc)
		return rc;
	pthread_mutex_lock(&ep->lock);
	st->producer = ep->prod;
	st->consumer = ep->cons;
	st->overflow = ep->st.fault_overflow;
	st->size = emu__machine.cfg.fault_ring;
	pthread_mutex_unlock(&ep->lock);
	return 0;
}

int emu__fault_check(struct emu__endpoint *ep, int group)
{
	uint64_t total = 0;
	unsigned r;

	for (r = 0; r < EMU_FAULT_NREASONS; r++)
		total += ep->st.faults[r];
	if (ep->cons > ep->prod || ep->prod - ep->cons > emu__machine.cfg.fault_ring ||
	    total != ep->prod + ep->st.fault_overflow) {
		fprintf(stderr,
			"emu_machine_check: group %d: fault ring producer %llu consumer %llu overflow %llu, %llu faults counted\n",
			group, (unsigned long long)ep->prod, (unsigned long long)ep->cons,
			(unsigned long long)ep->st.fault_overflow, (unsigned long long)total);
		return -EUCLEAN;
	}
	return 0;
}
