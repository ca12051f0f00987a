/* SPDX-License-Identifier: MIT */
/*
 * The drop-in layer (libspaprtce-preload.so) under a real program: this
 * suite re-executes itself with the layer in LD_PRELOAD (and linked to the
 * shared libspaprtce.so, so that its emu_* and spapr_mm_* calls see the
 * machine the interposed /dev/vfio serves), then every test uses plain libc:
 * open, ioctl, dup, close, stat ...
 *
 * Covered: the generated filesystem (/dev/vfio listing and nodes, the
 * modules, iommu_groups, the device directories, symlinks as readlink and
 * realpath see them, the identity files through fopen and open); every
 * interposed entry point, directly or through its _chk / 64 / __xstat name;
 * paths and descriptors that are not ours passed through untouched; DPDK's
 * container sequence with DMA by the emulated device into the program's
 * memory; DPDK's type1-layout UNMAP (the range stays mapped, UNREGISTER
 * EBUSY); dup/dup2/dup3/F_DUPFD counting with release at the last close;
 * bad input (unknown requests, foreign descriptors, missing groups); the
 * request log and the recorded trace replayed by `spaprtce replay`;
 * threads; a forked child; `spaprtce exec` (machine, exit status);
 * direct_library_calls: the program's own spapr_ioctl on a descriptor the
 * layer gave it (the library's identity check must not meet the layer's
 * lseek hook, which answers ESPIPE for our descriptors).
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu/dev_dma.h"
#include "emu/emu.h"
#include "spapr/spapr.h"

/* Entry points <fcntl.h>/<sys/stat.h> do not declare in this mode. */
int __open_2(const char *path, int flags);
int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
ssize_t __readlink_chk(const char *path, char *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);

#define PS 4096ul
static char build_dir[PATH_MAX];	/* build/ (or build/san-...): the suite is in tests/ below it */

#define OK(x) ck_assert_int_eq((x), 0)
#define ERR(x, e)                                        \
	do {                                             \
		errno = 0;                               \
		ck_assert_int_eq((x), -1);               \
		ck_assert_str_eq(strerrorname_np(errno), strerrorname_np(e)); \
	} while (0)

/* --------------------------------------------------------------- helpers */

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Opens container + group @g, attached, v2. */
static int open_v2(int g, int *group)
{
	int c = open("/dev/vfio/vfio", O_RDWR);
	char path[32];

	ck_assert_int_ge(c, 0);
	snprintf(path, sizeof(path), "/dev/vfio/%d", g);
	*group = open(path, O_RDWR);
	ck_assert_int_ge(*group, 0);
	OK(ioctl(*group, VFIO_GROUP_SET_CONTAINER, &c));
	OK(ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU));
	return c;
}

static int reg(int c, unsigned long req, void *p, size_t n)
{
	struct vfio_iommu_spapr_register_memory r = { .argsz = sizeof(r), .vaddr = (uintptr_t)p, .size = n };

	return ioctl(c, req, &r);
}

static int map(int c, void *p, uint64_t iova, size_t n)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)p,
		.iova = iova,
		.size = n,
	};

	return ioctl(c, VFIO_IOMMU_MAP_DMA, &m);
}

static int unmap(int c, uint64_t iova, size_t n)
{
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = n };

	return ioctl(c, VFIO_IOMMU_UNMAP_DMA, &u);
}

static void *anon(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

/* Runs @argv (with @env_extra "K=V" set, LD_PRELOAD removed unless kept); returns its exit status. */
static int run(char *const argv[], const char *env_extra, bool keep_preload, char *out, size_t outn)
{
	int pfd[2], st;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		if (!keep_preload)
			unsetenv("LD_PRELOAD");
		if (env_extra)
			putenv((char *)env_extra);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t n = 0;
	ssize_t k;

	while (out && n + 1 < outn && (k = read(pfd[0], out + n, outn - 1 - n)) > 0)
		n += (size_t)k;
	if (out)
		out[n] = 0;
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---------------------------------------------------- every entry point */

/* Each interposed name resolves, for this program, to the layer. */
START_TEST(every_entry_point)
{
	static const char *const names[] = {
		"open", "open64", "openat", "openat64", "__open_2", "__open64_2", "__openat_2",
		"__openat64_2", "fopen", "fopen64", "close", "ioctl", "dup", "dup2", "dup3", "fcntl",
		"fcntl64", "read", "write", "pread", "pread64", "pwrite", "pwrite64", "__read_chk",
		"__pread_chk", "__pread64_chk", "mmap", "mmap64", "lseek", "lseek64", "stat", "stat64",
		"lstat", "lstat64", "fstatat", "fstatat64", "__xstat", "__xstat64", "__lxstat",
		"__lxstat64", "__fxstatat", "__fxstatat64", "statx", "access", "faccessat", "readlink",
		"readlinkat", "__readlink_chk", "__readlinkat_chk", "realpath", "__realpath_chk",
		"canonicalize_file_name", "opendir",
	};
	Dl_info info;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *p = dlsym(RTLD_DEFAULT, names[i]);

		ck_assert_msg(p && dladdr(p, &info) && info.dli_fname &&
			      strstr(info.dli_fname, "libspaprtce-preload.so"), "%s is not the layer's", names[i]);
	}
	/* The aliases behave as their plain names (on LP64 they are the same functions). */
	int (*o64_2)(const char *, int) = (int (*)(const char *, int))dlsym(RTLD_DEFAULT, "__open64_2");
	int (*oat64)(int, const char *, int, ...) = (int (*)(int, const char *, int, ...))dlsym(RTLD_DEFAULT, "openat64");
	int c = o64_2("/dev/vfio/vfio", O_RDWR), g = oat64(AT_FDCWD, "/dev/vfio/1", O_RDWR), d;
	char buf[8];

	ck_assert_int_ge(c, 0);
	ck_assert_int_ge(g, 0);
	d = fcntl64(c, F_DUPFD, 50);
	ck_assert_int_ge(d, 50);
	ck_assert_int_eq(ioctl(d, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU), 1);
	ERR(lseek64(g, 0, SEEK_CUR), ESPIPE);
	ck_assert_ptr_eq(mmap64(NULL, PS, PROT_READ, MAP_SHARED, g, 0), MAP_FAILED);
	ck_assert_int_eq(errno, ENODEV);
	ERR(__pread64_chk(g, buf, 8, 0, sizeof(buf)), EINVAL);
	OK(close(c));
	OK(close(g));
	ck_assert_int_eq(ioctl(d, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU), 1);
	OK(close(d));
	struct stat st;

	OK(lstat64("/sys/bus/pci/devices/0000:00:01.0", (struct stat64 *)&st));
	ck_assert(S_ISLNK(st.st_mode));
	OK(fstatat64(AT_FDCWD, "/dev/vfio/vfio", (struct stat64 *)&st, 0));
	ck_assert(S_ISCHR(st.st_mode));
	FILE *f = fopen64("/sys/module/vfio_pci/parameters/nointxmask", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fgetc(f), 'N');
	fclose(f);
}
END_TEST

/* ---------------------------------------------------- the generated tree */

START_TEST(tree_dev_vfio)
{
	struct stat st;
	DIR *d = opendir("/dev/vfio");
	struct dirent *e;
	unsigned seen = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (!strcmp(e->d_name, "vfio"))
			seen |= 1u << 8;
		else
			seen |= 1u << atoi(e->d_name);
	}
	closedir(d);
	ck_assert_uint_eq(seen, (1u << 8) | 0xf);	/* vfio, 0 ... 3 and nothing else */
	OK(stat("/dev/vfio/vfio", &st));
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(major(st.st_rdev), 10);
	ck_assert_uint_eq(minor(st.st_rdev), 196);
	OK(stat64("/dev/vfio/2", (struct stat64 *)&st));
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(minor(st.st_rdev), 2);
	OK(__xstat(1, "/dev/vfio/3", &st));
	ck_assert(S_ISCHR(st.st_mode));
	ERR(stat("/dev/vfio/4", &st), ENOENT);
	ERR(access("/dev/vfio/9", F_OK), ENOENT);
	OK(access("/dev//vfio/./vfio", R_OK | W_OK));
	OK(faccessat(AT_FDCWD, "/dev/vfio/0", F_OK, 0));
	OK(stat("/dev/vfio/", &st));
	ck_assert(S_ISDIR(st.st_mode));
}
END_TEST

