/* SPDX-License-Identifier: MIT */
/*
 * Containers (/dev/vfio/vfio): the VFIO core's part.  GET_API_VERSION,
 * CHECK_EXTENSION and SET_IOMMU are rows of this file's table; every other
 * request goes to the driver instance's table (spapr/tce_container.c) under
 * the read side of group_lock, as vfio_fops_unl_ioctl does.  Attaching and detaching groups, and
 * creating and releasing the driver instance, take it for writing.
 *
 * Detaching the last group releases the driver instance, as the VFIO core's
 * vfio_group_detach_container does: the container then needs a group and
 * SET_IOMMU again (check_spapr t61_last_group_detach_releases_the_driver).
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

#include "spapr/spapr_priv.h"
#include "util/fail.h"

int spapr__container_create(struct spapr_container **out)
{
	struct spapr_container *c;

	if (util_should_fail("spapr_container_alloc"))
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->obj.kind = SPAPR_KIND_CONTAINER;
	c->obj.refs = 1;
	util_rwlock_init(&c->group_lock);
	*out = c;
	return 0;
}

/*
 * Last reference gone: no group is attached (each holds a reference), so
 * only the driver is left.  A request of the fast path (spapr__container_hold)
 * may still run: it holds group_lock for reading instead of a reference, so
 * the write side waits for it before anything goes.
 */
void spapr__container_release(struct spapr_container *c)
{
	util_rwlock_wrlock(&c->group_lock);
	util_rwlock_unlock(&c->group_lock);
	if (c->tc)
		spapr__tce_container_release(c->tc);
	util_rwlock_destroy(&c->group_lock);
	free(c);
}

static void groups_remove(struct spapr_container *c, struct spapr_group *g)
{
	for (unsigned i = 0; i < c->ngroups; i++) {
		if (c->groups[i] == g) {
			/* Order kept: VFIO_EEH_PE_OP walks the groups newest first, as the kernel's list. */
			c->ngroups--;
			memmove(&c->groups[i], &c->groups[i + 1], (c->ngroups - i) * sizeof(c->groups[0]));
			c->groups[c->ngroups] = NULL;
			return;
		}
	}
}

/* Under spapr_vfio_lock. */
int spapr__container_attach(struct spapr_container *c, struct spapr_group *g)
{
	int rc = 0;

	util_mutex_assert_held(&spapr_vfio_lock);
	util_rwlock_wrlock(&c->group_lock);
	if (c->ngroups == SPAPR_MAX_GROUPS) {
		rc = -ENOSPC;
		goto out_unlock;
	}
	if (c->tc) {
		rc = spapr__tce_container_attach_group(c->tc, g);
		if (rc)
			goto out_unlock;
	}
	c->groups[c->ngroups++] = g;
out_unlock:
	util_rwlock_unlock(&c->group_lock);
	return rc;
}

/* Under spapr_vfio_lock; @g is attached to @c. */
void spapr__container_detach(struct spapr_container *c, struct spapr_group *g)
{
	struct spapr_tce_container *tc = NULL;

	util_mutex_assert_held(&spapr_vfio_lock);
	util_rwlock_wrlock(&c->group_lock);
	if (c->tc)
		spapr__tce_container_detach_group(c->tc, g);
	groups_remove(c, g);
	if (!c->ngroups && c->tc) {
		tc = c->tc;
		c->tc = NULL;
		c->iommu_type = 0;
	}
	util_rwlock_unlock(&c->group_lock);
	if (tc)
		spapr__tce_container_release(tc);
}

/* Whether a driver claims IOMMU type @type (the drivers' CHECK_EXTENSION). */
/* What CHECK_EXTENSION answers for @type: the sPAPR TCE backends, and VFIO_EEH on an EEH machine (eeh.c). */
static int ioctl_check_extension_type(unsigned long type)
{
	if (type == VFIO_EEH)
		return spapr__eeh_extension();
	return type == VFIO_SPAPR_TCE_IOMMU || type == VFIO_SPAPR_TCE_v2_IOMMU;
}

