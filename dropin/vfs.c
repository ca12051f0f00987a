/* SPDX-License-Identifier: MIT */
/*
 * The generated VFIO filesystem.
 *
 * A program finds VFIO through files: /dev/vfio/ (the container node and
 * one node per group), /sys/module/vfio* (is the module loaded, its
 * parameters), /sys/kernel/iommu_groups/ and each device's sysfs directory
 * (iommu_group, driver, the identity files).  Rather than answer each libc
 * call with made-up results, the layer writes that tree once, as real
 * directories, files and relative symlinks, into a private directory
 * (spaprtce-<pid>-XXXXXX in $TMPDIR, else in /dev/shm when it is a
 * writable tmpfs, else in /tmp), and redirects the paths below to it.
 * Memory first: on a disk /tmp the hundred-odd creations and removals go
 * through the filesystem's journal, which cost 0.15 s of wall clock per
 * process on a busy machine (0.02 s on tmpfs), more than DPDK's 16,384
 * registrations gained from anything else.  Every libc function then behaves on them as on any file: stat,
 * readlink, realpath, opendir/readdir, openat relative to a directory
 * descriptor opened there.  The host's /dev and /sys are never written.
 *
 * Redirected (the whole subtree of each):
 *   /dev/vfio
 *   /sys/module/vfio, /sys/module/vfio_pci, /sys/module/vfio_iommu_spapr_tce
 *   /sys/kernel/iommu_groups
 *   /sys/bus/pci/devices/<BDF> and /sys/devices/pci<DDDD:BB>/<BDF> for the
 *     machine's devices only (the host's other PCI devices stay visible)
 *   /sys/bus/pci/drivers/vfio-pci
 * Paths are matched after collapsing repeated slashes and "/./"; relative
 * paths (other than through a directory descriptor of the tree) and ".."
 * components are not redirected.
 *
 * The tree is built by the first redirected lookup of a process (the
 * machine is started then), and removed at exit by the process that built
 * it; a forked child shares its parent's tree.  Trees left by processes
 * that were killed are removed by the next build in the same directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "dropin/dropin.h"
#include "emu/emu.h"

pthread_mutex_t dropin__tree_lock = PTHREAD_MUTEX_INITIALIZER;	/* fork: dropin/fork.c */
static char tree_root[256];
static int tree_state;		/* 0 not built, 1 built, -1 failed */
static pid_t tree_owner;	/* the process that made the directory (0: none): removes it */
static struct dropin_pci_dev tree_devs[EMU_MAX_GROUPS];
static int tree_ndevs;

const char *dropin__tree_root(void)
{
	return __atomic_load_n(&tree_state, __ATOMIC_ACQUIRE) == 1 ? tree_root : NULL;
}

/* --------------------------------------------------------------- building */

