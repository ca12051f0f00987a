/* SPDX-License-Identifier: MIT */
/*
 * The real libc functions behind the hooks, and the re-entrancy guard.
 *
 * The functions are resolved with dlsym(RTLD_NEXT) on the first call of any
 * hook, not in a constructor: a program's (or another preloaded library's)
 * constructor may call open() or stat() before ours has run.  Resolution is
 * idempotent, so two threads racing through it store the same pointers; the
 * flag is published with release order after every pointer is stored.
 *
 * dlsym itself may allocate (its error buffer) but never opens files, so it
 * does not come back into the hooks.  The stat family is resolved by its
 * modern names (glibc >= 2.33 exports stat, lstat, fstatat); the __xstat
 * family is looked up too, for programs built against older glibc, and may
 * be missing in a future libc (its hooks then fail with ENOSYS).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "dropin/dropin.h"

struct dropin_real dropin_real;
int dropin__resolved;
__thread int dropin__depth __attribute__((tls_model("initial-exec")));

static void *must(const char *name, int required)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p && required) {
		/* Without the real function the program cannot run at all. */
		static const char msg[] = "libspaprtce-preload: a libc function is missing\n";
		ssize_t (*w)(int, const void *, size_t) = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");

		if (w)
			w(2, msg, sizeof(msg) - 1);
		abort();
	}
	return p;
}

#define GET(field, name) (*(void **)&dropin_real.field = must(name, 1))
#define GET_OPT(field, name) (*(void **)&dropin_real.field = must(name, 0))

void dropin__resolve(void)
{
	if (__atomic_load_n(&dropin__resolved, __ATOMIC_ACQUIRE))
		return;
	GET(open, "open");
	GET(openat, "openat");
	GET(close, "close");
	GET(ioctl, "ioctl");
	GET(dup, "dup");
	GET(dup2, "dup2");
	GET(dup3, "dup3");
	GET(fcntl, "fcntl");
	GET(read, "read");
	GET(write, "write");
	GET(pread, "pread");
	GET(pwrite, "pwrite");
	GET(mmap, "mmap");
	GET(lseek, "lseek");
	GET(stat, "stat");
	GET(lstat, "lstat");
	GET(fstatat, "fstatat");
	GET_OPT(xstat, "__xstat");
	GET_OPT(lxstat, "__lxstat");
	GET_OPT(fxstatat, "__fxstatat");
	GET(statx, "statx");
	GET(access, "access");
	GET(faccessat, "faccessat");
	GET(readlink, "readlink");
	GET(readlinkat, "readlinkat");
	GET(realpath, "realpath");
	GET(opendir, "opendir");
	GET(fopen, "fopen");
	__atomic_store_n(&dropin__resolved, 1, __ATOMIC_RELEASE);
}
