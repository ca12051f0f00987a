/* SPDX-License-Identifier: MIT */
/*
 * File descriptors: spapr_open_container, spapr_open_group, spapr_ioctl,
 * spapr_close, and what a handle is across close(2), dup2 and fork.
 *
 * Each handle is a real descriptor, so that it can never collide with the
 * process's other descriptors; a table maps its number to a struct
 * spapr_handle: the object (one reference), a token, and the fork
 * generation it was made in.  A request takes a reference on the object for
 * its duration, as the kernel holds a file reference across an ioctl (a
 * container's driver request holds its group_lock instead, which keeps it
 * as well: see "The container is held" below); the last reference (the
 * close, or a request that outlived it) releases the object.
 *
 * Integrity.  A number is only a number: the program may close(2) it, or
 * dup2 another file over it, and open() then reuses it.  So the descriptor
 * is an empty memfd whose file position is set, once, to a token no other
 * handle has (a counter, the pid and a high bit: no file a program uses
 * sits at 2^62); lseek(fd, 0, SEEK_CUR) reads it back.  That is one system
 * call per request, the cheapest that names the open file and not the
 * number: fstat would need one inode per handle and costs about 1.6 times
 * as much (docs/processes.md has the figures).  The position belongs to
 * the open file, so it survives dup and fork, and a descriptor that was
 * closed (EBADF) or now names another file (another position, or ESPIPE)
 * is not the handle:
 *   - spapr_ioctl answers EBADF, and spapr_close too, without closing it:
 *     the descriptor is the program's now;
 *   - the handle is lost: it leaves the table and its reference is put, so
 *     the object is released as at a close (a group is no longer busy, its
 *     locked_vm, pins and table blocks are given back).  Lost handles are
 *     found at a request on their number, when our own new descriptor gets
 *     their number, and by a sweep of the whole table at every
 *     spapr_open_container and spapr_open_group (one lseek per handle).
 * The lseek is the system call itself (syscall(2)), not libc's entry
 * point: under the drop-in layer, which interposes lseek and answers
 * ESPIPE for a container or a group, a program's direct spapr_ioctl would
 * otherwise find every handle lost.
 *
 * Vouched requests.  A caller that routes every close, dup2 and dup3 of the
 * process and keeps the library's descriptor open while any copy of it is
 * (the drop-in layer's one ioctl call site, dropin/backend.c) already knows
 * that the number names the handle: it marks the request with
 * SPAPR__IOCTL_VOUCHED (spapr/vouched.h, private: the high half of an
 * unsigned long request, which no ioctl number uses) and the lseek is
 * skipped.  Everything else about the handle is checked as usual (in the
 * table, of this fork generation).
 *
 * Why the identity costs a system call, and what a direct caller can do.
 * What the check must see is the process's descriptor table, and that is
 * kernel memory: close(2), dup2 and dup3 over the number, close_range and
 * an io_uring close change it and leave nothing in user memory (the vDSO
 * data page carries clocks, rseq's area the CPU; no page reflects the
 * table).  So the library learns of them only by asking (a system call)
 * or by being told:
 *   - interposing the calls, as the drop-in layer does, sees only those
 *     made through the dynamic symbol: not raw syscall(2), a static
 *     program's, libc's own (closefrom and close_range inside libc, the
 *     dynamic loader) or io_uring's; and a direct caller of the library is
 *     not preloaded at all;
 *   - inotify and fanotify (IN_CLOSE_*), leases and F_SETSIG report the
 *     last close of the open file, not of a number while a dup or a forked
 *     child keeps the file open (dup2 over the handle with a dup alive is
 *     silent), and report it through another descriptor (reading it is a
 *     system call) or a signal (which a library may not own);
 *   - a mapping of the memfd holds its own reference: it does not change
 *     when the number is closed;
 *   - io_uring's polling thread could run the lseek without this thread
 *     entering the kernel, but its answer comes back after that thread is
 *     scheduled (microseconds, a core spinning), and a ring is itself a
 *     descriptor the program may close.
 * Fork needs no system call (util_fork_generation, set by an atfork
 * handler), but every other case of tests/check_handles.c does.  The lseek
 * is about one plain system call, which alone is the whole budget of a
 * one-page request (issue 17): a checked request cannot meet it.  A
 * program that makes the drop-in layer's promise for itself (it closes the
 * library's descriptors only with spapr_close, never replaces them with
 * dup2 or dup3, never closes them in a close_range) may say so with
 * SPAPRTCE_HANDLES=trusted in its environment, read once at load: every
 * request of spapr_ioctl is then vouched for.  Only that lseek is waived:
 * spapr_close, the sweep at each open, descriptors passed as arguments
 * (SET_CONTAINER, the guest API) and the fork generation are checked as
 * before, and a request on a number closed behind the library's back
 * reaches the lost handle's object until the next open sweeps it
 * (check_handles trusted_requests, trusted_from_env).
 *
 * The container is held without a reference.  A driver request (MAP_DMA,
 * UNMAP_DMA, every request but the VFIO core's three) runs under the read
 * side of the container's group_lock anyway; taken in the read section
 * where the handle was found, without waiting (kinds[].hold), that read
 * hold keeps the container as a reference would, since its release takes
 * the write side first (spapr__container_release), and costs no atomic
 * read-modify-write where a reference costs two.  A hold that would wait
 * (a writer) falls back to the reference.
 *
 * The lookup takes no lock.  Besides the table (a hash map, under
 * spapr_fd_lock, which the sweep walks), an index by number (pages of
 * FD_PAGE slots for the numbers below FD_INDEX_MAX, allocated on first use
 * and kept) holds the same handles, written under spapr_fd_lock and read in
 * an RCU read section (util/rcu.h): a request finds its handle, checks it and
 * takes its reference on the object there.  A handle leaves both before it
 * is dropped, and handle_drop waits for a grace period before it frees the
 * handle and puts the handle's reference, so a reader that found it still
 * holds the object when the handle's reference goes.  Whatever the index
 * does not answer (a number beyond it, a page that could not be allocated,
 * a mismatch, the parent's handle) takes the locked path, which decides.
 *
 * Fork.  The child has copies of the parent's objects, whose per-object
 * locks another thread of the parent may have held at fork() and that no
 * thread of the child will ever release.  So the child never takes them: a
 * handle of another generation (util_fork_generation) is the parent's, and
 *   - every request on it, and every use of it as an argument
 *     (SET_CONTAINER, spapr_guest_attach_group), is EPERM, as the kernel
 *     answers a child's requests on a container bound to its parent's mm;
 *     except, on a container, GET_API_VERSION and CHECK_EXTENSION, which
 *     read nothing a lock protects and are answered as in the parent, a
 *     driver request on a container without a driver (no SET_IOMMU):
 *     EINVAL, the VFIO core's answer, and GET_INFO on a container not
 *     bound to any mm, which the kernel serves to anyone: served, with
 *     group_lock taken by trylock (held at fork(), it will never be free:
 *     EPERM) (foreign_ioctl);
 *   - spapr_close closes the child's descriptor and forgets the handle,
 *     without releasing the object (the parent's, in the parent's memory);
 *   - its group stays busy in the child (EBUSY at spapr_open_group), as in
 *     the kernel while the parent holds it open.
 * The kernel shares one open file between parent and child; here each
 * process has its own copy of the library, so nothing one does through an
 * inherited handle could reach the other anyway.  The global locks
 * (spapr_fd_lock, spapr_vfio_lock) are held across fork() in their rank
 * (util/lock.h).
 *
 * This file also holds spapr__ret, the one conversion of a negative errno
 * to -1 and errno, which every public call that can fail makes once, at
 * its return: spapr_ioctl for every request of every fd (the request
 * tables return negative errnos, spapr/ioctl.h), the open and close calls
 * here, the accounting calls (memlock.c) and the guest API (guest_api.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spapr/spapr_priv.h"
#include "spapr/vouched.h"
#include "util/fail.h"
#include "util/rcu.h"

struct spapr_handle {
	struct spapr_obj *obj;		/* one reference */
	int64_t token;			/* the descriptor's file position */
	unsigned gen;			/* util_fork_generation() at creation */
};

