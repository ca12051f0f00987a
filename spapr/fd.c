/* SPDX-License-Identifier: MIT */
/*
 * File descriptors: spapr_open_container, spapr_open_group, spapr_ioctl,
 * spapr_close.
 *
 * Each handle is a real descriptor (an eventfd) so that it can never
 * collide with the process's other descriptors; a table maps it to its
 * object.  A request takes a reference on the object for its duration, as
 * the kernel holds a file reference across an ioctl; the last reference
 * (the close, or a request that outlived it) releases the object.
 *
 * This file also holds spapr__ret, the one conversion of a negative errno
 * to -1 and errno, which every public call that can fail makes once, at
 * its return: spapr_ioctl for every request of every fd (the request
 * tables return negative errnos, spapr/ioctl.h), the open and close calls
 * here, the accounting calls (memlock.c) and the guest API (guest_api.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "spapr/spapr_priv.h"
#include "util/fail.h"

static struct util_mutex spapr_fd_lock = UTIL_MUTEX_INIT;
static struct util_u64map spapr_fds = UTIL_U64MAP_INIT;		/* fd -> struct spapr_obj * */
static struct util_u64map spapr_open_groups = UTIL_U64MAP_INIT;	/* group id + 1 -> struct spapr_group * */
struct util_mutex spapr_vfio_lock = UTIL_MUTEX_INIT;

/* The public boundary: 0 or more passes through; -errno becomes -1 with errno set. */
int spapr__ret(int rc)
{
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return rc;
}

static void obj_get(struct spapr_obj *obj)
{
	__atomic_add_fetch(&obj->refs, 1, __ATOMIC_RELAXED);
}

static void container_release(struct spapr_obj *obj)
{
	spapr__container_release((struct spapr_container *)obj);
}

static int device_ioctl(struct spapr_obj *obj, unsigned long request, void *arg)
{
	return spapr__device_ioctl((struct spapr_device *)obj, request, arg);
}

static void device_release(struct spapr_obj *obj)
{
	spapr__device_release((struct spapr_device *)obj);
}

/* A group leaves the set of open groups before it is released (its id may be opened again). */
static void group_release(struct spapr_obj *obj)
{
	struct spapr_group *g = (struct spapr_group *)obj;

	util_mutex_lock(&spapr_fd_lock);
	util_u64map_remove(&spapr_open_groups, (uint64_t)g->id + 1);
	util_mutex_unlock(&spapr_fd_lock);
	spapr__group_release(g);
}

/*
 * What each kind of fd does: its requests (a dispatcher that runs its
 * request table, spapr/ioctl.h) and the release of its last reference.  A
 * new kind of fd is a new enum spapr_kind and a row here.
 */
static const struct {
	spapr_obj_ioctl_fn *ioctl;
	void (*release)(struct spapr_obj *obj);
} kinds[] = {
	[SPAPR_KIND_CONTAINER] = { spapr__container_ioctl, container_release },
	[SPAPR_KIND_GROUP] = { spapr__group_ioctl, group_release },
	[SPAPR_KIND_DEVICE] = { device_ioctl, device_release },
};

void spapr__obj_put(struct spapr_obj *obj)
{
	if (__atomic_sub_fetch(&obj->refs, 1, __ATOMIC_ACQ_REL))
		return;
	kinds[obj->kind].release(obj);
}

