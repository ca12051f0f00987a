/* SPDX-License-Identifier: MIT */
/*
 * The descriptor hooks: ioctl, close, dup/dup2/dup3, fcntl's F_DUPFD,
 * read/write/pread/pwrite (and their _chk and 64 variants), mmap, lseek.
 *
 * A descriptor that is not one of ours costs one table load and goes to the
 * real function with its arguments as given.  On ours:
 *   ioctl   goes to the backend's ioctl (spapr_ioctl(), or the real kernel's
 *           in record mode: dropin/backend.c) with the handle's own descriptor; the
 *           argument is decoded by request as the kernel does: an integer
 *           (CHECK_EXTENSION, SET_IOMMU), a string (GET_DEVICE_FD), a
 *           pointer to a descriptor (GROUP_SET_CONTAINER, translated to the
 *           library's descriptor of that container), a struct pointer
 *           otherwise.  The four requests the kernel answers for every file
 *           before any driver (FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC) go to the
 *           real descriptor.  GET_DEVICE_FD's new descriptor becomes a device
 *           handle.
 *   close   drops the descriptor's reference; the last one releases the
 *           handle (spapr_close), like the kernel's last fput.
 *   dup*    count a reference; dup2/dup3 onto one of ours first drop the
 *           target's reference, as the kernel closes the target.
 *   read, write, pread, pwrite, mmap, lseek
 *           on a device: the library's device calls (spapr_pread, spapr_pwrite, spapr_mmap),
 *           read/write at the handle's file position; on a container or a
 *           group what the kernel's files without those operations answer:
 *           EINVAL for read and write, ENODEV for mmap, ESPIPE for lseek.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dropin/dropin.h"
#include "dropin/hooks.h"
#include "dropin/trace.h"

#define EXPORT __attribute__((visibility("default")))
#define ALIAS(name) __attribute__((alias(#name), visibility("default")))

extern void __chk_fail(void) __attribute__((noreturn));

/* glibc declares process_vm_readv only with _GNU_SOURCE. */
extern ssize_t process_vm_readv(pid_t pid, const struct iovec *local, unsigned long liovcnt,
				const struct iovec *remote, unsigned long riovcnt, unsigned long flags);

pthread_mutex_t dropin__pos_lock = PTHREAD_MUTEX_INITIALIZER;	/* fork: dropin/fork.c */