static struct util_mutex spapr_fd_lock = UTIL_MUTEX_INIT;
static struct util_u64map spapr_fds = UTIL_U64MAP_INIT;		/* fd -> struct spapr_handle * */
static struct util_u64map spapr_open_groups = UTIL_U64MAP_INIT;	/* group id + 1 -> struct spapr_group * */
static uint64_t spapr_token_seq;	/* under spapr_fd_lock */
struct util_mutex spapr_vfio_lock = UTIL_MUTEX_INIT;

/* The lock-free index (see the top of the file): fd -> handle for fd < FD_INDEX_MAX. */
#define FD_PAGE 512u
#define FD_PAGES 2048u
#define FD_INDEX_MAX (FD_PAGE * FD_PAGES)
static struct spapr_handle **fd_index[FD_PAGES];	/* atomic; pages written under spapr_fd_lock */

UTIL_FORK_LOCK(spapr_fd_fork, .rank = UTIL_RANK_SPAPR_FD, .name = "spapr_fd_lock",
	       .umutex = &spapr_fd_lock)
UTIL_FORK_LOCK(spapr_vfio_fork, .rank = UTIL_RANK_SPAPR_VFIO, .name = "spapr_vfio_lock",
	       .umutex = &spapr_vfio_lock)

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

/*
 * A group leaves the set of open groups before it is released (its id may
 * be opened again).  Only if the set still names it: a lost handle's group
 * may be released after the id was opened again.
 */
