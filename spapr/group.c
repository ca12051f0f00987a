/* SPDX-License-Identifier: MIT */
/*
 * IOMMU groups (/dev/vfio/<n>): GET_STATUS, SET_CONTAINER, UNSET_CONTAINER,
 * as the VFIO core implements them.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>

#include "spapr/spapr_priv.h"
#include "util/fail.h"

int spapr__group_create(int id, struct spapr_group **out)
{
	struct spapr_group *g;
	struct spapr_group_info info;

	if (id < 0 || spapr_platform->group_info(id, &info))
		return -ENOENT;
	if (util_should_fail("spapr_group_alloc"))
		return -ENOMEM;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->obj.kind = SPAPR_KIND_GROUP;
	g->obj.refs = 1;
	g->id = id;
	g->info = info;
	*out = g;
	return 0;
}

/* The last close of the group fd: detach it from its container, as VFIO does. */
void spapr__group_release(struct spapr_group *g)
{
	pthread_mutex_lock(&spapr_vfio_lock);
	if (g->container) {
		struct spapr_container *c = g->container;

		spapr__container_detach(c, g);
		g->container = NULL;
		pthread_mutex_unlock(&spapr_vfio_lock);
		spapr__obj_put(&c->obj);
	} else {
		pthread_mutex_unlock(&spapr_vfio_lock);
	}
	free(g);
}

static int group_get_status(struct spapr_group *g, void *arg)
{
	struct vfio_group_status st;
	int rc = spapr__copy_in(&st, arg, sizeof(st));

	if (rc)
		return rc;
	if (st.argsz < sizeof(st))
		return -EINVAL;
	pthread_mutex_lock(&spapr_vfio_lock);
	st.flags = VFIO_GROUP_FLAGS_VIABLE | (g->container ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
	pthread_mutex_unlock(&spapr_vfio_lock);
	return spapr__copy_out(arg, &st, sizeof(st));
}

static int group_set_container(struct spapr_group *g, void *arg)
{
	struct spapr_obj *obj;
	int fd, rc;

	rc = spapr__copy_in(&fd, arg, sizeof(fd));
	if (rc)
		return rc;
	if (fd < 0)
		return -EINVAL;
	obj = spapr__fd_get(fd);
	if (!obj)
		return -EBADF;
	if (obj->kind != SPAPR_KIND_CONTAINER) {
		spapr__obj_put(obj);
		return -EINVAL;
	}
	pthread_mutex_lock(&spapr_vfio_lock);
	if (g->container) {
		rc = -EINVAL;
	} else {
		rc = spapr__container_attach((struct spapr_container *)obj, g);
		if (!rc)
			g->container = (struct spapr_container *)obj;	/* keeps our reference */
	}
	pthread_mutex_unlock(&spapr_vfio_lock);
	if (rc)
		spapr__obj_put(obj);
	return rc;
}

static int group_unset_container(struct spapr_group *g)
{
	struct spapr_container *c;

	pthread_mutex_lock(&spapr_vfio_lock);
	c = g->container;
	if (!c) {
		pthread_mutex_unlock(&spapr_vfio_lock);
		return -EINVAL;
	}
	if (spapr__device_group_busy(g)) {
		pthread_mutex_unlock(&spapr_vfio_lock);
		return -EBUSY;	/* an open device fd uses the container */
	}
	spapr__container_detach(c, g);
	g->container = NULL;
	pthread_mutex_unlock(&spapr_vfio_lock);
	spapr__obj_put(&c->obj);
	return 0;
}

int spapr__group_ioctl(struct spapr_group *g, unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_GROUP_GET_STATUS:
		return group_get_status(g, arg);
	case VFIO_GROUP_SET_CONTAINER:
		return group_set_container(g, arg);
	case VFIO_GROUP_UNSET_CONTAINER:
		return group_unset_container(g);
	case VFIO_GROUP_GET_DEVICE_FD:
		return spapr__device_get_fd(g, arg);
	default:
		return -ENOTTY;
	}
}