START_TEST(tree_modules)
{
	struct stat st;
	struct statx sx;

	OK(stat("/sys/module/vfio", &st));
	ck_assert(S_ISDIR(st.st_mode));
	OK(lstat("/sys/module/vfio_pci/parameters", &st));
	ck_assert(S_ISDIR(st.st_mode));
	OK(statx(AT_FDCWD, "/sys/module/vfio_iommu_spapr_tce", 0, STATX_MODE, &sx));
	ck_assert(S_ISDIR(sx.stx_mode));
	OK(statx(AT_FDCWD, "/dev/vfio/vfio", 0, STATX_MODE, &sx));
	ck_assert(S_ISCHR(sx.stx_mode));
	ck_assert_str_eq(slurp("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"), "N\n");
	OK(fstatat(AT_FDCWD, "/sys/module/vfio_pci/parameters/enable_sriov", &st, 0));
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

START_TEST(tree_devices)
{
	char buf[PATH_MAX], path[128], want[32];
	struct emu_dev_info info;
	struct stat st;

	/* Every group holds a dma-engine: 4 KiB BAR0, 64 KiB 64-bit prefetchable BAR2, 4 KiB BAR4. */
	OK(emu_dev_info(0, &info));
	ck_assert_uint_eq(info.bar_size[0], 0x1000);
	ck_assert_uint_eq(info.bar_size[1], 0);
	ck_assert_uint_eq(info.bar_size[2], 0x10000);
	ck_assert_uint_eq(info.bar_flags[2], EMU_DEV_INFO_BAR_MEM64 | EMU_DEV_INFO_BAR_PREFETCH | EMU_DEV_INFO_BAR_RAM);
	ck_assert_uint_eq(info.bar_size[4], 0x1000);

	for (int g = 0; g < 4; g++) {
		char bdf[16], *rp;

		snprintf(bdf, sizeof(bdf), "0000:00:%02x.0", g + 1);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
		ssize_t n = readlink(path, buf, sizeof(buf) - 1);

		ck_assert_int_gt(n, 0);
		buf[n] = 0;
		snprintf(path, sizeof(path), "../../../kernel/iommu_groups/%d", g);
		ck_assert_str_eq(buf, path);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
		rp = realpath(path, NULL);
		snprintf(buf, sizeof(buf), "/sys/devices/pci0000:00/%s", bdf);
		ck_assert_str_eq(rp, buf);
		free(rp);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
		rp = realpath(path, buf);
		ck_assert_str_eq(rp, "/sys/bus/pci/drivers/vfio-pci");
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/subsystem", bdf);
		rp = canonicalize_file_name(path);
		ck_assert_str_eq(rp, "/sys/bus/pci");
		free(rp);
		snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices/%s", g, bdf);
		OK(stat(path, &st));
		ck_assert(S_ISDIR(st.st_mode));
		OK(__lxstat(1, path, &st));
		ck_assert(S_ISLNK(st.st_mode));
		/* The identity is the library's device (emu_dev_info): the dma-engine. */
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", bdf);
		ck_assert_str_eq(slurp(path), "0x1234\n");
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/subsystem_vendor", bdf);
		snprintf(want, sizeof(want), "0x%04x\n", info.subsystem_vendor);
		ck_assert_str_eq(slurp(path), want);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/subsystem_device", bdf);
		snprintf(want, sizeof(want), "0x%04x\n", info.subsystem_device);
		ck_assert_str_eq(slurp(path), want);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/revision", bdf);
		snprintf(want, sizeof(want), "0x%02x\n", info.revision);
		ck_assert_str_eq(slurp(path), want);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/numa_node", bdf);
		ck_assert_str_eq(slurp(path), "0\n");
		/*
		 * resource: 13 lines "start end flags"; the dma-engine's BAR0
		 * (4 KiB, 32-bit), BAR2 (64 KiB, 64-bit prefetchable), BAR4 (4 KiB),
		 * each naturally aligned; the rest (BAR1, BAR3 the upper halves,
		 * BAR5, ROM, SR-IOV) empty.
		 */
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
		char *res = slurp(path), *line = res;

		for (int i = 0; i < 13; i++) {
			unsigned long long start, end, flags, size = i < 6 ? info.bar_size[i] : 0;

			ck_assert_int_eq(sscanf(line, "0x%llx 0x%llx 0x%llx", &start, &end, &flags), 3);
			if (size) {
				ck_assert_uint_eq(end - start + 1, size);
				ck_assert_uint_eq(start & (size - 1), 0);
				ck_assert_uint_eq(flags & 0x200, 0x200);	/* IORESOURCE_MEM */
				ck_assert_uint_eq(!!(flags & 0x100000), !!(info.bar_flags[i] & EMU_DEV_INFO_BAR_MEM64));
				ck_assert_uint_eq(!!(flags & 0x2000), !!(info.bar_flags[i] & EMU_DEV_INFO_BAR_PREFETCH));
				if (!(info.bar_flags[i] & EMU_DEV_INFO_BAR_MEM64))
					ck_assert_uint_lt(end, 1ull << 32);
			} else {
				ck_assert(start == 0 && end == 0 && flags == 0);
			}
			line = strchr(line, '\n') + 1;
		}
		ck_assert_str_eq(line, "");
	}
	/* The same through open/read, openat relative to a directory of the tree, readlinkat. */
	int d = open("/sys/bus/pci/devices/0000:00:01.0", O_RDONLY | O_DIRECTORY);

	ck_assert_int_ge(d, 0);
	int f = openat(d, "class", O_RDONLY);

	ck_assert_int_ge(f, 0);
	ck_assert_int_eq(read(f, buf, sizeof(buf)), 9);
	ck_assert_int_eq(memcmp(buf, "0x088000\n", 9), 0);
	close(f);
	ck_assert_int_eq(readlinkat(d, "driver", buf, sizeof(buf)), 33);
	ck_assert_int_eq(memcmp(buf, "../../../bus/pci/drivers/vfio-pci", 33), 0);
	close(d);
	ck_assert_int_eq(__readlink_chk("/sys/bus/pci/devices/0000:00:04.0/iommu_group", buf, 64, sizeof(buf)), 30);
	f = __open_2("/sys/bus/pci/devices/0000:00:02.0/device", O_RDONLY);
	ck_assert_int_ge(f, 0);
	ck_assert_int_eq(__read_chk(f, buf, 7, sizeof(buf)), 7);
	ck_assert_int_eq(memcmp(buf, "0x5054\n", 7), 0);
	close(f);
	/* A BDF the machine does not have is not redirected. */
	ck_assert_int_ne(access("/sys/bus/pci/devices/0000:00:05.0/iommu_group", F_OK), 0);
	/* The host's real /dev and /sys stay as they are. */
	ck_assert_int_ne(access("/sys/kernel/iommu_groups/../../../dev/vfio", F_OK), 1);
}
END_TEST

START_TEST(passthrough)
{
	char tmpl[] = "/tmp/check_dropin-XXXXXX", buf[64];
	int fd = mkstemp(tmpl), fd2, fd3;
	struct stat st, st2;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "abcdefgh", 8), 8);
	ck_assert_int_eq(pwrite64(fd, "XY", 2, 2), 2);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(read(fd, buf, 8), 8);
	ck_assert_int_eq(memcmp(buf, "abXYefgh", 8), 0);
	ck_assert_int_eq(pread64(fd, buf, 3, 5), 3);
	ck_assert_int_eq(__pread_chk(fd, buf, 3, 5, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "fgh", 3), 0);
	char *m = mmap(NULL, 8, PROT_READ, MAP_SHARED, fd, 0);

	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(m[3], 'Y');
	munmap(m, 8);
	fd2 = dup(fd);
	fd3 = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	ck_assert_int_ge(fd3, 100);
	ck_assert_int_eq(dup3(fd, fd3, 0), fd3);
	ck_assert_int_eq(dup2(fd, fd2), fd2);
	OK(fstat(fd2, &st));
	OK(stat(tmpl, &st2));
	ck_assert_uint_eq(st.st_ino, st2.st_ino);
	ck_assert_int_eq(readlink("/proc/self/exe", buf, sizeof(buf)) > 0, 1);
	int avail = -1;

	OK(ioctl(fd, FIONREAD, &avail));	/* a regular file: the real ioctl */
	ck_assert_int_eq(avail, 0);
	OK(close(fd2));
	OK(close(fd3));
	OK(close(fd));
	ERR(close(fd), EBADF);
	unlink(tmpl);
	ck_assert_ptr_nonnull(opendir("/proc/self/fd"));
	ERR(open("/dev/vfio_nothing", O_RDONLY), ENOENT);
}
END_TEST