static void group_release(struct spapr_obj *obj)
{
	struct spapr_group *g = (struct spapr_group *)obj;

	util_mutex_lock(&spapr_fd_lock);
	if (util_u64map_get(&spapr_open_groups, (uint64_t)g->id + 1) == (uintptr_t)g)
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
	const char *name;		/* of the memfd, in /proc/self/fd */
	/*
	 * Optional: a hold on the object that keeps it alive without a
	 * reference, taken without waiting (false: take a reference), and the
	 * request under it, which releases it.
	 */
	bool (*hold)(struct spapr_obj *obj, unsigned long request);
	spapr_obj_ioctl_fn *held_ioctl;
} kinds[] = {
	[SPAPR_KIND_CONTAINER] = { spapr__container_ioctl, container_release, "spapr-container",
				   spapr__container_hold, spapr__container_held_ioctl },
	[SPAPR_KIND_GROUP] = { spapr__group_ioctl, group_release, "spapr-group" },
	[SPAPR_KIND_DEVICE] = { device_ioctl, device_release, "spapr-device" },
};

void spapr__obj_put(struct spapr_obj *obj)
{
	if (__atomic_sub_fetch(&obj->refs, 1, __ATOMIC_ACQ_REL))
		return;
	kinds[obj->kind].release(obj);
}

/* @fd's file position, or -1: the system call, never an interposed lseek. */
static int64_t fd_pos(int fd)
{
	return syscall(SYS_lseek, fd, 0L, SEEK_CUR);
}

/* Whether @fd still names @h's open file: one lseek. */
static bool handle_is(const struct spapr_handle *h, int fd)
{
	return fd_pos(fd) == h->token;
}

/*
 * Sets the index's slot of @fd to @h (NULL: clears it).  Under
 * spapr_fd_lock.  Best effort for a new page: without one the number is
 * served by the locked path.
 */
