/* SPDX-License-Identifier: MIT */
/*
 * IOMMU groups (/dev/vfio/<n>): GET_STATUS, SET_CONTAINER, UNSET_CONTAINER,
 * as the VFIO core implements them, as rows of the group's request table.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

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
	util_mutex_lock(&spapr_vfio_lock);
	if (g->container) {
		struct spapr_container *c = g->container;

		spapr__container_detach(c, g);
		g->container = NULL;
		util_mutex_unlock(&spapr_vfio_lock);
		spapr__obj_put(&c->obj);
	} else {
		util_mutex_unlock(&spapr_vfio_lock);
	}
	free(g);
}

/* VFIO_GROUP_GET_STATUS: always viable; whether a container is set. */
static int ioctl_group_get_status(struct spapr_ioctl_req *rq)
{
	struct spapr_group *g = rq->obj;
	struct vfio_group_status *st = rq->buf;

	util_mutex_lock(&spapr_vfio_lock);
	st->flags = VFIO_GROUP_FLAGS_VIABLE | (g->container ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
	util_mutex_unlock(&spapr_vfio_lock);
	return spapr__copy_out(rq->arg, st, sizeof(*st));
}

/* VFIO_GROUP_SET_CONTAINER: the argument points to the container's fd. */
static int ioctl_group_set_container(struct spapr_ioctl_req *rq)
{
	struct spapr_group *g = rq->obj;
	struct spapr_obj *obj;
	int fd, rc;

	/*
	 * vfio_group_ioctl_set_container: a closed fd is EBADF before anything
	 * else; then a group already in a container is EINVAL; then an open fd
	 * that is no container (another kind of ours, a pipe, a file) EBADFD.
	 */
	memcpy(&fd, rq->buf, sizeof(fd));
	/*
	 * A handle of ours: a lost one is EBADF, one inherited from the parent
	 * EPERM (spapr__fd_get_rc); any other descriptor is EBADF when closed
	 * and EBADFD below when open.
	 */
	obj = NULL;
	if (fd < 0)
		return -EBADF;
	rc = spapr__fd_get_rc(fd, &obj);
	if (rc == -EPERM)
		return rc;
	if (rc && fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	util_mutex_lock(&spapr_vfio_lock);
	if (g->container) {
		rc = -EINVAL;
	} else if (!obj || obj->kind != SPAPR_KIND_CONTAINER) {
		rc = -EBADFD;
	} else {
		rc = spapr__container_attach((struct spapr_container *)obj, g);
		if (!rc)
			g->container = (struct spapr_container *)obj;	/* keeps our reference */
	}
	util_mutex_unlock(&spapr_vfio_lock);
	if (rc && obj)
		spapr__obj_put(obj);
	return rc;
}

/* VFIO_GROUP_UNSET_CONTAINER: EINVAL when none is set. */
static int ioctl_group_unset_container(struct spapr_ioctl_req *rq)
{
	struct spapr_group *g = rq->obj;
	struct spapr_container *c;

	util_mutex_lock(&spapr_vfio_lock);
	c = g->container;
	if (!c) {
		util_mutex_unlock(&spapr_vfio_lock);
		return -EINVAL;
	}
	if (spapr__device_group_busy(g)) {
		util_mutex_unlock(&spapr_vfio_lock);
		return -EBUSY;	/* an open device fd uses the container */
	}
	spapr__container_detach(c, g);
	g->container = NULL;
	util_mutex_unlock(&spapr_vfio_lock);
	spapr__obj_put(&c->obj);
	return 0;
}

/* VFIO_GROUP_GET_DEVICE_FD: the argument is the device's name (spapr/device.c). */
static int ioctl_group_get_device_fd(struct spapr_ioctl_req *rq)
{
	return spapr__device_get_fd(rq->obj, rq->arg);
}

/* The group's requests, one row each (VFIO_GROUP_GET_DEVICE_FD joins them with device fds). */
static const struct spapr_ioctl_op group_ops[] = {
	{ VFIO_GROUP_GET_STATUS, SPAPR_IOCTL_MINSZ(struct vfio_group_status, flags), 0,
	  SPAPR_IOCTL_ARGSZ, SPAPR_ON_GROUP, NULL, ioctl_group_get_status },
	{ VFIO_GROUP_SET_CONTAINER, sizeof(int), 0, 0, SPAPR_ON_GROUP, NULL,
	  ioctl_group_set_container },
	{ VFIO_GROUP_UNSET_CONTAINER, 0, 0, 0, SPAPR_ON_GROUP, NULL, ioctl_group_unset_container },
	{ VFIO_GROUP_GET_DEVICE_FD, 0, 0, 0, SPAPR_ON_GROUP, NULL, ioctl_group_get_device_fd },
};

int spapr__group_ioctl(struct spapr_obj *obj, unsigned long request, void *arg)
{
	return spapr__ioctl_dispatch(SPAPR_IOCTL_TABLE(group_ops), SPAPR_ON_GROUP, request, obj, arg);
}
