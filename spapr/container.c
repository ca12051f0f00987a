/* SPDX-License-Identifier: MIT */
/*
 * Containers (/dev/vfio/vfio): the VFIO core's part.  GET_API_VERSION,
 * CHECK_EXTENSION and SET_IOMMU are answered here; every other request goes
 * to the driver instance (spapr/tce.c) under the read side of group_lock,
 * as vfio_fops_unl_ioctl does.  Attaching and detaching groups, and
 * creating and releasing the driver instance, take it for writing.
 *
 * Detaching the last group releases the driver instance (spec test 61): the
 * container then needs a group and SET_IOMMU again.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>

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
	pthread_rwlock_init(&c->group_lock, NULL);
	*out = c;
	return 0;
}

/* Last reference gone: no group is attached (each holds a reference), so only the driver is left. */
void spapr__container_release(struct spapr_container *c)
{
	if (c->tce)
		spapr__tce_release(c->tce);
	pthread_rwlock_destroy(&c->group_lock);
	free(c);
}

static void groups_remove(struct spapr_container *c, struct spapr_group *g)
{
	for (unsigned i = 0; i < c->ngroups; i++) {
		if (c->groups[i] == g) {
			c->groups[i] = c->groups[--c->ngroups];
			c->groups[c->ngroups] = NULL;
			return;
		}
	}
}

/* Under spapr_vfio_lock. */
int spapr__container_attach(struct spapr_container *c, struct spapr_group *g)
{
	int rc = 0;

	pthread_rwlock_wrlock(&c->group_lock);
	if (c->ngroups == SPAPR_MAX_GROUPS) {
		rc = -ENOSPC;
		goto out_unlock;
	}
	if (c->tce) {
		rc = spapr__tce_attach_group(c->tce, g);
		if (rc)
			goto out_unlock;
	}
	c->groups[c->ngroups++] = g;
out_unlock:
	pthread_rwlock_unlock(&c->group_lock);
	return rc;
}

/* Under spapr_vfio_lock; @g is attached to @c. */
void spapr__container_detach(struct spapr_container *c, struct spapr_group *g)
{
	struct spapr_tce *tce = NULL;

	pthread_rwlock_wrlock(&c->group_lock);
	if (c->tce)
		spapr__tce_detach_group(c->tce, g);
	groups_remove(c, g);
	if (!c->ngroups && c->tce) {
		tce = c->tce;
		c->tce = NULL;
		c->iommu_type = 0;
	}
	pthread_rwlock_unlock(&c->group_lock);
	if (tce)
		spapr__tce_release(tce);
}

static int check_extension(unsigned long ext)
{
	/* Only the sPAPR TCE backends exist here; Type1 and EEH are not offered. */
	return ext == VFIO_SPAPR_TCE_IOMMU || ext == VFIO_SPAPR_TCE_v2_IOMMU;
}

static int set_iommu(struct spapr_container *c, unsigned long type)
{
	struct spapr_tce *tce;
	unsigned i;
	int rc;

	pthread_rwlock_wrlock(&c->group_lock);
	if (!c->ngroups || c->tce) {
		rc = -EINVAL;
		goto out_unlock;
	}
	if (type != VFIO_SPAPR_TCE_IOMMU && type != VFIO_SPAPR_TCE_v2_IOMMU) {
		rc = -EINVAL;
		goto out_unlock;
	}
	rc = spapr__tce_open(c, type == VFIO_SPAPR_TCE_v2_IOMMU, &tce);
	if (rc)
		goto out_unlock;
	for (i = 0; i < c->ngroups; i++) {
		rc = spapr__tce_attach_group(tce, c->groups[i]);
		if (rc)
			goto err_detach;
	}
	c->tce = tce;
	c->iommu_type = (int)type;
	pthread_rwlock_unlock(&c->group_lock);
	return 0;

err_detach:
	while (i--)
		spapr__tce_detach_group(tce, c->groups[i]);
	spapr__tce_release(tce);
out_unlock:
	pthread_rwlock_unlock(&c->group_lock);
	return rc;
}

int spapr__container_ioctl(struct spapr_container *c, unsigned long req, void *arg)
{
	int rc;

	switch (req) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return check_extension((unsigned)(uintptr_t)arg);
	case VFIO_SET_IOMMU:
		return set_iommu(c, (unsigned)(uintptr_t)arg);
	}
	/* Without a driver the VFIO core answers every other request with EINVAL. */
	pthread_rwlock_rdlock(&c->group_lock);
	rc = c->tce ? spapr__tce_ioctl(c->tce, req, arg) : -EINVAL;
	pthread_rwlock_unlock(&c->group_lock);
	return rc;
}
