/* SPDX-License-Identifier: MIT */
/*
 * bench_device: the dma-engine model's throughput driven only through its
 * VFIO device fd, as a ratio to memcpy of the same bytes (issue 15; goal
 * >= 0.5 for 64 KiB transfers).
 *
 * The client does what a user-space driver would: it maps a 32 MiB buffer
 * for DMA (REGISTER_MEMORY, MAP_DMA into the default window of 4 KiB TCEs),
 * turns bus mastering on in the config space, and for every 64 KiB
 * transfer writes SRC, DST, LEN|DIR and CTRL|DOORBELL with spapr_pwrite at
 * BAR0's region offset, then waits for completion, either by polling
 * STATUS with spapr_pread or by reading the completion interrupt's eventfd
 * (MSI-X vector 0, SET_IRQS).  Both directions: the device reads memory
 * (DIR memory to BAR2) and writes memory (BAR2 to memory), cycling over
 * the buffer so that every transfer walks fresh TCEs.  The registers are
 * written one pwrite each, or SRC to DOORBELL in one 32-byte pwrite (the
 * device fd splits it into four 8-byte stores in order, as vfio-pci does).
 *
 * Private anonymous memory is the common case and costs the DMA path a
 * check per transfer that the process still maps the pinned pages with the
 * access allowed (a PROCMAP_QUERY and, the pin's mlock still in place, an
 * msync; emu/phb_dma.c check_private, emu/mem_pin.c); shared memory is
 * copied through the library's own mapping of the pages with no such
 * check.  Both are reported, so the figure shows where the cost is.
 *
 * Baseline: memcpy of the same 64 KiB between the same buffer offsets and
 * BAR2's memory (its mmap), measured in the same run.  Rounds alternate
 * memcpy and device; each round's ratio is memcpy time / device time, and
 * the figure is the median ratio over ROUNDS rounds (the spread, min-max,
 * goes into the baseline text).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "emu/dev.h"
#include "emu/dev_dma.h"
#include "spapr/spapr.h"

#define BUF_BYTES (32ull << 20)
#define XFER (64u << 10)
#define TOTAL_BYTES (64ull << 20)	/* moved per round */
#define ROUNDS 15
#define IOVA(shared) (0x100000ull + (shared) * (64ull << 20))
#define REG(i) ((uint64_t)(i) << 40)

struct bench {
	int cfd, gfd, dfd, efd;
	uint8_t *mem[2];	/* private and shared anonymous memory, at iova(0) and iova(1) */
	uint8_t *buf;		/* the one in use */
	uint64_t iova;		/* its bus address */
	uint8_t *local;		/* BAR2, mmapped */
	bool write;		/* the device writes memory */
	bool irq;		/* wait on the eventfd, not the status register */
	bool block;		/* program the four registers with one 32-byte write */
};

static void wr64(struct bench *b, unsigned off, uint64_t v)
{
	if (spapr_pwrite(b->dfd, &v, 8, (off_t)(REG(0) + off)) != 8)
		bench_die("pwrite BAR0", errno);
}

static uint64_t rd64(struct bench *b, unsigned off)
{
	uint64_t v;

	if (spapr_pread(b->dfd, &v, 8, (off_t)(REG(0) + off)) != 8)
		bench_die("pread BAR0", errno);
	return v;
}