int dropin__peek(void *dst, const void *src, size_t n)
{
	struct iovec l = { dst, n }, r = { (void *)src, n };

	if (!n)
		return 0;
	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

/* The file of program descriptor @fd, unless the layer itself is calling. */
static inline struct dropin_file *ours(int fd)
{
	return dropin__guarded() ? NULL : dropin__file(fd);
}

/* ------------------------------------------------------------------ ioctl */

/* The container descriptor of GROUP_SET_CONTAINER, in the library's numbering. */
static int container_arg(const void *arg, int *out)
{
	struct dropin_file *c;
	int fd;

	if (dropin__peek(&fd, arg, sizeof(fd)))
		return -EFAULT;
	c = dropin__file(fd);
	if (c)
		*out = c->spapr_fd;
	else if (fd >= 0 && dropin_real.fcntl(fd, F_GETFD) >= 0)
		return -EBADFD;	/* an open file, not a VFIO container (vfio_group_ioctl_set_container) */
	else
		*out = fd < 0 ? fd : 0x7fffffff;	/* not open: EBADF from the library */
	return 0;
}

static int ioctl_ours(int fd, struct dropin_file *f, unsigned long req, void *arg)
{
	unsigned char before[64];
	bool log = dropin__logging();
	int rc, err = 0, cfd;
	void *a = arg;

	if (req == FIOCLEX || req == FIONCLEX || req == FIONBIO || req == FIOASYNC)
		return dropin_real.ioctl(fd, req, arg);
	if (log) {
		/*
		 * What the program asked: page by page up to the first page that
		 * cannot be read (zero beyond), so a struct that straddles two
		 * pages is read whole and one that ends before an unmapped page
		 * is read all the same.
		 */
		size_t done = 0;

		memset(before, 0, sizeof(before));
		while (req != VFIO_CHECK_EXTENSION && req != VFIO_SET_IOMMU && done < sizeof(before)) {
			uintptr_t at = (uintptr_t)arg + done;
			size_t n = 4096 - (at & 4095);

			if (n > sizeof(before) - done)
				n = sizeof(before) - done;
			if (dropin__peek(before + done, (const void *)at, n))
				break;
			done += n;
		}
	}
	if (f->kind == DROPIN_GROUP && req == VFIO_GROUP_SET_CONTAINER) {
		rc = container_arg(arg, &cfd);
		if (rc) {
			if (log)
				dropin__log_ioctl(fd, f, req, (uintptr_t)arg, before, -1, -rc);
			errno = -rc;
			return -1;
		}
		a = &cfd;
	}
	dropin__enter();
	rc = dropin__backend()->ioctl(f->spapr_fd, req, a);
	if (rc < 0)
		err = errno;
	if (rc >= 0 && f->kind == DROPIN_GROUP && req == VFIO_GROUP_GET_DEVICE_FD) {
		int nrc = dropin__file_new(DROPIN_DEVICE, rc, f->group);

		if (nrc) {
			dropin__backend()->close(rc);
			rc = -1;
			err = -nrc;
		}
	}
	dropin__stats_ioctl(req, arg, rc);
	dropin__leave();
	if (log)
		dropin__log_ioctl(fd, f, req, (uintptr_t)arg, before, rc, err);
	if (rc < 0)
		errno = err;
	return rc;
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	struct dropin_file *f;
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	dropin__resolve();
	f = ours(fd);
	if (!f)
		return dropin_real.ioctl(fd, req, arg);
	return ioctl_ours(fd, f, req, arg);
}

/* ------------------------------------------------------------ close, dup */

/*
 * Drops program descriptor @fd of handle @f: the real descriptor is closed
 * (or kept hidden, see dropin/handles.c), and the last reference releases
 * the handle through spapr_close.
 */
static int drop(int fd, struct dropin_file *f)
{
	bool keep;
	struct dropin_file *last = dropin__file_forget(fd, &keep);
	int rc = 0, err = 0;

	if (!last) {
		if (!keep)
			dropin_real.close(fd);
		dropin__log_close(fd, f, false, 0, 0);
		return 0;
	}
	dropin__enter();
	if (fd != last->spapr_fd)
		dropin_real.close(fd);
	rc = dropin__backend()->close(last->spapr_fd);
	if (rc)
		err = errno;
	dropin__leave();
	dropin__log_close(fd, last, true, rc, err);
	dropin__file_free(last);
	if (rc)
		errno = err;
	return rc;
}

EXPORT int close(int fd)
{
	struct dropin_file *f;

	dropin__resolve();
	f = ours(fd);
	if (f)
		return drop(fd, f);
	if (fd >= 900 && !dropin__guarded() && dropin__is_private_fd(fd))
		return 0;	/* the log's or the trace's: a program closing every descriptor keeps them */
	return dropin_real.close(fd);
}

EXPORT int dup(int fd)
{
	struct dropin_file *f;
	int nfd;

	dropin__resolve();
	nfd = dropin_real.dup(fd);
	f = ours(fd);
	if (nfd >= 0 && f)
		dropin__file_dup(f, nfd);
	return nfd;
}

/* dup2/dup3 onto @newfd: the kernel closes @newfd's file first. */
static int dup_onto(int oldfd, int newfd, int flags, bool three)
{
	struct dropin_file *f = ours(oldfd), *t = ours(newfd);
	int rc;

	if (oldfd == newfd || (!f && !t))
		return three ? dropin_real.dup3(oldfd, newfd, flags) : dropin_real.dup2(oldfd, newfd);
	if (t) {
		if (dropin_real.fcntl(oldfd, F_GETFD) < 0) {
			errno = EBADF;
			return -1;
		}
		if (t == f) {	/* the same file already: only the flags change */
			return three ? dropin_real.fcntl(newfd, F_SETFD, (flags & O_CLOEXEC) ? FD_CLOEXEC : 0) < 0
					       ? -1 : newfd
				     : newfd;
		}
		if (newfd == t->spapr_fd && t->refs > 1) {
			/* The library needs that descriptor number for the other dups. */
			errno = EBUSY;
			return -1;
		}
		drop(newfd, t);
	}
	rc = three ? dropin_real.dup3(oldfd, newfd, flags) : dropin_real.dup2(oldfd, newfd);
	if (rc >= 0 && f)
		dropin__file_dup(f, rc);
	return rc;
}

EXPORT int dup2(int oldfd, int newfd)
{
	dropin__resolve();
	return dup_onto(oldfd, newfd, 0, false);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	dropin__resolve();
	return dup_onto(oldfd, newfd, flags, true);
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	struct dropin_file *f;
	va_list ap;
	void *arg;
	int rc;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	dropin__resolve();
	rc = dropin_real.fcntl(fd, cmd, arg);
	if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && (f = ours(fd)))
		dropin__file_dup(f, rc);
	return rc;
}
int fcntl64(int fd, int cmd, ...) ALIAS(fcntl);

