/* SPDX-License-Identifier: MIT */
/*
 * The backend behind the hooks: the emulator, or in record mode the real
 * kernel (or a stand-in for it).
 *
 * Normally every request of the program goes to the library (spapr_*),
 * the emulated machine.  With SPAPRTCE_REAL=1 (`spaprtce exec --real`) the
 * layer only records: opens of /dev/vfio/... are real opens, ioctls,
 * closes, device reads, writes and mmaps are the real system calls on the
 * real descriptors, and no path is redirected -- on a POWER host the
 * program meets the kernel's VFIO unchanged while the log and the trace
 * (dropin/log.c, dropin/trace.c) record every request with the kernel's
 * results.  Such a trace replays on the emulator and shows every place where
 * the emulator differs from that kernel.
 *
 * Test hook: SPAPRTCE_REAL_STANDIN=LIB (with SPAPRTCE_REAL=1) makes the
 * "real kernel" the library LIB, loaded with dlopen, which exports
 *   int standin_open(const char *path, int flags);
 *   int standin_ioctl(int fd, unsigned long request, void *arg);
 *   int standin_close(int fd);
 * with the system calls' conventions (-1 and errno).  The suite uses one
 * that forwards to a second view of the emulator, so that record mode can
 * be tested on a machine without VFIO.  Device reads, writes and mmaps of
 * a stand-in fail with ENODEV.
 *
 * The choice is made once, on the first request, and holds for the
 * process (a forked child keeps it; an exec'd program decides again from
 * its environment).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dropin/dropin.h"
#include "spapr/spapr.h"
#include "spapr/vouched.h"

/* ---------------------------------------------------------------- emulator */

static int emu_open(const char *path, int flags, int node, int group)
{
	(void)path;
	(void)flags;
	return node == 1 ? spapr_open_container() : spapr_open_group(group);
}

/*
 * The layer routes every close, dup2 and dup3 and keeps the library's
 * descriptor open while any copy is (dropin/handles.c): @fd names the
 * handle, so the library may skip its identity check (spapr/vouched.h).
 */
static int emu_ioctl(int fd, unsigned long req, void *arg)
{
	return spapr_ioctl(fd, SPAPR__IOCTL_VOUCHED(req), arg);
}

static const struct dropin_backend emulator = {
	.name = "emulator",
	.open = emu_open,
	.ioctl = emu_ioctl,
	.close = spapr_close,
	.pread = spapr_pread,
	.pwrite = spapr_pwrite,
	.mmap = spapr_mmap,
};

/* ------------------------------------------------------------------ kernel */

static int kernel_open(const char *path, int flags, int node, int group)
{
	(void)node;
	(void)group;
	return dropin_real.open(path, flags & ~O_CLOEXEC);	/* the hook sets FD_CLOEXEC after */
}

static int kernel_ioctl(int fd, unsigned long req, void *arg)
{
	return dropin_real.ioctl(fd, req, arg);
}

static int kernel_close(int fd)
{
	return dropin_real.close(fd);
}

static ssize_t kernel_pread(int fd, void *buf, size_t n, off_t off)
{
	return dropin_real.pread(fd, buf, n, off);
}

static ssize_t kernel_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return dropin_real.pwrite(fd, buf, n, off);
}

static void *kernel_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return dropin_real.mmap(addr, len, prot, flags, fd, off);
}

static const struct dropin_backend kernel = {
	.name = "kernel",
	.real = true,
	.open = kernel_open,
	.ioctl = kernel_ioctl,
	.close = kernel_close,
	.pread = kernel_pread,
	.pwrite = kernel_pwrite,
	.mmap = kernel_mmap,
};

/* ---------------------------------------------------------------- stand-in */

static int (*standin_open)(const char *, int);
static int (*standin_ioctl)(int, unsigned long, void *);
static int (*standin_close)(int);

static int standin_open_node(const char *path, int flags, int node, int group)
{
	(void)node;
	(void)group;
	return standin_open(path, flags);
}

static ssize_t no_rw(void)
{
	errno = ENODEV;
	return -1;
}

static ssize_t standin_pread(int fd, void *buf, size_t n, off_t off)
{
	(void)fd, (void)buf, (void)n, (void)off;
	return no_rw();
}

static ssize_t standin_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	(void)fd, (void)buf, (void)n, (void)off;
	return no_rw();
}

static void *standin_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	(void)addr, (void)len, (void)prot, (void)flags, (void)fd, (void)off;
	errno = ENODEV;
	return MAP_FAILED;
}

static struct dropin_backend standin = {
	.name = "stand-in",
	.real = true,
	.open = standin_open_node,
	.pread = standin_pread,
	.pwrite = standin_pwrite,
	.mmap = standin_mmap,
};

/* ------------------------------------------------------------------ choice */

static pthread_once_t choice_once = PTHREAD_ONCE_INIT;
static const struct dropin_backend *chosen = &emulator;

static void say(const char *msg)
{
	dropin_real.write(2, msg, strlen(msg));
}

static void choose(void)
{
	const char *real = getenv("SPAPRTCE_REAL"), *lib = getenv("SPAPRTCE_REAL_STANDIN");
	void *h;

	dropin__resolve();
	if (!real || strcmp(real, "1"))
		return;
	chosen = &kernel;
	if (!lib || !*lib)
		return;
	dropin__enter();
	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (h) {
		*(void **)&standin_open = dlsym(h, "standin_open");
		*(void **)&standin_ioctl = dlsym(h, "standin_ioctl");
		*(void **)&standin_close = dlsym(h, "standin_close");
	}
	dropin__leave();
	if (!h || !standin_open || !standin_ioctl || !standin_close) {
		say("libspaprtce-preload: SPAPRTCE_REAL_STANDIN is not a stand-in library; using the kernel\n");
		return;
	}
	standin.ioctl = standin_ioctl;
	standin.close = standin_close;
	chosen = &standin;
}

const struct dropin_backend *dropin__backend(void)
{
	pthread_once(&choice_once, choose);
	return chosen;
}
