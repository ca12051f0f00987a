/* SPDX-License-Identifier: MIT */
/*
 * The virtio models (emu/dev_virtio*.c) driven through their device fds by
 * this program acting as the driver: it finds the virtio capabilities in
 * config space, negotiates VERSION_1 and ACCESS_PLATFORM, sets up a split
 * virtqueue in registered, TCE-mapped memory, kicks, and reads the used
 * ring, with INTx and MSI-X.  virtio-rng fills buffers; virtio-blk reads
 * and writes a host file.  A ring entry without a TCE is a fault the device
 * reports as DEVICE_NEEDS_RESET and the fault log records.
 *
 * Fixture: machine with dev0=virtio-rng, dev1=virtio-blk:file=<a 1 MiB
 * temporary file>, dev2=virtio-rng:platform=0, dev3=virtio-rng:seed=SEED
 * (a deterministic stream); container C (v2) with groups
 * 0 and 1; device fds R (rng) and B (blk); 16 pages of driver memory at bus
 * address IOVA (ring of each device, then buffers).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu/dev.h"
#include "emu/dev_virtio.h"
#include "emu/dev_virtio_priv.h"
#include "emu/emu.h"
#include "emu/mem.h"
#include "spapr/spapr.h"
#include "tests/device_util.h"
#include "tests/testutil.h"
#include "tests/vfio_util.h"

#define PS EMU_PAGE_SIZE
#define BAR TDEV_REG(EMU_VIRTIO_BAR)
#define IOVA 0x200000ull
#define PAGES 16u
#define QSIZE 8u
#define DISK (1u << 20)
#define SEED 0x5eedull

static int C, G0, G1, R, B;
static uint8_t *mem;
static char disk[64];

/* --------------------------------------------------------------- access */

static uint64_t rd(int fd, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	ck_assert_int_eq(spapr_pread(fd, &v, size, (off_t)off), size);
	return v;
}

static void wr(int fd, uint64_t off, unsigned size, uint64_t v)
{
	ck_assert_int_eq(spapr_pwrite(fd, &v, size, (off_t)off), size);
}

/* The driver's view of one device: its ring at page @page of mem. */
struct drv {
	int fd;
	unsigned page;		/* desc table; avail at +1 page, used at +2 */
	uint16_t avail_idx, used_seen;
};

static uint8_t *desc_p(struct drv *v, unsigned i) { return mem + v->page * PS + 16 * i; }
static uint8_t *avail_p(struct drv *v) { return mem + (v->page + 1) * PS; }
static uint8_t *used_p(struct drv *v) { return mem + (v->page + 2) * PS; }
static uint64_t iova_of(const void *p) { return IOVA + (uint64_t)((const uint8_t *)p - mem); }

