/* SPDX-License-Identifier: MIT */
/*
 * Attaching VFIO groups' hardware windows to guest TCE tables (as
 * KVM's kvm_spapr_tce_attach_iommu_group and _release_iommu_group).
 *
 * An attachment holds a reference on the window, one on its driver
 * instance and one on the container object.  The window reference keeps
 * the table memory and the window's write_lock alive after a TCE_REMOVE or
 * the container's release; such a window is then "dead".  Under
 * quirks=fixed hypercalls skip it.  Under quirks=kernel they go on writing
 * it (Q15), as KVM writes the table whose reference its
 * kvm_spapr_tce_attach_iommu_group took (iommu_tce_table_get) after
 * tce_iommu_free_table dropped VFIO's: the driver instance reference keeps
 * what such a write reads alive (the drops read its type, mm and v1 pins)
 * after the container's release, which frees the rest.  The container
 * reference keeps its group_lock alive, which a hypercall takes (read)
 * before the window's write_lock, as MAP_DMA does, so that the kill
 * callback can walk the container's groups.
 */
#include <errno.h>

#include "spapr/guest_priv.h"

/* The group object behind @group_fd (a reference), or NULL with *rc. */
static struct spapr_group *group_get(int group_fd, int *rc)
{
	struct spapr_obj *obj;

	*rc = spapr__fd_get_rc(group_fd, &obj);
	if (*rc)
		return NULL;
	if (obj->kind != SPAPR_KIND_GROUP) {
		spapr__obj_put(obj);
		*rc = -EINVAL;
		return NULL;
	}
	return (struct spapr_group *)obj;
}

/*
 * The window of @c that can back @gt, with a reference.  Takes group_lock
 * (read) and the driver's mutex.  Returns 0 or -EINVAL (no driver, not
 * bound to this guest's mm, no window fits).  As
 * kvm_spapr_tce_attach_iommu_group, only windows the hardware already has
 * count: a pending default window is not created (check_hcall
 * t_attach_pending_default_window), and a v1
 * container's window is as good as a v2 one's.
 */
static int window_pick(struct spapr_guest *guest, struct spapr_guest_table *gt,
		       struct spapr_container *c, struct spapr_window **out,
		       struct spapr_tce_container **out_tc)
{
	uint64_t start = gt->offset << gt->page_shift, size = gt->size << gt->page_shift;
	struct spapr_window *found = NULL;
	struct spapr_tce_container *tc;
	int rc = -EINVAL;

	util_rwlock_rdlock(&c->group_lock);
	tc = c->tc;
	/*
	 * The mm check is ours: the kernel's KVM and VFIO share one process.
	 * A container bound elsewhere (or, v1, not enabled) is refused.
	 */
	if (!tc || __atomic_load_n(&tc->mm, __ATOMIC_ACQUIRE) != guest->mm)
		goto out_unlock;
	util_mutex_lock(&tc->lock);
	for (unsigned s = 0; s < SPAPR_WINDOWS && !found; s++) {
		struct spapr_window *w = tc->windows[s];

		/* The window is at most 2^64 bytes; size fits since offset + size <= 2^64 >> shift. */
		if (w && w->page_shift <= gt->page_shift && w->start == start && w->size >= size)
			found = w;
	}
	if (found) {
		__atomic_add_fetch(&found->refs, 1, __ATOMIC_RELAXED);	/* the slot holds one */
		spapr__tce_container_get(tc);	/* c->tc holds one */
	}
	util_mutex_unlock(&tc->lock);
	rc = found ? 0 : -EINVAL;
	*out = found;
	*out_tc = tc;
out_unlock:
	util_rwlock_unlock(&c->group_lock);
	return rc;
}

