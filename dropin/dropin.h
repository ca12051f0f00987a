/* SPDX-License-Identifier: MIT */
/*
 * dropin/dropin.h: what the files of the drop-in layer share (private; the
 * layer has no public header: its interface is libc's).
 *
 * Concepts
 *   hook      A function of libspaprtce-preload.so with the name of a libc
 *             entry point (open, ioctl, stat ...).  The dynamic linker binds
 *             the program's calls to it because the library is preloaded.  A
 *             hook either serves the call (a VFIO path or one of our fds) or
 *             calls the real function, found lazily with dlsym(RTLD_NEXT).
 *   guard     A thread-local depth counter.  While it is non-zero the hooks
 *             call the real functions directly: the layer's own libc calls and
 *             those of libspaprtce.so (which calls close(), mmap() ... on its
 *             own descriptors and memory) never come back into the layer.
 *   handle    One open file of ours (struct dropin_file): a container, group
 *             or device of the library, known by the descriptor the library
 *             gave (its "spapr fd").  Every program descriptor that refers to
 *             it (the first one and its dups) holds one reference; the last
 *             close releases it with spapr_close(), as the kernel's last fput.
 *   tree      The generated VFIO filesystem: a private directory that holds
 *             dev/vfio, sys/module/vfio ... (dropin/vfs.c); the hooks redirect
 *             only those path prefixes into it.
 *
 * Errors inside the layer: negative errno; the hooks set errno as libc does.
 */
#ifndef SPAPRTCE_DROPIN_H
#define SPAPRTCE_DROPIN_H

#include <pthread.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ------------------------------------------------------------ real libc */

struct statx;

struct dropin_real {
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*close)(int);
	int (*ioctl)(int, unsigned long, ...);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	off_t (*lseek)(int, off_t, int);
	int (*stat)(const char *, struct stat *);
	int (*lstat)(const char *, struct stat *);
	int (*fstatat)(int, const char *, struct stat *, int);
	int (*xstat)(int, const char *, struct stat *);
	int (*lxstat)(int, const char *, struct stat *);
	int (*fxstatat)(int, int, const char *, struct stat *, int);
	int (*statx)(int, const char *, int, unsigned, struct statx *);
	int (*access)(const char *, int);
	int (*faccessat)(int, const char *, int, int);
	ssize_t (*readlink)(const char *, char *, size_t);
	ssize_t (*readlinkat)(int, const char *, char *, size_t);
	char *(*realpath)(const char *, char *);
	DIR *(*opendir)(const char *);
	FILE *(*fopen)(const char *, const char *);
};

/* The real functions, resolved on first use (dropin/real.c). */
extern struct dropin_real dropin_real;
void dropin__resolve(void);

#define REAL(fn) (dropin__resolved ? 0 : (dropin__resolve(), 0), dropin_real.fn)
extern int dropin__resolved;

/* The guard (dropin/real.c).  dropin__guarded() is true inside the layer. */
extern __thread int dropin__depth __attribute__((tls_model("initial-exec")));
static inline bool dropin__guarded(void)
{
	return dropin__depth != 0;
}
static inline void dropin__enter(void)
{
	dropin__depth++;
}
static inline void dropin__leave(void)
{
	dropin__depth--;
}

/* --------------------------------------------------------------- backend */

/*
 * Where the requests go (dropin/backend.c): the emulator (spapr_*), or in
 * record mode the real kernel or a stand-in for it.  Calls follow the
 * system calls' conventions (-1 / MAP_FAILED and errno).
 */
struct dropin_backend {
	const char *name;
	bool real;		/* record mode: nothing is redirected, no tree */
	int (*open)(const char *path, int flags, int node, int group);	/* node: 1 container, 2 group */
	int (*ioctl)(int fd, unsigned long req, void *arg);
	int (*close)(int fd);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
};
const struct dropin_backend *dropin__backend(void);

/* --------------------------------------------------------------- handles */

enum dropin_kind { DROPIN_CONTAINER = 1, DROPIN_GROUP, DROPIN_DEVICE };

struct dropin_file {
	enum dropin_kind kind;
	int spapr_fd;		/* the library's descriptor, passed to spapr_* */
	int refs;		/* program descriptors referring to it (under the table lock) */
	int group;		/* the IOMMU group number (groups, devices) */
	unsigned id;		/* 1, 2 ...: per kind, the name in logs and traces */
	bool spapr_fd_visible;	/* the program still owns the descriptor spapr_fd */
	off_t pos;		/* file position of a device (read/write/lseek), under pos_lock */
};

/* Copies @n bytes from the program's @src without faulting; 0 or -EFAULT. */
int dropin__peek(void *dst, const void *src, size_t n);

