/* SPDX-License-Identifier: MIT */
/*
 * dropin/hooks.h: prototypes of the libc entry points the layer defines
 * that the libc headers do not declare in the layer's compilation mode
 * (the _FORTIFY_SOURCE and versioned-stat entry points, dup3, statx), so
 * that each definition is checked against one declaration.
 */
#ifndef SPAPRTCE_DROPIN_HOOKS_H
#define SPAPRTCE_DROPIN_HOOKS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct statx;

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx);
ssize_t __readlink_chk(const char *path, char *out, size_t n, size_t outlen);
ssize_t __readlinkat_chk(int dirfd, const char *path, char *out, size_t n, size_t outlen);
char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen);
char *canonicalize_file_name(const char *path);
int dup3(int oldfd, int newfd, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);

#endif