int spapr__guest_attach_group(struct spapr_guest *guest, uint64_t liobn, int group_fd)
{
	struct spapr_guest_table *gt;
	struct spapr_tce_container *tc = NULL;
	struct spapr_container *c;
	struct spapr_window *w;
	struct spapr_group *g;
	uint64_t seq;
	unsigned i;
	int rc;

	g = group_get(group_fd, &rc);
	if (!g)
		return rc;
	util_rwlock_wrlock(&guest->lock);
	gt = spapr__guest_table_find(guest, liobn);
	if (!gt) {
		rc = -EINVAL;
		goto out_unlock;
	}
	/* The same group again: another reference, as KVM's kref_get on its stit. */
	for (i = 0; i < gt->natt; i++) {
		if (gt->att[i].group == g->id) {
			gt->att[i].refs++;
			rc = 0;
			goto out_unlock;
		}
	}
	if (gt->natt == SPAPR_GUEST_MAX_ATTACH) {
		rc = -ENOSPC;
		goto out_unlock;
	}
	util_mutex_lock(&spapr_vfio_lock);
	c = g->container;
	if (c)	/* g->container holds one, so the count is not 0 */
		__atomic_add_fetch(&c->obj.refs, 1, __ATOMIC_RELAXED);
	util_mutex_unlock(&spapr_vfio_lock);
	if (!c) {
		rc = -EINVAL;
		goto out_unlock;
	}
	rc = window_pick(guest, gt, c, &w, &tc);
	if (rc) {
		util_rwlock_unlock(&guest->lock);
		spapr__obj_put(&c->obj);
		spapr__obj_put(&g->obj);
		return rc;
	}
	seq = spapr__hcall_kernel_seq(gt, w);	/* Q12: KVM's order of the table's windows */
	/* Keep att[] sorted by window: the lock order of hypercalls (spapr_priv.h). */
	for (i = gt->natt; i > 0 && (uintptr_t)gt->att[i - 1].w > (uintptr_t)w; i--)
		gt->att[i] = gt->att[i - 1];
	gt->att[i].seq = seq;
	gt->att[i].w = w;
	gt->att[i].tc = tc;
	gt->att[i].c = c;
	gt->att[i].group = g->id;
	gt->att[i].refs = 1;
	gt->natt++;
out_unlock:
	util_rwlock_unlock(&guest->lock);
	spapr__obj_put(&g->obj);
	return rc;
}

static void attach_put(struct spapr_guest_attachment *a)
{
	spapr__window_put(a->w);
	spapr__tce_container_put(a->tc);
	spapr__obj_put(&a->c->obj);
}

int spapr__guest_detach_group(struct spapr_guest *guest, uint64_t liobn, int group_fd)
{
	struct spapr_guest_attachment a = { 0 };
	struct spapr_guest_table *gt;
	struct spapr_group *g;
	int rc = -ENOENT;

	g = group_get(group_fd, &rc);
	if (!g)
		return rc;
	util_rwlock_wrlock(&guest->lock);
	gt = spapr__guest_table_find(guest, liobn);
	if (!gt) {
		rc = -EINVAL;
	} else {
		rc = -ENOENT;
		for (unsigned i = 0; i < gt->natt; i++) {
			if (gt->att[i].group != g->id)
				continue;
			rc = 0;
			if (--gt->att[i].refs)
				break;	/* attached more often than detached */
			a = gt->att[i];
			for (; i + 1 < gt->natt; i++)
				gt->att[i] = gt->att[i + 1];
			gt->natt--;
			gt->att_gen++;	/* hcall_put1.c's leaf may name this window's table */
			break;
		}
	}
	util_rwlock_unlock(&guest->lock);
	spapr__obj_put(&g->obj);
	/* Outside the guest lock: the container's last reference releases it. */
	if (a.w)
		attach_put(&a);
	return rc;
}

/* The table is unreachable: no lock needed.  Never fails. */
void spapr__guest_table_detach_all(struct spapr_guest_table *gt)
{
	for (unsigned i = 0; i < gt->natt; i++)
		attach_put(&gt->att[i]);
	gt->natt = 0;
}