/* ------------------------------------------------------------- requests */

START_TEST(dpdk_sequence)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	struct vfio_iommu_spapr_tce_remove rm = { .argsz = sizeof(rm), .start_addr = 0 };
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 12, .window_size = 1ull << 24, .levels = 1,
	};
	int c = open("/dev/vfio/vfio", O_RDWR), g;
	size_t n = 64 * PS;
	char *mem = anon(n), buf[PS];

	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(ioctl(c, VFIO_GET_API_VERSION), VFIO_API_VERSION);
	ck_assert_int_eq(ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU), 0);
	ck_assert_int_eq(ioctl(c, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU), 1);
	ck_assert_int_eq(ioctl(c, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU), 0);
	g = open64("/dev/vfio/0", O_RDWR);
	ck_assert_int_ge(g, 0);
	OK(ioctl(g, VFIO_GROUP_GET_STATUS, &gs));
	ck_assert_uint_eq(gs.flags, VFIO_GROUP_FLAGS_VIABLE);
	OK(ioctl(g, VFIO_GROUP_SET_CONTAINER, &c));
	ERR(ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU), ENODEV);	/* no driver claims it */
	OK(ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU));
	OK(ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info));
	ck_assert_uint_eq(info.dma32_window_size, 0x80000000u);
	OK(ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	OK(ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	ck_assert_uint_eq(cr.start_addr, 0);
	uint64_t table = spapr_mm_locked_vm();		/* the window's table is charged */

	for (size_t off = 0; off < n; off += PS) {	/* --no-huge: one REGISTER + MAP per 4 KiB */
		OK(reg(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, mem + off, PS));
		OK(map(c, mem + off, off, PS));
	}
	ck_assert_uint_eq(spapr_mm_locked_vm(), table + 64);
	/* The emulated device (same machine as /dev/vfio) writes at DPDK's IOVA. */
	memset(buf, 0x5a, sizeof(buf));
	OK(emu_dma_write(0, 3 * PS + 100, buf, 200));
	ck_assert_int_eq(mem[3 * PS + 100], 0x5a);
	ck_assert_int_eq(mem[3 * PS + 299], 0x5a);
	ck_assert_int_eq(mem[3 * PS + 300], 0);
	/*
	 * DPDK 22.11's vfio_spapr_dma_do_map unmaps with a type1 *map* struct:
	 * the backend reads iova = the vaddr field (0 here) and size = the iova
	 * field.  The range asked for stays mapped; UNREGISTER then fails.
	 */
	struct vfio_iommu_type1_dma_map bad = {
		.argsz = sizeof(struct vfio_iommu_type1_dma_unmap), .iova = 5 * PS, .size = PS,
	};

	OK(ioctl(c, VFIO_IOMMU_UNMAP_DMA, &bad));	/* unmaps [0, 5 pages) instead */
	ck_assert_int_eq(bad.iova, 5 * PS);
	OK(emu_dma_read(0, 5 * PS, buf, 8));		/* still mapped */
	ck_assert_int_eq(emu_dma_read(0, 4 * PS, buf, 8), -EFAULT);	/* what got unmapped */
	ERR(reg(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, mem + 5 * PS, PS), EBUSY);
	OK(reg(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, mem + 4 * PS, PS));
	OK(unmap(c, 5 * PS, n - 5 * PS));
	OK(close(g));
	OK(close(c));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	munmap(mem, n);
}
END_TEST

START_TEST(dup_counting)
{
	int c, g, g2, g3, g4;
	void *mem = anon(4 * PS);

	c = open_v2(1, &g);
	OK(reg(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, mem, 4 * PS));
	g2 = dup(g);
	g3 = fcntl(g, F_DUPFD_CLOEXEC, 200);
	ck_assert_int_ge(g3, 200);
	ck_assert_int_eq(fcntl(g3, F_GETFD), FD_CLOEXEC);
	g4 = dup3(g, 300, O_CLOEXEC);
	ck_assert_int_eq(g4, 300);
	OK(close(g));					/* the library's own descriptor, dups remain */
	ERR(open("/dev/vfio/1", O_RDWR), EBUSY);	/* still open */
	struct vfio_group_status gs = { .argsz = sizeof(gs) };

	OK(ioctl(g2, VFIO_GROUP_GET_STATUS, &gs));
	ck_assert_uint_eq(gs.flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	OK(close(g2));
	OK(close(g4));
	OK(ioctl(g3, VFIO_GROUP_GET_STATUS, &gs));
	OK(close(g3));					/* the last: the group is free again */
	/* The group's last close detached it, the container's last group: its IOMMU went (the kernel's release). */
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	g = open("/dev/vfio/1", O_RDWR);
	ck_assert_int_ge(g, 0);
	OK(ioctl(g, VFIO_GROUP_SET_CONTAINER, &c));
	OK(ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU));
	OK(reg(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, mem, 4 * PS));
	/* The container's descriptors go; the attached group keeps it (and its memory). */
	int c2 = dup(c);

	OK(close(c));
	ck_assert_int_eq(ioctl(c2, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU), 1);
	OK(close(c2));
	ERR(close(c2), EBADF);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 4);
	/* dup2 onto one of ours closes it first, as the kernel does: here the group's last descriptor. */
	int other = open("/dev/vfio/vfio", O_RDWR);

	ck_assert_int_eq(dup2(other, g), g);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);	/* group released, container with it */
	ck_assert_int_eq(ioctl(g, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU), 1);	/* g: a container now */
	g2 = open("/dev/vfio/1", O_RDWR);
	ck_assert_int_ge(g2, 0);
	OK(close(g2));
	OK(close(other));
	OK(close(g));
	munmap(mem, 4 * PS);
}
END_TEST