/* ---------------------------------------------------- read, write, mmap */

static ssize_t fail(int err)
{
	errno = err;
	return -1;
}

static ssize_t dev_rw(int fd, struct dropin_file *f, void *buf, size_t n, off_t off, bool wr,
		      bool at_pos)
{
	ssize_t rc;
	int err = 0;

	if (f->kind != DROPIN_DEVICE)
		return fail(EINVAL);
	if (at_pos) {
		pthread_mutex_lock(&dropin__pos_lock);
		off = f->pos;
	}
	dropin__enter();
	rc = wr ? dropin__backend()->pwrite(f->spapr_fd, buf, n, off)
		: dropin__backend()->pread(f->spapr_fd, buf, n, off);
	if (rc < 0)
		err = errno;
	dropin__leave();
	if (at_pos) {
		if (rc > 0)
			f->pos += rc;
		pthread_mutex_unlock(&dropin__pos_lock);
	}
	dropin__log_rw(wr ? "pwrite" : "pread", fd, f, n, off, rc, err);
	if (rc < 0)
		errno = err;
	return rc;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct dropin_file *f;

	dropin__resolve();
	f = ours(fd);
	return f ? dev_rw(fd, f, buf, n, 0, false, true) : dropin_real.read(fd, buf, n);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct dropin_file *f;

	dropin__resolve();
	f = ours(fd);
	return f ? dev_rw(fd, f, (void *)buf, n, 0, true, true) : dropin_real.write(fd, buf, n);
}

EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	struct dropin_file *f;

	dropin__resolve();
	f = ours(fd);
	return f ? dev_rw(fd, f, buf, n, off, false, false) : dropin_real.pread(fd, buf, n, off);
}
ssize_t pread64(int fd, void *buf, size_t n, off_t off) ALIAS(pread);

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct dropin_file *f;

	dropin__resolve();
	f = ours(fd);
	return f ? dev_rw(fd, f, (void *)buf, n, off, true, false) : dropin_real.pwrite(fd, buf, n, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) ALIAS(pwrite);

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return read(fd, buf, n);
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return pread(fd, buf, n, off);
}
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen) ALIAS(__pread_chk);

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct dropin_file *f;
	void *p;
	int err = 0;

	dropin__resolve();
	f = (flags & MAP_ANONYMOUS) ? NULL : ours(fd);
	if (!f)
		return dropin_real.mmap(addr, len, prot, flags, fd, off);
	if (f->kind != DROPIN_DEVICE) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	dropin__enter();
	p = dropin__backend()->mmap(addr, len, prot, flags, f->spapr_fd, off);
	if (p == MAP_FAILED)
		err = errno;
	dropin__leave();
	dropin__log_rw("mmap", fd, f, len, off, p == MAP_FAILED ? -1 : 0, err);
	if (p == MAP_FAILED)
		errno = err;
	return p;
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) ALIAS(mmap);

EXPORT off_t lseek(int fd, off_t off, int whence)
{
	struct dropin_file *f;
	off_t rc;

	dropin__resolve();
	f = ours(fd);
	if (!f)
		return dropin_real.lseek(fd, off, whence);
	if (f->kind != DROPIN_DEVICE)
		return fail(ESPIPE);
	pthread_mutex_lock(&dropin__pos_lock);
	if (whence == SEEK_SET)
		rc = off;
	else if (whence == SEEK_CUR)
		rc = f->pos + off;
	else
		rc = -1;	/* SEEK_END and the others: a device has no size */
	if (rc >= 0)
		f->pos = rc;
	pthread_mutex_unlock(&dropin__pos_lock);
	return rc < 0 ? fail(EINVAL) : rc;
}
off_t lseek64(int fd, off_t off, int whence) ALIAS(lseek);