/* One transfer of XFER bytes at buffer offset @off, programmed and awaited as a client does. */
static void transfer(struct bench *b, uint64_t off)
{
	uint32_t dir = b->write ? EMU_DMAE_DIR_LOCAL_TO_MEM : EMU_DMAE_DIR_MEM_TO_LOCAL;
	uint64_t status, n, regs[4] = {
		b->write ? 0 : b->iova + off,			/* SRC */
		b->write ? b->iova + off : 0,			/* DST */
		XFER | (uint64_t)dir << 32,			/* LEN, DIR */
		(b->irq ? EMU_DMAE_CTRL_IRQ : 0) | (uint64_t)EMU_DMAE_DOORBELL_GO << 32,
	};

	if (b->block) {
		/* SRC to DOORBELL in one write: the device sees four 8-byte stores in order. */
		if (spapr_pwrite(b->dfd, regs, sizeof(regs), (off_t)(REG(0) + EMU_DMAE_SRC)) !=
		    sizeof(regs))
			bench_die("pwrite BAR0", errno);
	} else {
		wr64(b, EMU_DMAE_SRC, regs[0]);
		wr64(b, EMU_DMAE_DST, regs[1]);
		wr64(b, EMU_DMAE_LEN, regs[2]);
		wr64(b, EMU_DMAE_CTRL, regs[3]);
	}
	if (b->irq) {
		if (read(b->efd, &n, sizeof(n)) != sizeof(n) || n != 1)
			bench_die("completion eventfd", errno ? errno : EIO);
		status = rd64(b, EMU_DMAE_STATUS);
	} else {
		do
			status = rd64(b, EMU_DMAE_STATUS);
		while (!(status & (EMU_DMAE_STATUS_DONE | EMU_DMAE_STATUS_ERROR)));
	}
	if (status != EMU_DMAE_STATUS_DONE)
		bench_die("transfer status", EIO);
}

static double run_device(struct bench *b)
{
	uint64_t off = 0, moved = 0;
	double t0 = bench_now();

	while (moved < TOTAL_BYTES) {
		transfer(b, off);
		off = (off + XFER) % BUF_BYTES;
		moved += XFER;
	}
	return bench_now() - t0;
}