START_TEST(direct_library_calls)
{
	struct vfio_iommu_spapr_register_memory r = { .argsz = sizeof(r), .size = 4 * PS };
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.iova = 0, .size = 4 * PS,
	};
	void *mem = anon(4 * PS);
	int g, c = open_v2(1, &g);

	ck_assert_int_eq(spapr_ioctl(c, VFIO_GET_API_VERSION), VFIO_API_VERSION);
	ck_assert_int_eq(spapr_ioctl(c, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU), 1);
	r.vaddr = m.vaddr = (uintptr_t)mem;
	OK(spapr_ioctl(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r));
	OK(spapr_ioctl(c, VFIO_IOMMU_MAP_DMA, &m));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 4 + 2048);	/* the pages, the default window's table */
	/* The handle was not lost: the layer's path still reaches it. */
	OK(unmap(c, 0, 4 * PS));
	OK(reg(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, mem, 4 * PS));
	OK(close(g));
	OK(close(c));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	munmap(mem, 4 * PS);
}
END_TEST

START_TEST(bad_input)
{
	int c, g, pfd[2];
	char tmpl[] = "/tmp/check_dropin-XXXXXX";
	int file = mkstemp(tmpl), bad, x = 0;
	char buf[16];

	unlink(tmpl);
	ERR(open("/dev/vfio/9", O_RDWR), ENOENT);
	ERR(open("/dev/vfio/00", O_RDWR), ENOENT);
	c = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	ck_assert_int_eq(fcntl(c, F_GETFD), FD_CLOEXEC);
	OK(ioctl(c, FIONCLEX));				/* answered for every file by the kernel */
	ck_assert_int_eq(fcntl(c, F_GETFD), 0);
	g = open("/dev/vfio/2", O_RDWR);
	ERR(ioctl(c, _IO(VFIO_TYPE, VFIO_BASE + 40), NULL), EINVAL);	/* no IOMMU set yet */
	ERR(ioctl(g, VFIO_IOMMU_MAP_DMA, NULL), ENOTTY);
	ERR(ioctl(g, VFIO_GROUP_SET_CONTAINER, &file), EBADFD);	/* an open file, not a container */
	bad = 999;
	ERR(ioctl(g, VFIO_GROUP_SET_CONTAINER, &bad), EBADF);	/* not open */
	ERR(ioctl(g, VFIO_GROUP_SET_CONTAINER, &g), EBADFD);	/* a group */
	ERR(ioctl(g, VFIO_GROUP_SET_CONTAINER, (void *)8), EFAULT);
	/* No such device in the group: fails (ENODEV from the device code; ENOTTY before it exists). */
	ck_assert_int_eq(ioctl(g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:09.0"), -1);
	/* What a container or group answers to read, write, mmap, lseek. */
	ERR(read(c, buf, 8), EINVAL);
	ERR(write(g, buf, 8), EINVAL);
	ERR(pread(c, buf, 8, 0), EINVAL);
	ERR(pwrite64(g, buf, 8, 0), EINVAL);
	ck_assert_ptr_eq(mmap(NULL, PS, PROT_READ, MAP_SHARED, c, 0), MAP_FAILED);
	ck_assert_int_eq(errno, ENODEV);
	ERR(lseek(g, 0, SEEK_SET), ESPIPE);
	/* A pipe's ioctl and close pass through. */
	OK(pipe(pfd));
	OK(ioctl(pfd[0], FIONREAD, &x));
	ck_assert_int_eq(x, 0);
	OK(close(pfd[0]));
	OK(close(pfd[1]));
	OK(close(file));
	OK(close(g));
	OK(close(c));
	ERR(ioctl(c, VFIO_GET_API_VERSION), EBADF);
}
END_TEST

/* ----------------------------------------------------- threads and fork */

static void *thread_main(void *arg)
{
	int grp = (int)(intptr_t)arg, g, c = open_v2(grp, &g);
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 12, .window_size = 1ull << 24, .levels = 1,
	};
	char *mem = anon(16 * PS);

	OK(ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	OK(reg(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, mem, 16 * PS));
	for (int i = 0; i < 300; i++) {
		int d = dup(c);

		OK(map(d, mem + (i % 16) * PS, cr.start_addr + (i % 16) * PS, PS));
		OK(emu_dma_write(grp, cr.start_addr + (i % 16) * PS, &i, 1));
		ck_assert_int_eq(mem[(i % 16) * PS], (char)i);
		OK(unmap(c, cr.start_addr + (i % 16) * PS, PS));
		OK(close(d));
		int f = open("/sys/bus/pci/devices/0000:00:01.0/vendor", O_RDONLY);

		ck_assert_int_ge(f, 0);
		OK(close(f));
	}
	OK(close(g));
	OK(close(c));
	munmap(mem, 16 * PS);
	return NULL;
}

START_TEST(threads)
{
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		OK(pthread_create(&t[i], NULL, thread_main, (void *)(intptr_t)i));
	for (int i = 0; i < 4; i++)
		OK(pthread_join(t[i], NULL));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
}
END_TEST

START_TEST(fork_child)
{
	int g, c = open_v2(3, &g), st;
	char *mem = anon(2 * PS);
	pid_t pid;

	OK(reg(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, mem, PS));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		struct stat sb;
		int ok = 1;

		/* The container is bound to the parent's mm: EPERM, as the kernel says. */
		errno = 0;
		ok &= reg(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, mem + PS, PS) == -1 && errno == EPERM;
		ok &= ioctl(c, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU) == 1;
		ok &= stat("/dev/vfio/vfio", &sb) == 0 && S_ISCHR(sb.st_mode);	/* the parent's tree */
		ok &= close(g) == 0 && close(c) == 0;	/* the child's copies only */
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(st, 0);
	/* The parent's files are intact, and so is its tree. */
	ck_assert_uint_eq(spapr_mm_locked_vm(), 1);
	OK(reg(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, mem + PS, PS));
	OK(access("/sys/bus/pci/devices/0000:00:04.0/iommu_group", F_OK));
	OK(close(g));
	OK(close(c));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
}
END_TEST

/*
 * fork() while another thread is inside the layer's hooks (a dup and close
 * of a handle: the handle table's lock; an lseek on a device fd: the file
 * position's lock): every child uses both and exits within 5 s.  Without
 * dropin/fork.c a child that forked while the other thread held one of
 * them would block for ever.
 */
static volatile int forks_done;

static void *fork_hammer(void *arg)
{
	int c = ((int *)arg)[0], d = ((int *)arg)[1];

	while (!__atomic_load_n(&forks_done, __ATOMIC_RELAXED)) {
		int k = dup(c);

		ck_assert_int_ge(k, 0);
		OK(close(k));
		ck_assert_int_eq(lseek(d, 0x10, SEEK_SET), 0x10);
	}
	return NULL;
}

START_TEST(fork_while_hooks_run)
{
	int g, c = open_v2(2, &g), d = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:03.0"), fds[2];
	pthread_t t;

	ck_assert_int_ge(d, 0);
	fds[0] = c;
	fds[1] = d;
	OK(pthread_create(&t, NULL, fork_hammer, fds));
	for (int i = 0; i < 200; i++) {
		pid_t pid = fork(), w;
		int st = 0, waited;

		/* The child calls no Check function: the thread may hold Check's own mutex. */
		if (!pid) {
			int k = dup(c);

			_exit(k >= 0 && close(k) == 0 && lseek(d, 0, SEEK_SET) == 0 ? 0 : 1);
		}
		ck_assert_int_ge(pid, 0);
		for (waited = 0; (w = waitpid(pid, &st, WNOHANG)) == 0 && waited < 5000; waited++)
			usleep(1000);
		if (!w)
			kill(pid, SIGKILL), waitpid(pid, &st, 0);
		ck_assert_msg(w == pid, "child %d of 200 hung in the layer after fork", i);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status 0x%x", i, st);
	}
	__atomic_store_n(&forks_done, 1, __ATOMIC_RELAXED);
	OK(pthread_join(t, NULL));
	OK(close(d));
	OK(close(g));
	OK(close(c));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
}
END_TEST

/* ---------------------------------------------------------- log and trace */

START_TEST(log_and_trace)
{
	char logp[] = "/tmp/check_dropin-log-XXXXXX", trp[] = "/tmp/check_dropin-trace-XXXXXX";
	char *text, out[4096];
	int lf = mkstemp(logp), tf = mkstemp(trp);

	close(lf);
	close(tf);
	/* Nothing of VFIO has run in this (forked) test process yet: the layer reads these now. */
	setenv("SPAPRTCE_LOG", logp, 1);
	setenv("SPAPRTCE_TRACE", trp, 1);
	{
		int g, c = open_v2(0, &g), d;
		char *mem = anon(4 * PS);
		struct vfio_iommu_spapr_tce_create cr = {
			.argsz = sizeof(cr), .page_shift = 12, .window_size = 1ull << 24, .levels = 1,
		};
		struct vfio_iommu_type1_dma_map bad = {
			.argsz = sizeof(struct vfio_iommu_type1_dma_unmap), .iova = PS, .size = PS,
		};

		ERR(open("/dev/vfio/7", O_RDWR), ENOENT);
		OK(ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
		OK(reg(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, mem, 4 * PS));
		OK(map(c, mem + PS, cr.start_addr + PS, PS));
		OK(ioctl(c, VFIO_IOMMU_UNMAP_DMA, &bad));
		ERR(reg(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, mem, 4 * PS), EBUSY);
		/* An argument crossing a page end is logged whole (QEMU's can be). */
		struct vfio_iommu_spapr_tce_create *x = (void *)(mem + 2 * PS - 16);	/* 16 bytes in one page, 24 in the next */

		memset(x, 0, sizeof(*x));
		x->argsz = sizeof(*x);
		x->page_shift = 16;
		x->window_size = 1ull << 28;
		x->levels = 2;
		ERR(ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, x), ENOSPC);	/* both slots are taken */
		d = dup(c);
		OK(close(c));
		OK(close(g));
		OK(close(d));
	}
	/* A program closing every descriptor does not close the log (nor the trace). */
	int logfd = -1;

	for (int fd = 900; fd < 1100 && logfd < 0; fd++) {
		char link[64], target[PATH_MAX];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0 && (target[n] = 0, !strcmp(target, logp)))
			logfd = fd;
	}
	ck_assert_int_ge(logfd, 900);
	OK(close(logfd));
	ERR(open("/dev/vfio/8", O_RDWR), ENOENT);
	text = slurp(logp);
	ck_assert_ptr_nonnull(strstr(text, "open(\"/dev/vfio/8\") = -1 ENOENT\n"));
	ck_assert_ptr_nonnull(strstr(text, "open(\"/dev/vfio/vfio\") = "));
	ck_assert_ptr_nonnull(strstr(text, " container#1\n"));
	ck_assert_ptr_nonnull(strstr(text, "open(\"/dev/vfio/7\") = -1 ENOENT\n"));
	ck_assert_ptr_nonnull(strstr(text, "VFIO_SET_IOMMU 7) = 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "VFIO_IOMMU_SPAPR_TCE_CREATE argsz 40 flags 0x0 page_shift 12 "
					   "window_size 0x1000000 levels 1) = 0 -> start_addr 0x800000000000000\n"));
	ck_assert_ptr_nonnull(strstr(text, "VFIO_IOMMU_UNMAP_DMA argsz 24 flags 0x0 iova 0x0 size 0x1000) = 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "VFIO_IOMMU_SPAPR_TCE_CREATE argsz 40 flags 0x0 page_shift 16 "
					   "window_size 0x10000000 levels 2) = -1 ENOSPC\n"));
	ck_assert_ptr_nonnull(strstr(text, "VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY argsz 24 flags 0x0 vaddr 0x"));
	ck_assert_ptr_nonnull(strstr(text, "size 0x4000) = -1 EBUSY\n"));
	ck_assert_ptr_nonnull(strstr(text, "(container#1 still open through another descriptor)\n"));
	ck_assert_ptr_nonnull(strstr(text, "released; locked_vm 0 pages\n"));
	/* The trace replays PASS, in a process without the layer. */
	char spaprtce[PATH_MAX + 16];

	snprintf(spaprtce, sizeof(spaprtce), "%s/spaprtce", build_dir);
	char *argv[] = { spaprtce, "replay", trp, NULL };
	int rc = run(argv, NULL, false, out, sizeof(out));

	ck_assert_msg(rc == 0, "replay exit %d: %s\ntrace:\n%s", rc, out, slurp(trp));
	ck_assert_ptr_nonnull(strstr(out, ": PASS\n"));
	text = slurp(trp);
	ck_assert_ptr_nonnull(strstr(text, "group gfail1 7 => ENOENT\n"));
	ck_assert_ptr_nonnull(strstr(text, "unregister c1 m0+0x"));
	ck_assert_ptr_nonnull(strstr(text, " 0x4000 argsz=24 flags=0x0 => EBUSY\n"));
	unlink(logp);
	unlink(trp);
}
END_TEST

/*
 * Record mode: SPAPRTCE_REAL=1 forwards to the real kernel; the test hook
 * SPAPRTCE_REAL_STANDIN puts a stand-in there (the emulator behind its own
 * calls).  Nothing is redirected; the trace replays PASS.
 */
START_TEST(record_mode)
{
	char trp[] = "/tmp/check_dropin-real-XXXXXX", logp[] = "/tmp/check_dropin-rlog-XXXXXX";
	char standin[PATH_MAX + 32], spaprtce[PATH_MAX + 16], out[4096], *text;
	int tf = mkstemp(trp), lf = mkstemp(logp), g, c;
	struct stat st;
	long raw;

	close(tf);
	close(lf);
	snprintf(standin, sizeof(standin), "%s/tests/libdropin-standin.so", build_dir);
	setenv("SPAPRTCE_REAL", "1", 1);
	setenv("SPAPRTCE_REAL_STANDIN", standin, 1);
	setenv("SPAPRTCE_TRACE", trp, 1);
	setenv("SPAPRTCE_LOG", logp, 1);
	c = open_v2(0, &g);
	/* No tree: a path answers as the host's (the raw system call bypasses the layer). */
	raw = syscall(SYS_newfstatat, AT_FDCWD, "/sys/module/vfio_pci", &st, 0);
	ck_assert_int_eq(stat("/sys/module/vfio_pci", &st), raw == 0 ? 0 : -1);
	char *mem = anon(8 * PS), *two = anon(2 * PS);
	struct vfio_iommu_spapr_tce_remove rm = { .argsz = sizeof(rm), .start_addr = 0 };
	/* The request straddles two pages: the log and the trace read it whole. */
	struct vfio_iommu_spapr_tce_create *cr = (void *)(two + PS - 16);

	*cr = (struct vfio_iommu_spapr_tce_create){
		.argsz = sizeof(*cr), .page_shift = 12, .window_size = 1ull << 24, .levels = 1,
	};
	OK(ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	OK(ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, cr));
	ck_assert_uint_eq(cr->start_addr, 0);
	OK(reg(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, mem, 8 * PS));
	OK(map(c, mem + PS, PS, 2 * PS));
	ERR(map(c, mem + PS, 1ull << 30, PS), ENXIO);	/* outside the window */
	ERR(reg(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, mem, 8 * PS), EBUSY);
	OK(unmap(c, PS, 2 * PS));
	OK(reg(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, mem, 8 * PS));
	OK(close(g));
	OK(close(c));
	text = slurp(logp);
	ck_assert_ptr_nonnull(strstr(text, "VFIO_IOMMU_MAP_DMA argsz 32 flags 0x3 vaddr 0x"));
	ck_assert_ptr_nonnull(strstr(text, "iova 0x40000000 size 0x1000) = -1 ENXIO\n"));
	ck_assert_ptr_nonnull(strstr(text, "window_size 0x1000000 levels 1"));
	ck_assert_ptr_nonnull(strstr(text, ") = 0 released\n"));
	snprintf(spaprtce, sizeof(spaprtce), "%s/spaprtce", build_dir);
	char *argv[] = { spaprtce, "replay", trp, NULL };
	int rc = run(argv, NULL, false, out, sizeof(out));

	ck_assert_msg(rc == 0, "replay exit %d: %s\ntrace:\n%s", rc, out, slurp(trp));
	ck_assert_ptr_nonnull(strstr(out, ": PASS\n"));
	munmap(mem, 8 * PS);
	munmap(two, 2 * PS);
	unlink(trp);
	unlink(logp);
}
END_TEST

/* ---------------------------------------------------------- spaprtce exec */

/*
 * The programs run under `spaprtce exec` are this suite itself in a helper
 * mode (helper_main), so that they are instrumented like the layer in a
 * sanitizer build.
 */
START_TEST(exec_command)
{
	char spaprtce[PATH_MAX + 16], self[PATH_MAX + 32], out[4096];

	snprintf(spaprtce, sizeof(spaprtce), "%s/spaprtce", build_dir);
	snprintf(self, sizeof(self), "%s/tests/check_dropin", build_dir);
	{
		char *argv[] = { spaprtce, "exec", "--machine", "groups=2", "--", self, "--ls", "/dev/vfio", NULL };

		ck_assert_int_eq(run(argv, NULL, false, out, sizeof(out)), 0);
		ck_assert_str_eq(out, "0\n1\nvfio\n");
	}
	{
		char *argv[] = { spaprtce, "exec", "--", self, "--exit", "7", NULL };

		ck_assert_int_eq(run(argv, NULL, false, NULL, 0), 7);
	}
	{
		char *argv[] = { spaprtce, "exec", "--", "/nonexistent/prog", NULL };

		ck_assert_int_eq(run(argv, NULL, false, NULL, 0), 127);
	}
	{
		char *argv[] = { spaprtce, "exec", "--machine", "groups=3", "--list", NULL };

		ck_assert_int_eq(run(argv, NULL, false, out, sizeof(out)), 0);
		ck_assert_ptr_nonnull(strstr(out, "    2  0000:00:03.0  1234:5054      0x088000"));
		ck_assert_ptr_null(strstr(out, "0000:00:04.0"));
	}
	{
		/* A group without a device: its node and its iommu_groups entry, no device in it. */
		char *argv[] = { spaprtce, "exec", "--machine", "groups=3,dev1=none", "--", self, "--ls",
				 "/sys/kernel/iommu_groups/1/devices", NULL };

		ck_assert_int_eq(run(argv, NULL, false, out, sizeof(out)), 0);
		ck_assert_str_eq(out, "");
		argv[7] = "/dev/vfio";
		ck_assert_int_eq(run(argv, NULL, false, out, sizeof(out)), 0);
		ck_assert_str_eq(out, "0\n1\n2\nvfio\n");
		argv[7] = "/sys/kernel/iommu_groups/2/devices";
		ck_assert_int_eq(run(argv, NULL, false, out, sizeof(out)), 0);
		ck_assert_str_eq(out, "0000:00:03.0\n");
	}
	{
		/* The list follows the device models: a virtio-rng, an empty group. */
		char *argv[] = { spaprtce, "exec", "--machine", "groups=3,dev1=none,dev2=virtio-rng", "--list", NULL };

		ck_assert_int_eq(run(argv, NULL, false, out, sizeof(out)), 0);
		ck_assert_ptr_nonnull(strstr(out, "    0  0000:00:01.0  1234:5054"));
		ck_assert_ptr_null(strstr(out, "0000:00:02.0"));
		ck_assert_ptr_nonnull(strstr(out, "    2  0000:00:03.0  1af4:1044      0xff0000"));
	}
	{
		char *argv[] = { spaprtce, "exec", "--help", NULL };

		ck_assert_int_eq(run(argv, NULL, false, out, sizeof(out)), 0);
		ck_assert_ptr_nonnull(strstr(out, "usage: spaprtce exec"));
	}
	{	/* another process's lookups: readlink in the exec'd program */
		char *argv[] = { spaprtce, "exec", "--", self, "--readlink",
				 "/sys/bus/pci/devices/0000:00:02.0/iommu_group", NULL };

		ck_assert_int_eq(run(argv, NULL, false, out, sizeof(out)), 0);
		ck_assert_str_eq(out, "../../../kernel/iommu_groups/1\n");
	}
	{	/* SPAPRTCE_EEH_CTL: "freeze 1" written to the FIFO freezes group 1's PE (docs/eeh.md) */
		char fifo[64], env[96];
		char *argv[] = { spaprtce, "exec", "--", self, "--eeh-freeze", "1", NULL };

		snprintf(fifo, sizeof(fifo), "/tmp/check_dropin_eeh.%d", (int)getpid());
		snprintf(env, sizeof(env), "SPAPRTCE_EEH_CTL=%s", fifo);
		ck_assert_int_eq(run(argv, env, false, out, sizeof(out)), 0);
		ck_assert_str_eq(out, "state 2\n");
		unlink(fifo);
	}
}
END_TEST

/*
 * SPAPRTCE_STATS=FILE: the process's exit writes the layer's request counts
 * and what the emulated hardware saw (dropin/stats.c), faults last.
 */
START_TEST(stats_at_exit)
{
	char spaprtce[PATH_MAX + 16], self[PATH_MAX + 32], env[64], stp[] = "/tmp/check_dropin-stats-XXXXXX";
	char *text;
	int sf = mkstemp(stp);

	close(sf);
	unlink(stp);	/* the layer creates it */
	snprintf(spaprtce, sizeof(spaprtce), "%s/spaprtce", build_dir);
	snprintf(self, sizeof(self), "%s/tests/check_dropin", build_dir);
	snprintf(env, sizeof(env), "SPAPRTCE_STATS=%s", stp);
	{
		char *argv[] = { spaprtce, "exec", "--machine", "groups=2", "--", self, "--dma-and-exit", NULL };

		ck_assert_int_eq(run(argv, env, false, NULL, 0), 0);
	}
	text = slurp(stp);
	ck_assert_str_eq(text,
		"spaprtce-stats requests map_dma 1 (bytes 8192, failed 1) unmap_dma 1 (bytes 4096, failed 0) "
		"tce_create 1 tce_remove 0 register 1 unregister 0\n"
		/* the default window materialised by the first MAP; kills: the MAP's 2 pages, the UNMAP's 1 */
		"spaprtce-stats group 0 dev 0000:00:01.0 model dma-engine windows 2 dma_reads 1 (bytes 64) "
		"dma_writes 0 (bytes 0) kills 2 (pages 3) faults 1 overflow 0\n"
		/* EEH never enabled: the fault froze nothing (docs/eeh.md) */
		"spaprtce-stats group 0 eeh enabled 0 state 0 freezes dma_fault 0 injected 0 external 0 recoveries 0\n"
		"spaprtce-stats group 0 window 0 bus 0x0 entries 524288 page_shift 12 levels 1\n"
		"spaprtce-stats group 0 window 1 bus 0x800000000000000 entries 4096 page_shift 12 levels 1\n"
		"spaprtce-stats group 0 fault seq 1 iova 0x800000000001000 tce 0x0 access read reason \"no translation\"\n"
		"spaprtce-stats group 1 dev 0000:00:02.0 model dma-engine windows 0 dma_reads 0 (bytes 0) "
		"dma_writes 0 (bytes 0) kills 0 (pages 0) faults 0 overflow 0\n"
		"spaprtce-stats group 1 eeh enabled 0 state 0 freezes dma_fault 0 injected 0 external 0 recoveries 0\n"
		"spaprtce-stats faults 1\n");
	unlink(stp);
	/* not set: nothing written */
	{
		char *argv[] = { spaprtce, "exec", "--", self, "--dma-and-exit", NULL };

		ck_assert_int_eq(run(argv, NULL, false, NULL, 0), 0);
		ck_assert_int_eq(access(stp, F_OK), -1);
	}
}
END_TEST

/* ---------------------------------------------------------------- main */

static Suite *dropin_suite(void)
{
	Suite *s = suite_create("dropin");
	TCase *t = tcase_create("tree");

	tcase_set_timeout(t, 60);	/* the first lookup starts the machine: slow on a loaded host */

	tcase_add_test(t, every_entry_point);
	tcase_add_test(t, tree_dev_vfio);
	tcase_add_test(t, tree_modules);
	tcase_add_test(t, tree_devices);
	tcase_add_test(t, passthrough);
	suite_add_tcase(s, t);
	t = tcase_create("requests");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, dpdk_sequence);
	tcase_add_test(t, dup_counting);
	tcase_add_test(t, bad_input);
	tcase_add_test(t, threads);
	tcase_add_test(t, fork_child);
	tcase_add_test(t, fork_while_hooks_run);
	tcase_add_test(t, log_and_trace);
	tcase_add_test(t, record_mode);
	tcase_add_test(t, exec_command);
	tcase_add_test(t, stats_at_exit);
	tcase_add_test(t, direct_library_calls);
	suite_add_tcase(s, t);
	return s;
}

