/* SPDX-License-Identifier: MIT */
/*
 * The path hooks: open and its variants, the stat family, access,
 * readlink, realpath, opendir, fopen.
 *
 * Each one does three things, in order: inside the layer (the guard) it is
 * the real function; /dev/vfio/vfio and /dev/vfio/<N> opened by name become
 * the library's container and group handles; any other path under a
 * redirected prefix is rewritten into the generated tree (dropin/vfs.c) and
 * given to the real function.  Everything else reaches libc untouched --
 * the path pointer itself, not a copy.
 *
 * Names: glibc >= 2.33 exports stat, lstat, fstatat (and their 64 aliases)
 * as real functions; binaries built against older glibc call the __xstat
 * family with a version argument, and the _FORTIFY_SOURCE builds of QEMU
 * and DPDK call __open_2, __open64_2, __readlink_chk, __realpath_chk.  On
 * LP64 the 64 variants are the same functions with the same structs, so
 * each is an alias of the plain hook.  This file is compiled without
 * _GNU_SOURCE so that <sys/stat.h> does not declare the 64 variants with
 * their own struct types, which the aliases could not match.
 */
#define _DEFAULT_SOURCE
#define _ATFILE_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dropin/dropin.h"
#include "dropin/hooks.h"

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

_Static_assert(sizeof(off_t) == 8, "the 64 aliases assume LP64 (off_t and struct stat are 64-bit)");

#define EXPORT __attribute__((visibility("default")))
#define ALIAS(name) __attribute__((alias(#name), visibility("default")))

extern void __chk_fail(void) __attribute__((noreturn));

/* The path to give to libc: @path, or its place in the tree (in @buf). */
static const char *where(const char *path, char *buf, size_t n)
{
	if (dropin__guarded() || !path || path[0] != '/')
		return path;
	return dropin__redirect(path, buf, n) ? buf : path;
}

/* ------------------------------------------------------------------- open */

/* Opens the container (@node 1) or group @g (@node 2) for the program. */
static int open_vfio(const char *path, int node, int g, int flags)
{
	enum dropin_kind kind = node == 1 ? DROPIN_CONTAINER : DROPIN_GROUP;
	int fd, err = 0, rc;

	dropin__log_init();
	dropin__enter();
	fd = dropin__backend()->open(path, flags, node, g);
	if (fd < 0)
		err = errno;
	if (fd >= 0 && (flags & O_CLOEXEC))
		dropin_real.fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (fd >= 0) {
		rc = dropin__file_new(kind, fd, node == 1 ? -1 : g);
		if (rc) {
			dropin__backend()->close(fd);
			fd = -1;
			err = -rc;
		}
	}
	dropin__leave();
	dropin__log_open(path, node == 1 ? -1 : g, fd, err, fd >= 0 ? dropin__file(fd) : NULL);
	errno = err ? err : errno;
	return fd;
}

static int open_common(int dirfd, const char *path, int flags, mode_t mode, bool at)
{
	char buf[PATH_MAX];
	const char *p = path;
	int node, g = 0;

	dropin__resolve();
	if (!dropin__guarded() && path && path[0] == '/') {
		node = dropin__vfio_node(path, &g);
		if (node && !(flags & (O_CREAT | O_DIRECTORY | O_TMPFILE)))
			return open_vfio(path, node, g, flags);
		p = where(path, buf, sizeof(buf));
	}
	return at ? dropin_real.openat(dirfd, p, flags, mode) : dropin_real.open(p, flags, mode);
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return open_common(AT_FDCWD, path, flags, mode, false);
}
int open64(const char *path, int flags, ...) ALIAS(open);

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return open_common(dirfd, path, flags, mode, true);
}
int openat64(int dirfd, const char *path, int flags, ...) ALIAS(openat);

/* The _FORTIFY_SOURCE entry points: no mode, so O_CREAT is the caller's bug (as in glibc). */
EXPORT int __open_2(const char *path, int flags)
{
	if (flags & O_CREAT)
		__chk_fail();
	return open_common(AT_FDCWD, path, flags, 0, false);
}
int __open64_2(const char *path, int flags) ALIAS(__open_2);

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	if (flags & O_CREAT)
		__chk_fail();
	return open_common(dirfd, path, flags, 0, true);
}
int __openat64_2(int dirfd, const char *path, int flags) ALIAS(__openat_2);

EXPORT FILE *fopen(const char *path, const char *mode)
{
	char buf[PATH_MAX];

	dropin__resolve();
	return dropin_real.fopen(where(path, buf, sizeof(buf)), mode);
}
FILE *fopen64(const char *path, const char *mode) ALIAS(fopen);

/* ------------------------------------------------------------------- stat */

static int stat_done(const char *path, int rc, struct stat *st)
{
	if (!rc && !dropin__guarded() && path && S_ISREG(st->st_mode))
		dropin__node_stat(path, &st->st_mode, &st->st_rdev);
	return rc;
}

EXPORT int stat(const char *path, struct stat *st)
{
	char buf[PATH_MAX];

	dropin__resolve();
	return stat_done(path, dropin_real.stat(where(path, buf, sizeof(buf)), st), st);
}
int stat64(const char *path, struct stat *st) ALIAS(stat);