static void setup(void)
{
	int fd;

	snprintf(disk, sizeof(disk), "/tmp/spaprtce-disk-XXXXXX");
	fd = mkstemp(disk);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, DISK), 0);
	close(fd);
	{
		char spec[96];

		snprintf(spec, sizeof(spec), "virtio-blk:file=%s", disk);
		TU_OK(emu_dev_configure(0, "virtio-rng"));
		TU_OK(emu_dev_configure(1, spec));
		TU_OK(emu_dev_configure(2, "virtio-rng:platform=0"));
		TU_OK(emu_dev_configure(3, "virtio-rng:seed=0x5eed"));
	}
	TU_OK(spapr_mm_set_memlock(16ull << 30, 0));
	C = tu_open_v2(0, &G0);
	G1 = spapr_open_group(1);
	ck_assert_int_ge(G1, 0);
	TU_OK(tu_attach(G1, C));
	R = tdev_get(G0, "0000:00:01.0");
	B = tdev_get(G1, "0000:00:02.0");
	ck_assert_int_ge(R, 0);
	ck_assert_int_ge(B, 0);
	mem = tu_map(PAGES);
	memset(mem, 0, PAGES * PS);
	TU_OK(tu_register(C, mem, PAGES * PS));
	TU_OK(tu_map_dma(C, mem, IOVA, PAGES * PS, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
}

static void teardown(void)
{
	TU_OK(tu_unmap_dma(C, IOVA, PAGES * PS));
	TU_OK(tu_unregister(C, mem, PAGES * PS));
	tu_unmap(mem, PAGES);
	TU_OK(spapr_close(R));
	TU_OK(spapr_close(B));
	TU_OK(spapr_close(G0));
	TU_OK(spapr_close(G1));
	TU_OK(spapr_close(C));
	unlink(disk);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_assert_emu_clean();
	TU_OK(emu_machine_check());
}

/* ---------------------------------------------------------------- driver */

/* Walks the capability list: each virtio cap type 1-4 at the documented place. */
static void check_caps(int fd)
{
	static const uint32_t where[5] = { 0, EMU_VIRTIO_COMMON, EMU_VIRTIO_NOTIFY, EMU_VIRTIO_ISR,
					   EMU_VIRTIO_DEVICE };
	unsigned seen = 0, msix = 0;

	ck_assert_uint_eq(rd(fd, TDEV_CFG + EMU_PCI_STATUS, 2) & EMU_PCI_STATUS_CAP_LIST, EMU_PCI_STATUS_CAP_LIST);
	for (unsigned p = (unsigned)rd(fd, TDEV_CFG + EMU_PCI_CAPABILITY_LIST, 1); p; p = (unsigned)rd(fd, TDEV_CFG + p + 1, 1)) {
		unsigned id = (unsigned)rd(fd, TDEV_CFG + p, 1), type;

		if (id == EMU_PCI_CAP_ID_MSIX) {
			msix++;
			ck_assert_uint_eq(rd(fd, TDEV_CFG + p + 2, 2), EMU_VIRTIO_VECTORS - 1);
			ck_assert_uint_eq(rd(fd, TDEV_CFG + p + 4, 4), EMU_VIRTIO_MSIX_BAR);
			continue;
		}
		ck_assert_uint_eq(id, EMU_PCI_CAP_ID_VNDR);
		type = (unsigned)rd(fd, TDEV_CFG + p + 3, 1);
		ck_assert(type >= 1 && type <= 4);
		ck_assert_uint_eq(rd(fd, TDEV_CFG + p + 4, 1), EMU_VIRTIO_BAR);
		ck_assert_uint_eq(rd(fd, TDEV_CFG + p + 8, 4), where[type]);
		if (type == 2)
			ck_assert_uint_eq(rd(fd, TDEV_CFG + p + 16, 4), EMU_VIRTIO_NOTIFY_MULT);
		seen |= 1u << type;
	}
	ck_assert_uint_eq(seen, 0x1e);
	ck_assert_uint_eq(msix, 1);
}

/* Device features (64 bits). */
static uint64_t features(int fd)
{
	wr(fd, BAR + EMU_VIRTIO_DFSELECT, 4, 0);
	uint64_t lo = rd(fd, BAR + EMU_VIRTIO_DF, 4);

	wr(fd, BAR + EMU_VIRTIO_DFSELECT, 4, 1);
	return lo | rd(fd, BAR + EMU_VIRTIO_DF, 4) << 32;
}

/* Reset, negotiate @feat; returns the status read back after FEATURES_OK. */
static uint8_t negotiate(int fd, uint64_t feat)
{
	wr(fd, TDEV_CFG + EMU_PCI_COMMAND, 2, EMU_PCI_COMMAND_MEMORY | EMU_PCI_COMMAND_MASTER);
	wr(fd, BAR + EMU_VIRTIO_STATUS, 1, 0);
	ck_assert_uint_eq(rd(fd, BAR + EMU_VIRTIO_STATUS, 1), 0);
	wr(fd, BAR + EMU_VIRTIO_STATUS, 1, EMU_VIRTIO_S_ACKNOWLEDGE);
	wr(fd, BAR + EMU_VIRTIO_STATUS, 1, EMU_VIRTIO_S_ACKNOWLEDGE | EMU_VIRTIO_S_DRIVER);
	wr(fd, BAR + EMU_VIRTIO_GFSELECT, 4, 0);
	wr(fd, BAR + EMU_VIRTIO_GF, 4, (uint32_t)feat);
	wr(fd, BAR + EMU_VIRTIO_GFSELECT, 4, 1);
	wr(fd, BAR + EMU_VIRTIO_GF, 4, (uint32_t)(feat >> 32));
	wr(fd, BAR + EMU_VIRTIO_STATUS, 1, EMU_VIRTIO_S_ACKNOWLEDGE | EMU_VIRTIO_S_DRIVER |
						   EMU_VIRTIO_S_FEATURES_OK);
	return (uint8_t)rd(fd, BAR + EMU_VIRTIO_STATUS, 1);
}

static void queue_setup(struct drv *v, uint16_t vector)
{
	wr(v->fd, BAR + EMU_VIRTIO_Q_SELECT, 2, 0);
	ck_assert_uint_eq(rd(v->fd, BAR + EMU_VIRTIO_Q_SIZE, 2), EMU_VIRTIO_QUEUE_MAX);
	ck_assert_uint_eq(rd(v->fd, BAR + EMU_VIRTIO_NUM_QUEUES, 2), 1);
	wr(v->fd, BAR + EMU_VIRTIO_Q_SIZE, 2, QSIZE);
	wr(v->fd, BAR + EMU_VIRTIO_Q_DESC, 4, (uint32_t)iova_of(desc_p(v, 0)));
	wr(v->fd, BAR + EMU_VIRTIO_Q_DESC + 4, 4, (uint32_t)(iova_of(desc_p(v, 0)) >> 32));
	wr(v->fd, BAR + EMU_VIRTIO_Q_AVAIL, 8, iova_of(avail_p(v)));
	wr(v->fd, BAR + EMU_VIRTIO_Q_USED, 8, iova_of(used_p(v)));
	wr(v->fd, BAR + EMU_VIRTIO_Q_MSIX, 2, vector);
	wr(v->fd, BAR + EMU_VIRTIO_Q_ENABLE, 2, 1);
	ck_assert_uint_eq(rd(v->fd, BAR + EMU_VIRTIO_Q_SIZE, 2), QSIZE);
	ck_assert_uint_eq(rd(v->fd, BAR + EMU_VIRTIO_Q_USED, 8), iova_of(used_p(v)));
	wr(v->fd, BAR + EMU_VIRTIO_STATUS, 1, EMU_VIRTIO_S_ACKNOWLEDGE | EMU_VIRTIO_S_DRIVER |
						   EMU_VIRTIO_S_FEATURES_OK | EMU_VIRTIO_S_DRIVER_OK);
}

static void driver_up(struct drv *v, int fd, unsigned page, uint16_t vector)
{
	uint64_t need = 1ull << EMU_VIRTIO_F_VERSION_1 | 1ull << EMU_VIRTIO_F_ACCESS_PLATFORM;

	v->fd = fd;
	v->page = page;
	v->avail_idx = v->used_seen = 0;
	check_caps(fd);
	ck_assert_uint_eq(features(fd) & need, need);
	ck_assert_uint_eq(negotiate(fd, need) & EMU_VIRTIO_S_FEATURES_OK, EMU_VIRTIO_S_FEATURES_OK);
	queue_setup(v, vector);
}

static void put_desc(struct drv *v, unsigned i, const void *buf, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = desc_p(v, i);
	uint64_t a = iova_of(buf);

	memcpy(d, &a, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Makes chain @head available and kicks. */
static void kick(struct drv *v, uint16_t head)
{
	uint8_t *a = avail_p(v);

	memcpy(a + 4 + 2 * (v->avail_idx % QSIZE), &head, 2);
	v->avail_idx++;
	__atomic_store_n((uint16_t *)(a + 2), v->avail_idx, __ATOMIC_RELEASE);
	wr(v->fd, BAR + EMU_VIRTIO_NOTIFY, 2, 0);
}

/* The next used element; asserts there is one. */
static void used(struct drv *v, uint32_t *id, uint32_t *len)
{
	uint8_t *u = used_p(v);
	uint16_t idx = __atomic_load_n((uint16_t *)(u + 2), __ATOMIC_ACQUIRE);

	ck_assert_uint_eq(idx, (uint16_t)(v->used_seen + 1));
	memcpy(id, u + 4 + 8 * (v->used_seen % QSIZE), 4);
	memcpy(len, u + 8 + 8 * (v->used_seen % QSIZE), 4);
	v->used_seen++;
}

static unsigned faults(int group)
{
	struct emu_fault f[8];
	unsigned n;

	TU_OK(emu_fault_log_read(group, f, 8, &n));
	return n;
}

/* ------------------------------------------------------------------ rng */

START_TEST(t_rng_intx)
{
	struct drv v;
	uint8_t *buf = mem + 8 * PS;
	uint32_t id, len;
	int efd = eventfd(0, EFD_NONBLOCK);
	struct vfio_device_info info = { .argsz = sizeof(info) };
	unsigned nz = 0;

	TU_OK(tu_ioctl(R, VFIO_DEVICE_GET_INFO, &info));
	ck_assert_uint_eq(rd(R, TDEV_CFG, 4), EMU_VIRTIO_VENDOR | (0x1040u + EMU_VIRTIO_ID_RNG) << 16);
	TU_OK(tdev_irqs_fd(R, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, efd));
	driver_up(&v, R, 0, EMU_VIRTIO_NO_VECTOR);
	put_desc(&v, 3, buf, 128, EMU_VRING_DESC_F_WRITE, 0);
	kick(&v, 3);
	used(&v, &id, &len);
	ck_assert_uint_eq(id, 3);
	ck_assert_uint_eq(len, 128);
	for (unsigned i = 0; i < 128; i++)
		nz += buf[i] != 0;
	ck_assert_uint_gt(nz, 64);		/* random bytes, not zeros */
	ck_assert_uint_eq(buf[128], 0);		/* nothing past the buffer */
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	ck_assert_uint_eq(rd(R, BAR + EMU_VIRTIO_ISR, 1), 1);	/* read acknowledges */
	ck_assert_uint_eq(rd(R, BAR + EMU_VIRTIO_ISR, 1), 0);
	ck_assert_uint_eq(rd(R, TDEV_CFG + EMU_PCI_STATUS, 2) & EMU_PCI_STATUS_INTERRUPT, 0);
	/* a chain of two buffers, and the next request after unmask */
	struct vfio_irq_set un = { sizeof(un), VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, 0, 0, 1 };

	TU_OK(tu_ioctl(R, VFIO_DEVICE_SET_IRQS, &un));
	put_desc(&v, 0, buf + 256, 16, EMU_VRING_DESC_F_WRITE | EMU_VRING_DESC_F_NEXT, 1);
	put_desc(&v, 1, buf + 512, 48, EMU_VRING_DESC_F_WRITE, 0);
	kick(&v, 0);
	used(&v, &id, &len);
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 64);
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	ck_assert_uint_eq(faults(0), 0);
	close(efd);
}
END_TEST

/*
 * seed=N: the device writes the stream emu__virtio_rng_stream computes,
 * continued across requests and across a device reset; the stream is
 * SplitMix64's (its first output for seed 0 is 0xe220a8397b1dcdaf).
 */
START_TEST(t_rng_seeded)
{
	static const uint8_t kat[8] = { 0xaf, 0xcd, 0x1d, 0x7b, 0x39, 0xa8, 0x20, 0xe2 };
	uint8_t want[256], *buf = mem + 8 * PS;
	struct drv v;
	uint32_t id, len;
	int g3 = spapr_open_group(3), s;

	emu__virtio_rng_stream(0, 0, want, 8);
	ck_assert_mem_eq(want, kat, 8);
	emu__virtio_rng_stream(0, 3, want, 2);		/* a position inside a word */
	ck_assert_mem_eq(want, kat + 3, 2);

	ck_assert_int_ge(g3, 0);
	TU_OK(tu_attach(g3, C));
	s = tdev_get(g3, "0000:00:04.0");
	ck_assert_int_ge(s, 0);
	driver_up(&v, s, 0, EMU_VIRTIO_NO_VECTOR);
	put_desc(&v, 0, buf, 100, EMU_VRING_DESC_F_WRITE, 0);
	kick(&v, 0);
	used(&v, &id, &len);
	ck_assert_uint_eq(len, 100);
	emu__virtio_rng_stream(SEED, 0, want, 100);
	ck_assert_mem_eq(buf, want, 100);
	put_desc(&v, 1, buf + 512, 60, EMU_VRING_DESC_F_WRITE, 0);
	kick(&v, 1);
	used(&v, &id, &len);
	ck_assert_uint_eq(len, 60);
	emu__virtio_rng_stream(SEED, 100, want, 60);
	ck_assert_mem_eq(buf + 512, want, 60);
	/* a reset does not rewind the stream */
	TU_OK(tu_ioctl(s, VFIO_DEVICE_RESET, NULL));
	memset(mem, 0, 3 * PS);
	driver_up(&v, s, 0, EMU_VIRTIO_NO_VECTOR);
	put_desc(&v, 0, buf + 1024, 16, EMU_VRING_DESC_F_WRITE, 0);
	kick(&v, 0);
	used(&v, &id, &len);
	emu__virtio_rng_stream(SEED, 160, want, 16);
	ck_assert_mem_eq(buf + 1024, want, 16);
	ck_assert_uint_eq(faults(3), 0);
	TU_OK(spapr_close(s));
	TU_OK(spapr_ioctl(g3, VFIO_GROUP_UNSET_CONTAINER, NULL));
	TU_OK(spapr_close(g3));
}
END_TEST

/* fail-nth over the seeded model's creation (the device fd's first open) */
static int seeded_open(void *arg)
{
	int g3 = *(int *)arg, s = tdev_get(g3, "0000:00:04.0");

	if (s < 0)
		return s;
	TU_OK(spapr_close(s));
	return 0;
}

static void seeded_check(void *arg, int rc)
{
	int g3 = *(int *)arg, s;

	(void)rc;
	s = tdev_get(g3, "0000:00:04.0");	/* nothing half made stays behind */
	ck_assert_int_ge(s, 0);
	TU_OK(spapr_close(s));
}

START_TEST(t_fail_nth_rng_seeded)
{
	int g3 = spapr_open_group(3);

	ck_assert_int_ge(g3, 0);
	TU_OK(tu_attach(g3, C));
	ck_assert_uint_ge(tu_sweep(seeded_open, seeded_check, &g3), 3);
	TU_OK(spapr_ioctl(g3, VFIO_GROUP_UNSET_CONTAINER, NULL));
	TU_OK(spapr_close(g3));
}
END_TEST

START_TEST(t_rng_msix)
{
	struct drv v;
	uint8_t *buf = mem + 8 * PS;
	uint32_t id, len;
	int e0 = eventfd(0, EFD_NONBLOCK), e1 = eventfd(0, EFD_NONBLOCK);

	TU_OK(tdev_irqs_fd(R, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, e0));
	/* a block of one more vector is EINVAL: enabled with 1; disable and enable 2 */
	{
		struct vfio_irq_set off = { sizeof(off), VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
					    VFIO_PCI_MSIX_IRQ_INDEX, 0, 0 };
		struct {
			struct vfio_irq_set s;
			int32_t fd[2];
		} a = { { sizeof(a), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			  VFIO_PCI_MSIX_IRQ_INDEX, 0, 2 }, { e0, e1 } };

		TU_OK(tu_ioctl(R, VFIO_DEVICE_SET_IRQS, &off));
		TU_OK(tu_ioctl(R, VFIO_DEVICE_SET_IRQS, &a));
	}
	driver_up(&v, R, 0, 1);
	put_desc(&v, 0, buf, 32, EMU_VRING_DESC_F_WRITE, 0);
	kick(&v, 0);
	used(&v, &id, &len);
	ck_assert_uint_eq(len, 32);
	ck_assert_uint_eq(tdev_ev_count(e1), 1);
	ck_assert_uint_eq(tdev_ev_count(e0), 0);
	/* NO_INTERRUPT in the avail flags: no message */
	avail_p(&v)[0] = EMU_VRING_AVAIL_F_NO_INTERRUPT;
	kick(&v, 0);
	used(&v, &id, &len);
	ck_assert_uint_eq(tdev_ev_count(e1), 0);
	close(e0);
	close(e1);
}
END_TEST

START_TEST(t_feature_negotiation)
{
	int g2, p;
	uint64_t f = 1ull << EMU_VIRTIO_F_VERSION_1 | 1ull << EMU_VIRTIO_F_ACCESS_PLATFORM;

	ck_assert_uint_eq(features(R), f);
	ck_assert_uint_eq(features(B), f | 1ull << EMU_VIRTIO_BLK_F_FLUSH);
	/* without ACCESS_PLATFORM, without VERSION_1, or with a feature not offered: no FEATURES_OK */
	ck_assert_uint_eq(negotiate(R, 1ull << EMU_VIRTIO_F_VERSION_1) & EMU_VIRTIO_S_FEATURES_OK, 0);
	ck_assert_uint_eq(negotiate(R, 1ull << EMU_VIRTIO_F_ACCESS_PLATFORM) & EMU_VIRTIO_S_FEATURES_OK, 0);
	ck_assert_uint_eq(negotiate(R, f | 1) & EMU_VIRTIO_S_FEATURES_OK, 0);
	ck_assert_uint_eq(negotiate(R, f), EMU_VIRTIO_S_ACKNOWLEDGE | EMU_VIRTIO_S_DRIVER | EMU_VIRTIO_S_FEATURES_OK);
	/* the platform=0 device offers VERSION_1 alone */
	g2 = spapr_open_group(2);
	TU_OK(tu_attach(g2, C));
	p = tdev_get(g2, "0000:00:03.0");
	ck_assert_int_ge(p, 0);
	ck_assert_uint_eq(features(p), 1ull << EMU_VIRTIO_F_VERSION_1);
	ck_assert_uint_eq(negotiate(p, 1ull << EMU_VIRTIO_F_VERSION_1), EMU_VIRTIO_S_ACKNOWLEDGE |
			  EMU_VIRTIO_S_DRIVER | EMU_VIRTIO_S_FEATURES_OK);
	TU_OK(spapr_close(p));
	TU_OK(spapr_close(g2));
}
END_TEST

START_TEST(t_ring_fault)
{
	struct drv v;
	struct emu_fault f[2];
	unsigned n;

	driver_up(&v, R, 0, EMU_VIRTIO_NO_VECTOR);
	/* a buffer at a bus address without a TCE */
	{
		uint8_t *d = desc_p(&v, 0);
		uint64_t a = IOVA + 64 * PS;
		uint32_t len = 64;
		uint16_t fl = EMU_VRING_DESC_F_WRITE;

		memcpy(d, &a, 8);
		memcpy(d + 8, &len, 4);
		memcpy(d + 12, &fl, 2);
	}
	kick(&v, 0);
	ck_assert_uint_eq(rd(R, BAR + EMU_VIRTIO_STATUS, 1) & EMU_VIRTIO_S_NEEDS_RESET, EMU_VIRTIO_S_NEEDS_RESET);
	TU_OK(emu_fault_log_read(0, f, 2, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(f[0].iova, IOVA + 64 * PS);
	ck_assert_int_eq(f[0].access, EMU_DMA_WRITE);
	ck_assert_uint_eq(__atomic_load_n((uint16_t *)(used_p(&v) + 2), __ATOMIC_ACQUIRE), 0);
	/* a reset (status 0) brings it back */
	driver_up(&v, R, 0, EMU_VIRTIO_NO_VECTOR);
	ck_assert_uint_eq(rd(R, BAR + EMU_VIRTIO_STATUS, 1) & EMU_VIRTIO_S_NEEDS_RESET, 0);
	/* a chain that loops is refused, not followed forever */
	put_desc(&v, 0, mem + 8 * PS, 8, EMU_VRING_DESC_F_WRITE | EMU_VRING_DESC_F_NEXT, 1);
	put_desc(&v, 1, mem + 8 * PS, 8, EMU_VRING_DESC_F_WRITE | EMU_VRING_DESC_F_NEXT, 0);
	kick(&v, 0);
	ck_assert_uint_eq(rd(R, BAR + EMU_VIRTIO_STATUS, 1) & EMU_VIRTIO_S_NEEDS_RESET, EMU_VIRTIO_S_NEEDS_RESET);
	ck_assert_uint_eq(faults(0), 0);
}
END_TEST

/* ------------------------------------------------------------------ blk */

/* One request: header, then @data (device-readable for OUT, writable for IN) and the status byte. */
static uint8_t blk_req(struct drv *v, uint32_t type, uint64_t sector, uint8_t *data, uint32_t len,
		       uint32_t *used_len)
{
	uint8_t *hdr = mem + 12 * PS, *st = hdr + 64;
	uint32_t id;

	memset(hdr, 0, 16);
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	*st = 0xee;
	put_desc(v, 0, hdr, 16, EMU_VRING_DESC_F_NEXT, 1);
	if (len) {
		put_desc(v, 1, data, len, EMU_VRING_DESC_F_NEXT |
			 (type == EMU_VIRTIO_BLK_T_OUT ? 0 : EMU_VRING_DESC_F_WRITE), 2);
		put_desc(v, 2, st, 1, EMU_VRING_DESC_F_WRITE, 0);
	} else {
		put_desc(v, 1, st, 1, EMU_VRING_DESC_F_WRITE, 0);
	}
	kick(v, 0);
	used(v, &id, used_len);
	ck_assert_uint_eq(id, 0);
	return *st;
}

START_TEST(t_blk_read_write)
{
	struct drv v;
	uint8_t *out = mem + 8 * PS, *in = mem + 10 * PS, file[4096];
	uint32_t ulen;
	int fd, efd = eventfd(0, EFD_NONBLOCK);

	ck_assert_uint_eq(rd(B, TDEV_CFG, 4), EMU_VIRTIO_VENDOR | (0x1040u + EMU_VIRTIO_ID_BLOCK) << 16);
	TU_OK(tdev_irqs_fd(B, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, efd));
	driver_up(&v, B, 3, EMU_VIRTIO_NO_VECTOR);
	ck_assert_uint_eq(rd(B, BAR + EMU_VIRTIO_DEVICE, 8), DISK / 512);	/* capacity */
	for (unsigned i = 0; i < 4096; i++)
		out[i] = (uint8_t)(i * 13 + 1);
	ck_assert_uint_eq(blk_req(&v, EMU_VIRTIO_BLK_T_OUT, 8, out, 4096, &ulen), EMU_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(ulen, 1);
	/* the host file holds it */
	fd = open(disk, O_RDONLY);
	ck_assert_int_eq(pread(fd, file, 4096, 8 * 512), 4096);
	close(fd);
	ck_assert_int_eq(memcmp(file, out, 4096), 0);
	ck_assert_uint_eq(blk_req(&v, EMU_VIRTIO_BLK_T_IN, 8, in, 4096, &ulen), EMU_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(ulen, 4097);
	ck_assert_int_eq(memcmp(in, out, 4096), 0);
	ck_assert_uint_eq(blk_req(&v, EMU_VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &ulen), EMU_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(blk_req(&v, EMU_VIRTIO_BLK_T_GET_ID, 0, in, 20, &ulen), EMU_VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(in, "spaprtce-virtio-blk", 19), 0);
	/* past the end: IOERR, nothing read; unknown type: UNSUPP */
	ck_assert_uint_eq(blk_req(&v, EMU_VIRTIO_BLK_T_IN, DISK / 512 - 7, in, 4096, &ulen),
			  EMU_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(blk_req(&v, EMU_VIRTIO_BLK_T_OUT, UINT64_MAX / 256, out, 512, &ulen),
			  EMU_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(blk_req(&v, 77, 0, NULL, 0, &ulen), EMU_VIRTIO_BLK_S_UNSUPP);
	ck_assert_uint_eq(tdev_ev_count(efd), 1);	/* automasked INTx: one signal until unmask */
	ck_assert_uint_eq(faults(1), 0);
	/* group 0's rng saw none of this */
	ck_assert_uint_eq(faults(0), 0);
	close(efd);
}
END_TEST

/* A model that omits ACCESS_PLATFORM gets physical addresses from a driver that trusts it: faults. */
START_TEST(t_no_platform_faults)
{
	struct drv v;
	int g2 = spapr_open_group(2), p;
	struct emu_fault f[2];
	unsigned n;

	TU_OK(tu_attach(g2, C));
	p = tdev_get(g2, "0000:00:03.0");
	ck_assert_int_ge(p, 0);
	v.fd = p;
	v.page = 5;
	v.avail_idx = v.used_seen = 0;
	ck_assert_uint_eq(negotiate(p, 1ull << EMU_VIRTIO_F_VERSION_1) & EMU_VIRTIO_S_FEATURES_OK,
			  EMU_VIRTIO_S_FEATURES_OK);
	/* the driver, told no IOMMU is in the way, gives the ring's "physical" address (here: its ua) */
	wr(p, BAR + EMU_VIRTIO_Q_SELECT, 2, 0);
	wr(p, BAR + EMU_VIRTIO_Q_SIZE, 2, QSIZE);
	wr(p, BAR + EMU_VIRTIO_Q_DESC, 8, (uintptr_t)desc_p(&v, 0));
	wr(p, BAR + EMU_VIRTIO_Q_AVAIL, 8, (uintptr_t)avail_p(&v));
	wr(p, BAR + EMU_VIRTIO_Q_USED, 8, (uintptr_t)used_p(&v));
	wr(p, BAR + EMU_VIRTIO_Q_ENABLE, 2, 1);
	wr(p, BAR + EMU_VIRTIO_STATUS, 1, EMU_VIRTIO_S_ACKNOWLEDGE | EMU_VIRTIO_S_DRIVER |
						  EMU_VIRTIO_S_FEATURES_OK | EMU_VIRTIO_S_DRIVER_OK);
	avail_p(&v)[2] = 1;
	wr(p, BAR + EMU_VIRTIO_NOTIFY, 2, 0);
	ck_assert_uint_eq(rd(p, BAR + EMU_VIRTIO_STATUS, 1) & EMU_VIRTIO_S_NEEDS_RESET, EMU_VIRTIO_S_NEEDS_RESET);
	TU_OK(emu_fault_log_read(2, f, 2, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(f[0].iova, (uintptr_t)avail_p(&v));
	TU_OK(spapr_close(p));
	TU_OK(spapr_close(g2));
}
END_TEST

START_TEST(t_blk_needs_file)
{
	TU_ERR(emu_dev_configure(3, "virtio-blk"), EINVAL);
	TU_ERR(emu_dev_configure(3, "virtio-blk:file="), EINVAL);
	TU_ERR(emu_dev_configure(3, "virtio-rng:file=/x"), EINVAL);
	TU_ERR(emu_dev_configure(3, "virtio-rng:platform=2"), EINVAL);
	TU_ERR(emu_dev_configure(3, "virtio-rng:seed="), EINVAL);
	TU_ERR(emu_dev_configure(3, "virtio-rng:seed=12x"), EINVAL);
	TU_ERR(emu_dev_configure(3, "virtio-rng:seed=-1"), EINVAL);
	TU_ERR(emu_dev_configure(3, "virtio-rng:seed=0x10000000000000000"), EINVAL);
	TU_ERR(emu_dev_configure(3, "virtio-blk:file=/x:seed=1"), EINVAL);
	TU_OK(emu_dev_configure(3, "virtio-rng:seed=7:platform=0"));
	TU_OK(emu_dev_configure(3, "virtio-rng:seed=18446744073709551615"));
	TU_OK(emu_dev_configure(3, "dma-engine"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("device_virtio");
	TCase *t = tcase_create("virtio");
	TCase *c = tcase_create("config");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, t_rng_intx);
	tcase_add_test(t, t_rng_seeded);
	tcase_add_test(t, t_fail_nth_rng_seeded);
	tcase_add_test(t, t_rng_msix);
	tcase_add_test(t, t_feature_negotiation);
	tcase_add_test(t, t_ring_fault);
	tcase_add_test(t, t_blk_read_write);
	tcase_add_test(t, t_no_platform_faults);
	suite_add_tcase(s, t);
	tcase_add_test(c, t_blk_needs_file);
	suite_add_tcase(s, c);
	return tu_run(s);
}