/*
 * Re-executes the suite with the layer preloaded (once: the layer's
 * presence is checked by its ioctl symbol coming from it).  Under ASan the
 * runtime must come first in the library list; the layer is still
 * preloaded, after it.
 */
static void ensure_preloaded(char **argv)
{
	char exe[PATH_MAX], layer[PATH_MAX + 32], *pre;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	Dl_info info;

	if (n <= 0)
		abort();
	exe[n] = 0;
	*strrchr(exe, '/') = 0;			/* build/tests */
	*strrchr(exe, '/') = 0;			/* build */
	snprintf(build_dir, sizeof(build_dir), "%s", exe);
	if (dladdr((void *)dlsym(RTLD_DEFAULT, "ioctl"), &info) && info.dli_fname &&
	    strstr(info.dli_fname, "libspaprtce-preload.so"))
		return;
	if (getenv("CHECK_DROPIN_REEXEC")) {
		fprintf(stderr, "check_dropin: the layer is not preloaded after re-exec\n");
		exit(1);
	}
	snprintf(layer, sizeof(layer), "%s/libspaprtce-preload.so", build_dir);
	if (asprintf(&pre, "%s", layer) < 0)
		abort();
	setenv("LD_PRELOAD", pre, 1);
	setenv("CHECK_DROPIN_REEXEC", "1", 1);
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
	execv("/proc/self/exe", argv);
	perror("check_dropin: re-exec");
	exit(1);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Helper mode for stats_at_exit: a container with a 16 MiB window at 1<<59,
 * two pages mapped (a MAP outside every window fails), one unmapped; the DMA engine
 * of group 0 copies 64 bytes from the mapped page into its buffer, then is
 * pointed at the unmapped one (a fault).  Exits without closing anything, as
 * QEMU does.  0, or the step that failed.
 */
static int dma_and_exit(void)
{
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 12, .window_size = 1ull << 24, .levels = 1,
	};
	struct vfio_iommu_spapr_register_memory r = { .argsz = sizeof(r) };
	uint16_t cmd = 0x6;	/* memory space, bus master */
	uint64_t v;
	uint32_t dir = EMU_DMAE_DIR_MEM_TO_LOCAL, len = 64, go = EMU_DMAE_DOORBELL_GO;
	int c = open("/dev/vfio/vfio", O_RDWR), g = open("/dev/vfio/0", O_RDWR), d;
	char *mem = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (c < 0 || g < 0 || mem == MAP_FAILED || ioctl(g, VFIO_GROUP_SET_CONTAINER, &c) ||
	    ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU))
		return 10;
	r.vaddr = (uintptr_t)mem;
	r.size = 4 * PS;
	if (ioctl(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r) || ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr))
		return 11;
	if (map(c, mem, cr.start_addr, 2 * PS) || !map(c, mem, 1ull << 40, PS) ||
	    unmap(c, cr.start_addr + PS, PS))
		return 12;
	d = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:01.0");
	if (d < 0 || pwrite(d, &cmd, 2, (off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40 | 4) != 2)
		return 13;
	v = cr.start_addr;
	if (pwrite(d, &v, 8, EMU_DMAE_SRC) != 8 || pwrite(d, &dir, 4, EMU_DMAE_DIR) != 4 ||
	    pwrite(d, &len, 4, EMU_DMAE_LEN) != 4 || pwrite(d, &go, 4, EMU_DMAE_DOORBELL) != 4)
		return 14;
	v = cr.start_addr + PS;		/* unmapped since: no translation */
	if (pwrite(d, &v, 8, EMU_DMAE_SRC) != 8 || pwrite(d, &go, 4, EMU_DMAE_DOORBELL) != 4)
		return 15;
	return 0;
}