#define DROPIN_MAX_FD (1 << 20)

/* The handle of program descriptor @fd, or NULL (lock-free). */
struct dropin_file *dropin__file(int fd);
/* Records @spapr_fd as a new program descriptor of a new handle; -ENOMEM. */
int dropin__file_new(enum dropin_kind kind, int spapr_fd, int group);
/* Program descriptor @newfd now refers to @f too (a dup). */
void dropin__file_dup(struct dropin_file *f, int newfd);
/*
 * Forgets program descriptor @fd.  Returns the handle when that was its last
 * reference (the caller releases it), else NULL.  *@keep_real is true when
 * @fd is the library's own descriptor still in use by other dups (the real
 * descriptor must stay open, hidden from the program).
 */
struct dropin_file *dropin__file_forget(int fd, bool *keep_real);
/* Frees a handle whose last reference was dropped. */
void dropin__file_free(struct dropin_file *f);
const char *dropin__kind_name(enum dropin_kind kind);

/* ------------------------------------------------------- the generated tree */

/*
 * If @path names a redirected place (a VFIO path), writes the path inside
 * the tree into @buf (size @n) and returns true; otherwise false (use @path
 * as it is).  The tree is built on first use.
 */
bool dropin__redirect(const char *path, char *buf, size_t n);
/* The tree's root (after dropin__redirect built it), or NULL. */
const char *dropin__tree_root(void);
/*
 * Adjusts what stat says of a generated /dev/vfio node (@path as the
 * program gave it) to a character device; returns true when it did.
 */
bool dropin__node_stat(const char *path, mode_t *mode, dev_t *rdev);
/* 1 if @path is /dev/vfio/vfio, 2 with *group set if /dev/vfio/<N>, 0 otherwise. */
int dropin__vfio_node(const char *path, int *group);

#define DROPIN_PCI_BARS 6u

/* The device of a group as emu_dev_info describes it (the machine list, dropin/machine.c). */
struct dropin_pci_dev {
	int group;
	char bdf[16];		/* "0000:00:01.0" */
	unsigned vendor, device, class_code, subsystem_vendor, subsystem_device, revision;
	uint64_t bar_size[DROPIN_PCI_BARS];	/* bytes, 0: absent */
	uint32_t bar_flags[DROPIN_PCI_BARS];	/* EMU_DEV_INFO_BAR_* */
	int numa_node;
};
/*
 * Fills @out (room for @max) with the machine's devices, group by group
 * (groups without a device are left out); returns their number or -errno.
 */
int dropin_machine_devices(struct dropin_pci_dev *out, unsigned max);
/* Prints the machine's groups and devices to @f (spaprtce exec --list). */
int dropin_machine_print(FILE *f);

/* ---------------------------------------------------- the log and the trace */

/* Opens SPAPRTCE_LOG / SPAPRTCE_TRACE when set (once). */
void dropin__log_init(void);
/* eeh_ctl.c: SPAPRTCE_EEH_CTL, the FIFO that freezes PEs from outside (called by the log's start). */
void dropin__eeh_ctl_start(void);
/* An open of /dev/vfio/...: @fd is the program's descriptor or -1 with @err. */
void dropin__log_open(const char *path, int group, int fd, int err, const struct dropin_file *f);
/* An ioctl on handle @f through program descriptor @fd, with its result. */
void dropin__log_ioctl(int fd, const struct dropin_file *f, unsigned long req, uintptr_t arg,
		       const void *argcopy, int rc, int err);
/* A close of program descriptor @fd; @last when it released the handle. */
void dropin__log_close(int fd, const struct dropin_file *f, bool last, int rc, int err);
/* A device read/write/mmap. */
void dropin__log_rw(const char *what, int fd, const struct dropin_file *f, size_t n, off_t off,
		    ssize_t rc, int err);
bool dropin__logging(void);

/* ------------------------------------------------- statistics at exit */

/* Counts a request's outcome (@rc as the backend returned it) for SPAPRTCE_STATS. */
void dropin__stats_ioctl(unsigned long req, const void *arg, int rc);
/* Reads SPAPRTCE_STATS once: without it the requests are not counted. */
void dropin__stats_init(void);

/*
 * The layer's four mutexes, in the order dropin/fork.c takes them across
 * fork(): tree_lock and pos_lock are held while the library runs (the tree
 * is built from emu_dev_info, a device read goes to spapr_pread), trace_lock
 * and table_lock are leaves.  No path takes them in another order.
 */
extern pthread_mutex_t dropin__tree_lock, dropin__pos_lock, dropin__trace_lock, dropin__table_lock;

#endif