/* VFIO_SET_IOMMU: the driver instance, for the groups already attached. */
static int ioctl_set_iommu(struct spapr_ioctl_req *rq)
{
	struct spapr_container *c = rq->obj;
	unsigned long type = (unsigned)(uintptr_t)rq->arg;
	struct spapr_tce_container *tc;
	unsigned i;
	int rc;

	util_rwlock_wrlock(&c->group_lock);
	if (!c->ngroups || c->tc) {
		rc = -EINVAL;
		goto out_unlock;
	}
	/*
	 * vfio_ioctl_set_iommu: ENODEV unless a driver's CHECK_EXTENSION claims
	 * the type; a claimed type the sPAPR open refuses (tce_iommu_open:
	 * VFIO_EEH on an EEH machine) is EINVAL.
	 */
	if (ioctl_check_extension_type(type) <= 0) {
		rc = -ENODEV;
		goto out_unlock;
	}
	if (type != VFIO_SPAPR_TCE_IOMMU && type != VFIO_SPAPR_TCE_v2_IOMMU) {
		rc = -EINVAL;
		goto out_unlock;
	}
	rc = spapr__tce_container_open(c, type == VFIO_SPAPR_TCE_v2_IOMMU, &tc);
	if (rc)
		goto out_unlock;
	for (i = 0; i < c->ngroups; i++) {
		rc = spapr__tce_container_attach_group(tc, c->groups[i]);
		if (rc)
			goto err_detach;
	}
	c->tc = tc;
	c->iommu_type = (int)type;
	util_rwlock_unlock(&c->group_lock);
	return 0;

err_detach:
	while (i--)
		spapr__tce_container_detach_group(tc, c->groups[i]);
	spapr__tce_container_release(tc);
out_unlock:
	util_rwlock_unlock(&c->group_lock);
	return rc;
}

static int ioctl_get_api_version(struct spapr_ioctl_req *rq)
{
	(void)rq;
	return VFIO_API_VERSION;
}

/* Only the sPAPR TCE backends exist here (no Type1); EEH when the machine has it (eeh.c). */
static int ioctl_check_extension(struct spapr_ioctl_req *rq)
{
	return ioctl_check_extension_type((unsigned)(uintptr_t)rq->arg);
}

/* The VFIO core's container requests: answered without group_lock, whatever the driver. */
static const struct spapr_ioctl_op container_ops[] = {
	{ VFIO_GET_API_VERSION, 0, 0, 0, SPAPR_ON_CONTAINER, NULL, ioctl_get_api_version },
	{ VFIO_CHECK_EXTENSION, 0, 0, 0, SPAPR_ON_CONTAINER, NULL, ioctl_check_extension },
	{ VFIO_SET_IOMMU, 0, 0, 0, SPAPR_ON_CONTAINER, NULL, ioctl_set_iommu },
};

/* The driver's part of a request: under group_lock (read), which it releases. */
static int driver_ioctl_unlock(struct spapr_container *c, unsigned long request, void *arg)
{
	int rc = c->tc ? spapr__tce_container_ioctl(c->tc, request, arg) : -EINVAL;

	util_rwlock_unlock(&c->group_lock);
	return rc;
}

/*
 * A container's request: the core's rows, else the driver's table under
 * group_lock (read).  Without a driver the VFIO core answers every other
 * request with EINVAL.
 */
int spapr__container_ioctl(struct spapr_obj *obj, unsigned long request, void *arg)
{
	struct spapr_container *c = (struct spapr_container *)obj;
	const struct spapr_ioctl_op *op = spapr__ioctl_find(SPAPR_IOCTL_TABLE(container_ops), request);

	if (op)
		return spapr__ioctl_run(op, c, arg);
	util_rwlock_rdlock(&c->group_lock);
	return driver_ioctl_unlock(c, request, arg);
}

/*
 * The fast path's hold (fd.c, the handle found in a read section): a
 * driver request takes group_lock for reading if that needs no wait, and
 * that hold keeps the container instead of a reference (its release takes
 * the write side first).  The core's rows run without group_lock (SET_IOMMU
 * takes its write side): never held.  A read hold costs no atomic
 * read-modify-write (util/lock.h), a reference two.
 */
bool spapr__container_hold(struct spapr_obj *obj, unsigned long request)
{
	struct spapr_container *c = (struct spapr_container *)obj;

	if (spapr__ioctl_find(SPAPR_IOCTL_TABLE(container_ops), request))
		return false;
	return util_rwlock_tryrdlock(&c->group_lock);
}

/* A request under the hold of spapr__container_hold, which it releases. */
int spapr__container_held_ioctl(struct spapr_obj *obj, unsigned long request, void *arg)
{
	return driver_ioctl_unlock((struct spapr_container *)obj, request, arg);
}