/* The helper modes: what `ls -1 DIR`, `readlink PATH` and `exit N` do, through libc. */
static int helper_main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--exit"))
		return atoi(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--eeh-freeze")) {
		/* the layer starts on the first path it sees; then the FIFO exists */
		int c = open("/dev/vfio/vfio", O_RDWR), f, state = 0;
		char line[32];

		f = open(getenv("SPAPRTCE_EEH_CTL"), O_WRONLY);
		if (c < 0 || f < 0)
			return 1;
		snprintf(line, sizeof(line), "freeze %s\n", argv[2]);
		if (write(f, line, strlen(line)) != (ssize_t)strlen(line))
			return 1;
		for (int i = 0; i < 2000 && state != EMU_PE_STATE_STOPPED; i++) {
			state = emu_pe_get_state(atoi(argv[2]));
			usleep(1000);
		}
		printf("state %d\n", state);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--readlink")) {
		char buf[PATH_MAX];
		ssize_t n = readlink(argv[2], buf, sizeof(buf) - 1);

		if (n < 0)
			return 1;
		printf("%.*s\n", (int)n, buf);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--dma-and-exit"))
		return dma_and_exit();
	if (argc == 3 && !strcmp(argv[1], "--ls")) {
		char *names[64];
		int n = 0;
		DIR *d = opendir(argv[2]);
		struct dirent *e;

		if (!d)
			return 1;
		while ((e = readdir(d)) && n < 64)
			if (e->d_name[0] != '.')
				names[n++] = strdup(e->d_name);
		closedir(d);
		qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
		for (int i = 0; i < n; i++) {
			printf("%s\n", names[i]);
			free(names[i]);
		}
		return 0;
	}
	return 2;
}

int main(int argc, char **argv)
{
	SRunner *r;
	int failed;

	if (argc > 1)
		return helper_main(argc, argv);
	ensure_preloaded(argv);
	unsetenv("SPAPRTCE_MACHINE");
	r = srunner_create(dropin_suite());
	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