EXPORT int lstat(const char *path, struct stat *st)
{
	char buf[PATH_MAX];

	dropin__resolve();
	return stat_done(path, dropin_real.lstat(where(path, buf, sizeof(buf)), st), st);
}
int lstat64(const char *path, struct stat *st) ALIAS(lstat);

EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	char buf[PATH_MAX];

	dropin__resolve();
	return stat_done(path, dropin_real.fstatat(dirfd, where(path, buf, sizeof(buf)), st, flags), st);
}
int fstatat64(int dirfd, const char *path, struct stat *st, int flags) ALIAS(fstatat);

static int no_xstat(void)
{
	errno = ENOSYS;
	return -1;
}

EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
	char buf[PATH_MAX];

	dropin__resolve();
	if (!dropin_real.xstat)
		return no_xstat();
	return stat_done(path, dropin_real.xstat(ver, where(path, buf, sizeof(buf)), st), st);
}
int __xstat64(int ver, const char *path, struct stat *st) ALIAS(__xstat);

EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
	char buf[PATH_MAX];

	dropin__resolve();
	if (!dropin_real.lxstat)
		return no_xstat();
	return stat_done(path, dropin_real.lxstat(ver, where(path, buf, sizeof(buf)), st), st);
}
int __lxstat64(int ver, const char *path, struct stat *st) ALIAS(__lxstat);

EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	char buf[PATH_MAX];

	dropin__resolve();
	if (!dropin_real.fxstatat)
		return no_xstat();
	return stat_done(path, dropin_real.fxstatat(ver, dirfd, where(path, buf, sizeof(buf)), st, flags),
			 st);
}
int __fxstatat64(int ver, int dirfd, const char *path, struct stat *st, int flags) ALIAS(__fxstatat);

EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
	char buf[PATH_MAX];
	int rc;

	dropin__resolve();
	rc = dropin_real.statx(dirfd, where(path, buf, sizeof(buf)), flags, mask, stx);
	if (!rc && !dropin__guarded() && path && S_ISREG(stx->stx_mode)) {
		mode_t mode;
		dev_t rdev;

		if (dropin__node_stat(path, &mode, &rdev)) {
			stx->stx_mode = (__u16)mode;
			stx->stx_rdev_major = major(rdev);
			stx->stx_rdev_minor = minor(rdev);
		}
	}
	return rc;
}

/* ---------------------------------------------------------------- access */

EXPORT int access(const char *path, int mode)
{
	char buf[PATH_MAX];

	dropin__resolve();
	return dropin_real.access(where(path, buf, sizeof(buf)), mode);
}

EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	char buf[PATH_MAX];

	dropin__resolve();
	return dropin_real.faccessat(dirfd, where(path, buf, sizeof(buf)), mode, flags);
}

/* -------------------------------------------------------------- readlink */

EXPORT ssize_t readlink(const char *path, char *out, size_t n)
{
	char buf[PATH_MAX];

	dropin__resolve();
	return dropin_real.readlink(where(path, buf, sizeof(buf)), out, n);
}

EXPORT ssize_t readlinkat(int dirfd, const char *path, char *out, size_t n)
{
	char buf[PATH_MAX];

	dropin__resolve();
	return dropin_real.readlinkat(dirfd, where(path, buf, sizeof(buf)), out, n);
}

EXPORT ssize_t __readlink_chk(const char *path, char *out, size_t n, size_t outlen)
{
	if (n > outlen)
		__chk_fail();
	return readlink(path, out, n);
}

EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *out, size_t n, size_t outlen)
{
	if (n > outlen)
		__chk_fail();
	return readlinkat(dirfd, path, out, n);
}

/* -------------------------------------------------------------- realpath */

/*
 * The tree's symlinks are relative and stay inside it, so the real
 * realpath of a redirected path is the tree's root followed by the answer
 * the program expects: the root is removed.
 */
EXPORT char *realpath(const char *path, char *resolved)
{
	char buf[PATH_MAX], out[PATH_MAX];
	const char *p, *root;
	size_t rl;

	dropin__resolve();
	p = where(path, buf, sizeof(buf));
	if (p == path)
		return dropin_real.realpath(path, resolved);
	if (!dropin_real.realpath(p, out))
		return NULL;
	root = dropin__tree_root();
	rl = root ? strlen(root) : 0;
	if (rl && !strncmp(out, root, rl) && (out[rl] == '/' || !out[rl]))
		memmove(out, out + rl, strlen(out + rl) + 1);
	if (!out[0])
		strcpy(out, "/");
	if (resolved)
		return strcpy(resolved, out);
	return strdup(out);
}

EXPORT char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
	if (resolvedlen < PATH_MAX)
		__chk_fail();
	return realpath(path, resolved);
}

EXPORT char *canonicalize_file_name(const char *path)
{
	return realpath(path, NULL);
}

/* ---------------------------------------------------------------- opendir */

/* readdir and closedir need no hook: the stream is a real one of the tree. */
EXPORT DIR *opendir(const char *path)
{
	char buf[PATH_MAX];

	dropin__resolve();
	return dropin_real.opendir(where(path, buf, sizeof(buf)));
}