/* Gives @obj a descriptor.  Returns the fd or a negative errno (the object is untouched). */
static int fd_install(struct spapr_obj *obj)
{
	int fd, rc;

	if (util_should_fail("spapr_fd_install"))
		return -ENOMEM;
	fd = eventfd(0, 0);
	if (fd < 0)
		return -errno;
	util_mutex_lock(&spapr_fd_lock);
	rc = util_u64map_insert(&spapr_fds, (uint64_t)fd, (uintptr_t)obj);
	util_mutex_unlock(&spapr_fd_lock);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

int spapr__fd_install(struct spapr_obj *obj)
{
	return fd_install(obj);
}

struct spapr_obj *spapr__fd_get(int fd)
{
	struct spapr_obj *obj = NULL;

	if (fd < 0)
		return NULL;
	util_mutex_lock(&spapr_fd_lock);
	obj = (struct spapr_obj *)(uintptr_t)util_u64map_get(&spapr_fds, (uint64_t)fd);
	if (obj)
		obj_get(obj);
	util_mutex_unlock(&spapr_fd_lock);
	return obj;
}

static int open_container(void)
{
	struct spapr_container *c;
	int rc = spapr__container_create(&c);

	if (rc)
		return spapr__ret(rc);
	rc = fd_install(&c->obj);
	if (rc < 0)
		spapr__obj_put(&c->obj);
	return spapr__ret(rc);
}

int spapr_open_container(void)
{
	const struct spapr_observer *o;
	int rc;

	spapr__record_start();
	rc = open_container();
	o = spapr__observing();
	if (o) {
		struct spapr_call_event ev = { .call = SPAPR_CALL_OPEN_CONTAINER, .fd = rc, .result = rc };

		spapr__observe(o, &ev);
	}
	return rc;
}

static int open_group(int iommu_group)
{
	struct spapr_group *g;
	int rc;

	util_mutex_lock(&spapr_fd_lock);
	if (iommu_group >= 0 && util_u64map_get(&spapr_open_groups, (uint64_t)iommu_group + 1)) {
		util_mutex_unlock(&spapr_fd_lock);
		return spapr__ret(-EBUSY);
	}
	rc = spapr__group_create(iommu_group, &g);
	if (!rc) {
		rc = util_u64map_insert(&spapr_open_groups, (uint64_t)iommu_group + 1, (uintptr_t)g);
		if (rc)
			spapr__group_release(g);
	}
	util_mutex_unlock(&spapr_fd_lock);
	if (rc)
		return spapr__ret(rc);
	rc = fd_install(&g->obj);
	if (rc < 0)
		spapr__obj_put(&g->obj);
	return spapr__ret(rc);
}

int spapr_open_group(int iommu_group)
{
	const struct spapr_observer *o;
	int rc;

	spapr__record_start();
	rc = open_group(iommu_group);
	o = spapr__observing();
	if (o) {
		struct spapr_call_event ev = {
			.call = SPAPR_CALL_OPEN_GROUP, .fd = rc, .group = iommu_group, .result = rc,
		};

		spapr__observe(o, &ev);
	}
	return rc;
}

static int ioctl_fd(int fd, unsigned long request, void *arg)
{
	struct spapr_obj *obj = spapr__fd_get(fd);
	int rc;

	if (!obj)
		return spapr__ret(-EBADF);
	rc = kinds[obj->kind].ioctl(obj, request, arg);
	spapr__obj_put(obj);
	return spapr__ret(rc);
}

int spapr_ioctl(int fd, unsigned long request, ...)
{
	const struct spapr_observer *o = spapr__observing();
	struct spapr_call_event ev;
	unsigned char before[64];
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!o)
		return ioctl_fd(fd, request, arg);
	ev = (struct spapr_call_event){ .call = SPAPR_CALL_IOCTL, .fd = fd, .request = request, .arg = arg,
					.before = before };
	ev.before_len = spapr__observe_copy(before, arg, sizeof(before), request);
	ev.result = ioctl_fd(fd, request, arg);
	spapr__observe(o, &ev);
	return (int)ev.result;
}

static int close_fd(int fd)
{
	struct spapr_obj *obj = NULL;

	if (fd >= 0) {
		util_mutex_lock(&spapr_fd_lock);
		obj = (struct spapr_obj *)(uintptr_t)util_u64map_get(&spapr_fds, (uint64_t)fd);
		if (obj)
			util_u64map_remove(&spapr_fds, (uint64_t)fd);
		util_mutex_unlock(&spapr_fd_lock);
	}
	if (!obj)
		return spapr__ret(-EBADF);
	close(fd);
	spapr__obj_put(obj);
	return 0;
}

int spapr_close(int fd)
{
	const struct spapr_observer *o;
	int rc = close_fd(fd);

	o = spapr__observing();
	if (o) {
		struct spapr_call_event ev = { .call = SPAPR_CALL_CLOSE, .fd = fd, .result = rc };

		spapr__observe(o, &ev);
	}
	return rc;
}