static int put_dir(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", tree_root, rel);
	if (mkdir(p, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* mkdir -p for every directory of @rel (a path below the root). */
static int put_dirs(const char *rel)
{
	char buf[512];
	int rc;

	snprintf(buf, sizeof(buf), "%s", rel);
	for (char *s = buf; (s = strchr(s, '/')); s++) {
		*s = 0;
		rc = put_dir(buf);
		*s = '/';
		if (rc)
			return rc;
	}
	return put_dir(buf);
}

static int put_file(const char *rel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put_file(const char *rel, const char *fmt, ...)
{
	char p[512], text[1024];
	va_list ap;
	int fd, n;

	snprintf(p, sizeof(p), "%s/%s", tree_root, rel);
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fd = dropin_real.open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (dropin_real.write(fd, text, (size_t)n) != n) {
		dropin_real.close(fd);
		return -EIO;
	}
	dropin_real.close(fd);
	return 0;
}

static int put_link(const char *rel, const char *target)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", tree_root, rel);
	if (symlink(target, p) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Group @g's node and its directory under /sys/kernel/iommu_groups (devices/ filled by put_device). */
static int put_group(int g)
{
	char rel[128];
	int rc;

	snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%d/devices", g);
	rc = put_dirs(rel);
	snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%d/type", g);
	if (!rc)
		rc = put_file(rel, "DMA\n");
	snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%d/reserved_regions", g);
	if (!rc)
		rc = put_file(rel, "%s", "");
	snprintf(rel, sizeof(rel), "dev/vfio/%d", g);
	if (!rc)
		rc = put_file(rel, "%s", "");
	return rc;
}

/* The kernel's resource flags of a memory BAR (IORESOURCE_MEM | SIZEALIGN, MEM_64, PREFETCH + the BAR's low bits). */
#define RES_MEM 0x00040200ull
#define RES_MEM64 0x00100004ull
#define RES_PREFETCH 0x00002008ull

/*
 * The resource file: "start end flags" for the six BARs, the ROM and the
 * six SR-IOV BARs, as pci's resource_show prints them.  The BARs are the
 * device fd's regions: nothing is mapped at these addresses, which are
 * where a host bridge's allocator could have put them (each BAR naturally
 * aligned, 32-bit BARs below 4 GiB, a window of each per group), so that a
 * program that sizes BARs from sysfs finds the sizes its device fd reports.
 */
static int put_resource(const char *dir, const struct dropin_pci_dev *d)
{
	char rel[256], text[13 * 60], *t = text;
	uint64_t next32 = 0x80000000ull + ((uint64_t)(d->group & 0x3f) << 24);
	uint64_t next64 = 0x600000000000ull + ((uint64_t)d->group << 32);

	for (unsigned i = 0; i < 13; i++) {
		uint64_t size = i < DROPIN_PCI_BARS ? d->bar_size[i] : 0, start = 0, flags = 0;

		if (size) {
			unsigned bf = d->bar_flags[i];
			uint64_t *next = bf & EMU_DEV_INFO_BAR_MEM64 ? &next64 : &next32;

			start = (*next + size - 1) & ~(size - 1);
			*next = start + size;
			flags = RES_MEM | (bf & EMU_DEV_INFO_BAR_MEM64 ? RES_MEM64 : 0) |
				(bf & EMU_DEV_INFO_BAR_PREFETCH ? RES_PREFETCH : 0);
		}
		t += sprintf(t, "0x%016llx 0x%016llx 0x%016llx\n", (unsigned long long)start,
			     (unsigned long long)(size ? start + size - 1 : 0), (unsigned long long)flags);
	}
	snprintf(rel, sizeof(rel), "%s/resource", dir);
	return put_file(rel, "%s", text);
}

static int put_device(const struct dropin_pci_dev *d)
{
	char dir[128], rel[256], target[256];
	int rc = 0;

	snprintf(dir, sizeof(dir), "sys/devices/pci0000:%.2s/%s", d->bdf + 5, d->bdf);
	rc = put_dirs(dir);
#define FILE_(name, ...)                                                    \
	do {                                                                \
		snprintf(rel, sizeof(rel), "%s/" name, dir);                \
		if (!rc)                                                    \
			rc = put_file(rel, __VA_ARGS__);                    \
	} while (0)
#define LINK_(name, ...)                                                    \
	do {                                                                \
		snprintf(rel, sizeof(rel), "%s/" name, dir);                \
		snprintf(target, sizeof(target), __VA_ARGS__);              \
		if (!rc)                                                    \
			rc = put_link(rel, target);                         \
	} while (0)
	FILE_("vendor", "0x%04x\n", d->vendor);
	FILE_("device", "0x%04x\n", d->device);
	FILE_("class", "0x%06x\n", d->class_code);
	FILE_("subsystem_vendor", "0x%04x\n", d->subsystem_vendor);
	FILE_("subsystem_device", "0x%04x\n", d->subsystem_device);
	FILE_("numa_node", "%d\n", d->numa_node);
	FILE_("irq", "0\n");
	FILE_("enable", "1\n");
	FILE_("uevent", "DRIVER=vfio-pci\nPCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\n"
	      "PCI_SLOT_NAME=%s\n", d->class_code, d->vendor, d->device, d->subsystem_vendor,
	      d->subsystem_device, d->bdf);
	FILE_("revision", "0x%02x\n", d->revision);
	if (!rc)
		rc = put_resource(dir, d);
	LINK_("iommu_group", "../../../kernel/iommu_groups/%d", d->group);
	LINK_("driver", "../../../bus/pci/drivers/vfio-pci");
	LINK_("subsystem", "../../../bus/pci");
	snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%d/devices/%s", d->group, d->bdf);
	snprintf(target, sizeof(target), "../../../../%s", dir + 4);
	if (!rc)
		rc = put_link(rel, target);
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s", d->bdf);
	snprintf(target, sizeof(target), "../../../%s", dir + 4);
	if (!rc)
		rc = put_link(rel, target);
	snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/vfio-pci/%s", d->bdf);
	snprintf(target, sizeof(target), "../../../../%s", dir + 4);
	if (!rc)
		rc = put_link(rel, target);
#undef FILE_
#undef LINK_
	return rc;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

static void tree_remove(void)
{
	if (tree_owner && tree_owner == getpid()) {
		dropin__enter();
		nftw(tree_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		dropin__leave();
	}
}

__attribute__((destructor)) static void tree_fini(void)
{
	tree_remove();
}

/* Removes the trees of processes that died without their destructor (killed). */
static void remove_stale_trees(const char *tmp)
{
	DIR *d = dropin_real.opendir(tmp);
	struct dirent *e;
	char root[sizeof(tree_root)];
	int pid;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (sscanf(e->d_name, "spaprtce-%d-", &pid) != 1 || pid <= 0 || pid == getpid() ||
		    !kill(pid, 0) || errno != ESRCH)
			continue;
		if ((size_t)snprintf(root, sizeof(root), "%s/%s", tmp, e->d_name) < sizeof(root))
			nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	closedir(d);
}

/* Where the tree goes: $TMPDIR, else /dev/shm if it is a tmpfs we may write, else /tmp. */
static const char *tree_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	struct statfs sf;

	if (tmp && *tmp && strlen(tmp) <= 128)
		return tmp;
	if (!statfs("/dev/shm", &sf) && (uint32_t)sf.f_type == 0x01021994u /* TMPFS_MAGIC */ &&
	    !dropin_real.access("/dev/shm", W_OK | X_OK))
		return "/dev/shm";
	return "/tmp";
}

static int tree_build(void)
{
	const char *tmp;
	struct emu_machine_config c;
	int rc = 0;

	dropin__resolve();
	tmp = tree_dir();
	remove_stale_trees(tmp);
	snprintf(tree_root, sizeof(tree_root), "%s/spaprtce-%d-XXXXXX", tmp, (int)getpid());
	if (!mkdtemp(tree_root))
		return -errno;
	/* realpath() answers are mapped back by removing this prefix: make it canonical. */
	{
		char canon[PATH_MAX];

		if (dropin_real.realpath(tree_root, canon) && strlen(canon) < sizeof(tree_root))
			strcpy(tree_root, canon);
	}
	tree_owner = getpid();
	rc = emu_machine_get_config(&c);
	if (rc)
		goto remove_tree;
	rc = dropin_machine_devices(tree_devs, EMU_MAX_GROUPS);
	if (rc < 0)
		goto remove_tree;
	tree_ndevs = rc;
	rc = 0;
	static const char *const dirs[] = {
		"dev/vfio", "sys/module/vfio/parameters", "sys/module/vfio_pci/parameters",
		"sys/module/vfio_iommu_spapr_tce", "sys/kernel/iommu_groups", "sys/bus/pci/devices",
		"sys/bus/pci/drivers/vfio-pci",
	};
	for (size_t i = 0; !rc && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		rc = put_dirs(dirs[i]);
	if (!rc)
		rc = put_file("dev/vfio/vfio", "%s", "");
	if (!rc)
		rc = put_file("sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "N\n");
	if (!rc)
		rc = put_file("sys/module/vfio/initstate", "live\n");
	if (!rc)
		rc = put_file("sys/module/vfio_pci/initstate", "live\n");
	if (!rc)
		rc = put_file("sys/module/vfio_iommu_spapr_tce/initstate", "live\n");
	static const char *const pci_params[] = {
		"disable_denylist", "disable_idle_d3", "disable_vga", "enable_sriov", "nointxmask",
	};
	for (size_t i = 0; !rc && i < sizeof(pci_params) / sizeof(pci_params[0]); i++) {
		char rel[128];

		snprintf(rel, sizeof(rel), "sys/module/vfio_pci/parameters/%s", pci_params[i]);
		rc = put_file(rel, "N\n");
	}
	for (unsigned g = 0; !rc && g < c.groups; g++)
		rc = put_group((int)g);
	for (int i = 0; !rc && i < tree_ndevs; i++)
		rc = put_device(&tree_devs[i]);
	if (rc)
		goto remove_tree;
	return 0;
remove_tree:
	tree_remove();
	tree_owner = 0;
	return rc;
}

static bool tree_ready(void)
{
	int st = __atomic_load_n(&tree_state, __ATOMIC_ACQUIRE);

	if (st)
		return st == 1;
	pthread_mutex_lock(&dropin__tree_lock);
	if (!tree_state) {
		int rc;

		dropin__enter();
		rc = tree_build();
		dropin__leave();
		if (rc) {
			char msg[160];
			int n = snprintf(msg, sizeof(msg),
					 "libspaprtce-preload: cannot build the VFIO tree: %s\n", strerror(-rc));

			dropin_real.write(2, msg, (size_t)n);
		}
		__atomic_store_n(&tree_state, rc ? -1 : 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&dropin__tree_lock);
	return tree_state == 1;
}

/* -------------------------------------------------------------- matching */

/* Copies @path collapsing "//" and "/./" and dropping a trailing "/" or "/.". */
static bool normalise(const char *path, char *out, size_t n)
{
	size_t o = 0;

	for (const char *s = path; *s; s++) {
		if (*s == '/' && o && out[o - 1] == '/')
			continue;
		if (*s == '.' && o && out[o - 1] == '/' && (s[1] == '/' || !s[1]))
			continue;
		if (o + 1 >= n)
			return false;
		out[o++] = *s;
	}
	while (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = 0;
	return true;
}

/* @p equals @prefix or continues it with '/'; returns the length matched or 0. */
static size_t under(const char *p, const char *prefix)
{
	size_t l = strlen(prefix);

	return !strncmp(p, prefix, l) && (p[l] == '/' || !p[l]) ? l : 0;
}

static const char *const fixed[] = {
	"/dev/vfio", "/sys/module/vfio", "/sys/module/vfio_pci",
	"/sys/module/vfio_iommu_spapr_tce", "/sys/kernel/iommu_groups",
	"/sys/bus/pci/drivers/vfio-pci",
};

static bool pci_dir(const char *p)
{
	return !strncmp(p, "/sys/bus/pci/devices/", 21) || !strncmp(p, "/sys/devices/pci", 16);
}

/* @p may be redirected (decided without the machine: no tree is built). */
static bool candidate(const char *p)
{
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (under(p, fixed[i]))
			return true;
	return pci_dir(p);
}

/* @p is redirected: a fixed prefix, or one of the machine's devices. */
static bool redirected(const char *p)
{
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (under(p, fixed[i]))
			return true;
	if (pci_dir(p)) {
		if (!tree_ready())
			return false;
		for (int i = 0; i < tree_ndevs; i++) {
			const char *bdf = tree_devs[i].bdf;
			char dev[96];

			snprintf(dev, sizeof(dev), "/sys/bus/pci/devices/%s", bdf);
			if (under(p, dev))
				return true;
			snprintf(dev, sizeof(dev), "/sys/devices/pci0000:%.2s/%s", bdf + 5, bdf);
			if (under(p, dev))
				return true;
		}
	}
	return false;
}

bool dropin__redirect(const char *path, char *buf, size_t n)
{
	char p[4096];

	if (!path || path[0] != '/' || (strncmp(path, "/dev/", 5) && strncmp(path, "/sys/", 5)))
		return false;
	if (!normalise(path, p, sizeof(p)) || !candidate(p))
		return false;
	if (dropin__backend()->real)
		return false;	/* record mode: the program meets the real files */
	if (!redirected(p) || !tree_ready())
		return false;
	return (size_t)snprintf(buf, n, "%s%s", tree_root, p) < n;
}

int dropin__vfio_node(const char *path, int *group)
{
	char p[256];
	const char *s;
	char *end;
	long g;

	if (!path || strncmp(path, "/dev/", 5) || !normalise(path, p, sizeof(p)))
		return 0;
	if (strncmp(p, "/dev/vfio/", 10))
		return 0;
	s = p + 10;
	if (!strcmp(s, "vfio"))
		return 1;
	if (*s < '0' || *s > '9' || (*s == '0' && s[1]))
		return 0;	/* the kernel's node names have no leading zero */
	errno = 0;
	g = strtol(s, &end, 10);
	if (*end || errno || g > 0x7fffffff)
		return 0;
	*group = (int)g;
	return 2;
}

bool dropin__node_stat(const char *path, mode_t *mode, dev_t *rdev)
{
	int g = 0;

	switch (dropin__vfio_node(path, &g)) {
	case 1:		/* misc device 10:196, as the kernel's vfio module registers it */
		*mode = S_IFCHR | 0666;
		*rdev = makedev(10, 196);
		return true;
	case 2:		/* a group node: the vfio char region, minor = group */
		*mode = S_IFCHR | 0600;
		*rdev = makedev(243, (unsigned)g);
		return true;
	}
	return false;
}