static void index_set(int fd, struct spapr_handle *h)
{
	struct spapr_handle **page;

	util_mutex_assert_held(&spapr_fd_lock);
	if (fd < 0 || (unsigned)fd >= FD_INDEX_MAX)
		return;
	page = fd_index[fd / FD_PAGE];
	if (!page) {
		if (!h || util_should_fail("spapr_fd_index_page"))
			return;
		page = calloc(FD_PAGE, sizeof(*page));
		if (!page)
			return;
		__atomic_store_n(&fd_index[fd / FD_PAGE], page, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&page[fd % FD_PAGE], h, __ATOMIC_RELEASE);
}

/* The index's handle of @fd, or NULL.  In a read section. */
static struct spapr_handle *index_get(int fd)
{
	struct spapr_handle **page;

	if ((unsigned)fd >= FD_INDEX_MAX)
		return NULL;
	page = __atomic_load_n(&fd_index[fd / FD_PAGE], __ATOMIC_ACQUIRE);
	return page ? __atomic_load_n(&page[fd % FD_PAGE], __ATOMIC_ACQUIRE) : NULL;
}

static bool handle_foreign(const struct spapr_handle *h)
{
	return h->gen != util_fork_generation();
}

/*
 * Forgets @h (already out of the table and the index): once no lock-free
 * reader can still be looking at it, puts its reference, unless it is the
 * parent's (the child never releases inherited objects).
 */
static void handle_drop(struct spapr_handle *h)
{
	util_rcu_synchronize();
	if (!handle_foreign(h))
		spapr__obj_put(h->obj);
	free(h);
}

/* Takes the handle of @fd out of the table if it is @h.  Under spapr_fd_lock. */
static bool handle_unlink(int fd, struct spapr_handle *h)
{
	util_mutex_assert_held(&spapr_fd_lock);
	if (util_u64map_get(&spapr_fds, (uint64_t)fd) != (uintptr_t)h)
		return false;
	util_u64map_remove(&spapr_fds, (uint64_t)fd);
	index_set(fd, NULL);
	return true;
}

/*
 * Finds the handles whose descriptor was closed or replaced behind our
 * back and drops them.  Best effort: without memory for the list, it
 * finds none this time.
 */
static void handles_sweep(void)
{
	struct util_u64map_slot *lost;
	size_t n = 0;

	util_mutex_lock(&spapr_fd_lock);
	lost = spapr_fds.n ? malloc(spapr_fds.n * sizeof(*lost)) : NULL;
	if (lost) {
		for (uint64_t i = 0; i < spapr_fds.cap; i++) {
			struct util_u64map_slot *s = &spapr_fds.slots[i];

			if (s->val && !handle_is((struct spapr_handle *)(uintptr_t)s->val, (int)s->key))
				lost[n++] = *s;
		}
		/* Removal moves entries: after the walk. */
		for (size_t i = 0; i < n; i++) {
			util_u64map_remove(&spapr_fds, lost[i].key);
			index_set((int)lost[i].key, NULL);
		}
	}
	util_mutex_unlock(&spapr_fd_lock);
	for (size_t i = 0; i < n; i++)
		handle_drop((struct spapr_handle *)(uintptr_t)lost[i].val);
	free(lost);
}

/* Gives @obj a descriptor.  Returns the fd or a negative errno (the object is untouched). */
static int fd_install(struct spapr_obj *obj)
{
	struct spapr_handle *h, *stale;
	int fd, rc;

	if (util_should_fail("spapr_fd_install"))
		return -ENOMEM;
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	fd = memfd_create(kinds[obj->kind].name, 0);
	if (fd < 0) {
		rc = -errno;
		goto err_free;
	}
	h->obj = obj;
	h->gen = util_fork_generation();
	util_mutex_lock(&spapr_fd_lock);
	h->token = (int64_t)((1ull << 62) | ((uint64_t)getpid() << 32) | (++spapr_token_seq & 0xffffffffu));
	if (syscall(SYS_lseek, fd, h->token, SEEK_SET) != h->token) {
		rc = -EMFILE;
		goto err_unlock;
	}
	/* Our new descriptor has the number: whatever handle had it was closed behind our back. */
	stale = (struct spapr_handle *)(uintptr_t)util_u64map_get(&spapr_fds, (uint64_t)fd);
	if (stale)
		util_u64map_remove(&spapr_fds, (uint64_t)fd);
	rc = util_u64map_insert(&spapr_fds, (uint64_t)fd, (uintptr_t)h);
	index_set(fd, rc ? NULL : h);
	util_mutex_unlock(&spapr_fd_lock);
	if (stale)
		handle_drop(stale);
	if (rc) {
		close(fd);
		free(h);
		return rc;
	}
	return fd;

err_unlock:
	util_mutex_unlock(&spapr_fd_lock);
	close(fd);
err_free:
	free(h);
	return rc;
}

int spapr__fd_install(struct spapr_obj *obj)
{
	return fd_install(obj);
}

/* Requests that take no lock of their object: answered on the parent's handles too. */
static bool request_lockfree(const struct spapr_obj *obj, unsigned long request)
{
	return obj->kind == SPAPR_KIND_CONTAINER &&
	       (request == VFIO_GET_API_VERSION || request == VFIO_CHECK_EXTENSION);
}

/*
 * A request on the parent's handle, in a child: answered without a lock of
 * the object.  The child has one thread, so a plain read of its copy of a
 * field cannot race; the lock guarding it may be held forever.
 */
static int foreign_ioctl(struct spapr_obj *obj, unsigned long request, void *arg)
{
	struct spapr_container *c = (struct spapr_container *)obj;
	int rc = -EPERM;

	if (obj->kind != SPAPR_KIND_CONTAINER)
		return -EPERM;
	if (request_lockfree(obj, request))
		return kinds[obj->kind].ioctl(obj, request, arg);
	if (!c->tc)
		return request == VFIO_SET_IOMMU ? -EPERM : -EINVAL;
	if (request == VFIO_IOMMU_SPAPR_TCE_GET_INFO && !c->tc->mm &&
	    util_rwlock_tryrdlock(&c->group_lock)) {
		rc = spapr__tce_container_ioctl(c->tc, request, arg);
		util_rwlock_unlock(&c->group_lock);
	}
	return rc;
}

/*
 * The index's answer for @fd, in a read section: its handle when it is
 * ours and names @fd's open file (@vouched, or the token is @pos), else
 * NULL (the locked path decides).
 */
static inline __attribute__((always_inline)) struct spapr_handle *handle_fast(int fd, bool vouched, int64_t pos)
{
	struct spapr_handle *h = index_get(fd);

	return h && (vouched || pos == h->token) && !handle_foreign(h) ? h : NULL;
}

/* fd_get's locked path: everything the index did not answer. */
static int fd_get_locked(int fd, unsigned long request, bool vouched, int64_t pos, struct spapr_obj **out)
{
	struct spapr_handle *h;
	int rc;

	util_mutex_lock(&spapr_fd_lock);
	h = (struct spapr_handle *)(uintptr_t)util_u64map_get(&spapr_fds, (uint64_t)fd);
	if (!h) {
		rc = -EBADF;
	} else if (!vouched && pos != h->token && !handle_is(h, fd)) {
		handle_unlink(fd, h);
		util_mutex_unlock(&spapr_fd_lock);
		handle_drop(h);
		return -EBADF;
	} else if (handle_foreign(h) && !request) {
		rc = -EPERM;
	} else {
		rc = handle_foreign(h);
		obj_get(h->obj);
		*out = h->obj;
	}
	util_mutex_unlock(&spapr_fd_lock);
	return rc;
}

/* @fd's file position for the identity check, or 0 when it is skipped (@vouched). */
static int64_t fd_token_of(int fd, bool vouched)
{
	return vouched ? 0 : fd_pos(fd);
}

/*
 * The object behind @fd with a reference in *out: 0, 1 (the parent's
 * handle: only for @request != 0, see foreign_ioctl), -EBADF (not a handle,
 * or no longer: then it is dropped), -EPERM (the parent's handle, @request
 * 0).  @vouched: the caller knows @fd names the handle (no lseek).  The
 * lseek runs outside any lock; the index answers the common case (our
 * handle, the token matches); anything else is decided under the lock, a
 * mismatch checked again there, since our own new descriptor may have
 * taken the number in between.
 */
static int fd_get(int fd, unsigned long request, bool vouched, struct spapr_obj **out)
{
	struct spapr_handle *h;
	int64_t pos;

	if (fd < 0)
		return -EBADF;
	pos = fd_token_of(fd, vouched);
	util_rcu_read_lock();
	h = handle_fast(fd, vouched, pos);
	if (h) {
		obj_get(h->obj);	/* the handle's reference outlives the section */
		*out = h->obj;
	}
	util_rcu_read_unlock();
	return h ? 0 : fd_get_locked(fd, request, vouched, pos, out);
}

struct spapr_obj *spapr__fd_get(int fd)
{
	struct spapr_obj *obj;

	return fd_get(fd, 0, false, &obj) ? NULL : obj;
}

int spapr__fd_get_rc(int fd, struct spapr_obj **out)
{
	return fd_get(fd, 0, false, out);
}

static int open_container(void)
{
	struct spapr_container *c;
	int rc;

	handles_sweep();
	rc = spapr__container_create(&c);
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

	handles_sweep();
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

/*
 * A request: the handle from the index and, for a kind that has one, the
 * object's hold instead of a reference (kinds[].hold, taken in the read
 * section: no atomic read-modify-write); else a reference, as fd_get.
 */
static inline __attribute__((always_inline)) int ioctl_fd(int fd, unsigned long request, bool vouched,
							   void *arg)
{
	struct spapr_handle *h;
	struct spapr_obj *obj = NULL;
	int64_t pos;
	int rc = 0;

	if (fd < 0)
		return spapr__ret(-EBADF);
	pos = fd_token_of(fd, vouched);
	util_rcu_read_lock();
	h = handle_fast(fd, vouched, pos);
	if (h) {
		obj = h->obj;
		if (kinds[obj->kind].hold && kinds[obj->kind].hold(obj, request)) {
			util_rcu_read_unlock();
			return spapr__ret(kinds[obj->kind].held_ioctl(obj, request, arg));
		}
		obj_get(obj);
	}
	util_rcu_read_unlock();
	if (!h) {
		rc = fd_get_locked(fd, request ? request : ~0ul, vouched, pos, &obj);
		if (rc < 0)
			return spapr__ret(rc);
	}
	rc = rc ? foreign_ioctl(obj, request, arg) : kinds[obj->kind].ioctl(obj, request, arg);
	spapr__obj_put(obj);
	return spapr__ret(rc);
}

/*
 * SPAPRTCE_HANDLES=trusted (read once, at load): the program vouches for
 * every request, as the drop-in layer does (see the top of the file).
 * Atomic only for the test hook.
 */
static bool fd_trusted;

__attribute__((constructor)) static void fd_trusted_from_env(void)
{
	const char *env = getenv("SPAPRTCE_HANDLES");

	if (!env || !*env || !strcmp(env, "checked"))
		return;
	if (!strcmp(env, "trusted"))
		__atomic_store_n(&fd_trusted, true, __ATOMIC_RELAXED);
	else
		fprintf(stderr, "spaprtce: SPAPRTCE_HANDLES=%s ignored: expected checked or trusted\n", env);
}

void spapr__fd_set_trusted(bool trusted)
{
	__atomic_store_n(&fd_trusted, trusted, __ATOMIC_RELAXED);
}

int spapr_ioctl(int fd, unsigned long request, ...)
{
	const struct spapr_observer *o = spapr__observing();
	struct spapr_call_event ev;
	unsigned char before[64];
	bool vouched = SPAPR__IOCTL_IS_VOUCHED(request);
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (vouched)
		request = SPAPR__IOCTL_REQUEST(request);
	else
		vouched = __atomic_load_n(&fd_trusted, __ATOMIC_RELAXED);
	if (!o)
		return ioctl_fd(fd, request, vouched, arg);
	ev = (struct spapr_call_event){ .call = SPAPR_CALL_IOCTL, .fd = fd, .request = request, .arg = arg,
					.before = before };
	ev.before_len = spapr__observe_copy(before, arg, sizeof(before), request);
	ev.result = ioctl_fd(fd, request, vouched, arg);
	spapr__observe(o, &ev);
	return (int)ev.result;
}

/*
 * Closes the descriptor only when it is still the handle's; a lost handle
 * is dropped (its objects released) and the call is EBADF, the descriptor
 * left alone.  The parent's handle in a child: the descriptor is closed
 * (the child's copy), the object is not released.
 */
static int close_fd(int fd)
{
	struct spapr_handle *h = NULL;
	bool ours = false;

	if (fd >= 0) {
		util_mutex_lock(&spapr_fd_lock);
		h = (struct spapr_handle *)(uintptr_t)util_u64map_get(&spapr_fds, (uint64_t)fd);
		if (h) {
			ours = handle_is(h, fd);
			handle_unlink(fd, h);
		}
		util_mutex_unlock(&spapr_fd_lock);
	}
	if (!h)
		return spapr__ret(-EBADF);
	if (ours)
		close(fd);
	handle_drop(h);
	return ours ? 0 : spapr__ret(-EBADF);
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