static double run_memcpy(struct bench *b)
{
	uint64_t off = 0, moved = 0;
	double t0 = bench_now();

	while (moved < TOTAL_BYTES) {
		if (b->write)
			memcpy(b->buf + off, b->local, XFER);
		else
			memcpy(b->local, b->buf + off, XFER);
		off = (off + XFER) % BUF_BYTES;
		moved += XFER;
	}
	bench_sink(b->buf[XFER / 2] + b->local[XFER / 3]);
	return bench_now() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void measure(struct bench *b)
{
	double ratio[ROUNDS], gbs[ROUNDS], mgbs[ROUNDS];
	char name[96], base[128];

	for (unsigned r = 0; r < ROUNDS; r++) {
		double tm = run_memcpy(b), td = run_device(b);

		ratio[r] = tm / td;
		gbs[r] = (double)TOTAL_BYTES / td / 1e9;
		mgbs[r] = (double)TOTAL_BYTES / tm / 1e9;
	}
	qsort(ratio, ROUNDS, sizeof(double), cmp_double);
	qsort(gbs, ROUNDS, sizeof(double), cmp_double);
	qsort(mgbs, ROUNDS, sizeof(double), cmp_double);
	snprintf(name, sizeof(name), "dma-engine fd: %s %s 64K, %s, %s",
		 b->write ? "writes" : "reads", b->buf == b->mem[1] ? "shared" : "private",
		 b->block ? "1 pwrite" : "4 pwrites", b->irq ? "eventfd" : "poll");
	snprintf(base, sizeof(base), "memcpy %.2f GB/s (ratio min %.3f max %.3f, %u rounds)",
		 mgbs[ROUNDS / 2], ratio[0], ratio[ROUNDS - 1], ROUNDS);
	bench_report(name, gbs[ROUNDS / 2], "GB/s", base, ratio[ROUNDS / 2], ">= 0.5",
		     ratio[ROUNDS / 2] >= 0.5);
}

static void ioctl_ok(int fd, unsigned long req, void *arg, const char *what)
{
	if (spapr_ioctl(fd, req, arg))
		bench_die(what, errno);
}

/* Anonymous memory (@shared: MAP_SHARED) for the device, registered and mapped at IOVA(@shared). */
static void map_mem(struct bench *b, unsigned shared)
{
	struct vfio_iommu_spapr_register_memory r = { .argsz = sizeof(r), .size = BUF_BYTES };
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .iova = IOVA(shared), .size = BUF_BYTES,
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	};
	uint8_t *p = mmap(NULL, BUF_BYTES, PROT_READ | PROT_WRITE,
			  (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bench_die("mmap", errno);
	memset(p, 0x5a, BUF_BYTES);
	r.vaddr = (uintptr_t)p;
	m.vaddr = (uintptr_t)p;
	ioctl_ok(b->cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, "REGISTER_MEMORY");
	ioctl_ok(b->cfd, VFIO_IOMMU_MAP_DMA, &m, "MAP_DMA");
	b->mem[shared] = p;
}

static void setup(struct bench *b)
{
	uint16_t cmd = EMU_PCI_COMMAND_MEMORY | EMU_PCI_COMMAND_MASTER;
	struct {
		struct vfio_irq_set s;
		int32_t fd;
	} irq;

	bench_container_v2(0, &b->cfd, &b->gfd);
	map_mem(b, 0);
	map_mem(b, 1);
	b->dfd = spapr_ioctl(b->gfd, VFIO_GROUP_GET_DEVICE_FD, "0000:00:01.0");
	if (b->dfd < 0)
		bench_die("GET_DEVICE_FD", errno);
	if (spapr_pwrite(b->dfd, &cmd, 2, (off_t)(REG(VFIO_PCI_CONFIG_REGION_INDEX) + EMU_PCI_COMMAND)) != 2)
		bench_die("command register", errno);
	b->local = spapr_mmap(NULL, EMU_DMAE_LOCAL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b->dfd,
			      (off_t)REG(2));
	if (b->local == MAP_FAILED)
		bench_die("mmap BAR2", errno);
	memset(b->local, 0xa5, EMU_DMAE_LOCAL_SIZE);
	b->efd = eventfd(0, EFD_CLOEXEC);
	if (b->efd < 0)
		bench_die("eventfd", errno);
	irq.s = (struct vfio_irq_set){
		.argsz = sizeof(irq), .index = VFIO_PCI_MSIX_IRQ_INDEX, .start = EMU_DMAE_VEC_DONE,
		.count = 1, .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	};
	irq.fd = b->efd;
	ioctl_ok(b->dfd, VFIO_DEVICE_SET_IRQS, &irq, "SET_IRQS MSI-X");
}

static void teardown(struct bench *b)
{
	munmap(b->local, EMU_DMAE_LOCAL_SIZE);
	if (spapr_close(b->dfd) || spapr_close(b->gfd) || spapr_close(b->cfd))
		bench_die("close", errno);
	close(b->efd);
	munmap(b->mem[0], BUF_BYTES);
	munmap(b->mem[1], BUF_BYTES);
}

/*
 * Registers one by one and polled; one block write, polled; the same with
 * the eventfd; and polled over shared memory, where the DMA path copies
 * through the library's own mapping of the pages and needs no check that
 * the process still maps the pinned pages (emu/mem_pin.c).
 */
static const struct {
	bool block, irq;
	unsigned shared;
} variants[] = {
	{ false, false, 0 }, { true, false, 0 }, { true, true, 0 }, { true, false, 1 },
};

int main(void)
{
	struct bench b;

	memset(&b, 0, sizeof(b));
	if (spapr_mm_set_memlock(UINT64_MAX, 1))
		bench_die("spapr_mm_set_memlock", errno);
	setup(&b);
	bench_title("dma-engine through its device fd, 64 KiB transfers over 32 MiB, 4 KiB TCEs");
	for (unsigned v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		for (unsigned w = 0; w < 2; w++) {
			b.block = variants[v].block;
			b.irq = variants[v].irq;
			b.buf = b.mem[variants[v].shared];
			b.iova = IOVA(variants[v].shared);
			b.write = w;
			measure(&b);
		}
	}
	teardown(&b);
	return 0;
}
