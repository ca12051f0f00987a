/* SPDX-License-Identifier: MIT */
/*
 * The device fd under concurrency: one thread rings the DMA engine's
 * doorbell (completion interrupts on), one switches the interrupt set-up
 * (INTx on and off, unmask, MSI-X on and off), one resets the function and
 * reads config space and the fault region, one more opens and closes a
 * second device fd of the same device.  Afterwards the transfers moved
 * whole pages only, every fault is one a reset explains (a cleared SRC or
 * DST: bus address 0), and nothing is left open.  Run under ThreadSanitizer by `make check-race SAN=thread`:
 * the lock order of spapr/device_priv.h and emu/dev.h (device lock, then
 * the sink's, then the endpoint's) is what is being checked.
 */
#define _GNU_SOURCE
#include <linux/vfio.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "emu/dev.h"
#include "emu/dev_dma.h"
#include "emu/emu.h"
#include "emu/mem.h"
#include "spapr/spapr.h"
#include "tests/testutil.h"
#include "tests/vfio_util.h"

#define PS EMU_PAGE_SIZE
#define REG(i) ((uint64_t)(i) << 40)
#define IOVA 0x100000ull
#define ROUNDS 5000

static int C, G, D;
static uint8_t *mem;

struct shared {
	int stop;
	unsigned done;
};

static void wr(uint64_t off, unsigned size, uint64_t v)
{
	ck_assert_int_eq(spapr_pwrite(D, &v, size, (off_t)off), size);
}

static void *doorbells(void *arg)
{
	struct shared *s = arg;

	for (unsigned i = 0; i < ROUNDS; i++) {
		uint64_t regs[3] = { IOVA, IOVA + 2 * PS, PS }, st = 0;
		uint32_t dir = 0, ctrl = EMU_DMAE_CTRL_IRQ, go = 1;

		/* a reset from another thread may clear these: then LEN is 0 or SRC faults */
		spapr_pwrite(D, regs, 24, (off_t)(REG(0) + EMU_DMAE_SRC));
		spapr_pwrite(D, &dir, 4, (off_t)(REG(0) + EMU_DMAE_DIR));
		spapr_pwrite(D, &ctrl, 4, (off_t)(REG(0) + EMU_DMAE_CTRL));
		spapr_pwrite(D, &go, 4, (off_t)(REG(0) + EMU_DMAE_DOORBELL));
		spapr_pread(D, &st, 4, (off_t)(REG(0) + EMU_DMAE_STATUS));
		if (st & EMU_DMAE_STATUS_DONE)
			__atomic_add_fetch(&s->done, 1, __ATOMIC_RELAXED);
		wr(REG(0) + EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_DONE | EMU_DMAE_STATUS_ERROR);
	}
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *irq_setup(void *arg)
{
	struct shared *s = arg;
	int e = eventfd(0, EFD_NONBLOCK);

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct {
			struct vfio_irq_set s;
			int32_t fd[2];
		} a = { { sizeof(a), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			  VFIO_PCI_INTX_IRQ_INDEX, 0, 1 }, { e, e } };
		struct vfio_irq_set n = { sizeof(n), VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
					  VFIO_PCI_INTX_IRQ_INDEX, 0, 1 };
		uint64_t cnt;

		tu_ioctl(D, VFIO_DEVICE_SET_IRQS, &a);
		tu_ioctl(D, VFIO_DEVICE_SET_IRQS, &n);
		n.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
		n.count = 0;
		tu_ioctl(D, VFIO_DEVICE_SET_IRQS, &n);
		a.s.index = VFIO_PCI_MSIX_IRQ_INDEX;
		a.s.count = 2;
		tu_ioctl(D, VFIO_DEVICE_SET_IRQS, &a);
		n.index = VFIO_PCI_MSIX_IRQ_INDEX;
		tu_ioctl(D, VFIO_DEVICE_SET_IRQS, &n);
		(void)!read(e, &cnt, 8);
	}
	close(e);
	return NULL;
}

static void *resets(void *arg)
{
	struct shared *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		uint8_t cfg[256], hdr[32];
		uint16_t cmd = EMU_PCI_COMMAND_MEMORY | EMU_PCI_COMMAND_MASTER;

		tu_ioctl(D, VFIO_DEVICE_RESET, NULL);
		ck_assert_int_eq(spapr_pread(D, cfg, 256, (off_t)REG(7)), 256);
		ck_assert_int_eq(spapr_pwrite(D, &cmd, 2, (off_t)(REG(7) + EMU_PCI_COMMAND)), 2);
		ck_assert_int_eq(spapr_pread(D, hdr, 32, (off_t)REG(SPAPR_FAULT_REGION_INDEX)), 32);
		usleep(200);
	}
	return NULL;
}

static void *second_fd(void *arg)
{
	struct shared *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		int d = spapr_ioctl(G, VFIO_GROUP_GET_DEVICE_FD, "0000:00:01.0");
		struct vfio_device_info info = { .argsz = sizeof(info) };

		ck_assert_int_ge(d, 0);
		TU_OK(tu_ioctl(d, VFIO_DEVICE_GET_INFO, &info));
		TU_OK(spapr_close(d));
	}
	return NULL;
}

START_TEST(t_device_races)
{
	struct shared s = { 0, 0 };
	struct emu_group_stats st;
	struct emu_fault f[1];
	unsigned n;
	pthread_t t[4];
	uint16_t cmd = EMU_PCI_COMMAND_MEMORY | EMU_PCI_COMMAND_MASTER;

	TU_OK(spapr_mm_set_memlock(1ull << 30, 0));
	C = tu_open_v2(0, &G);
	D = spapr_ioctl(G, VFIO_GROUP_GET_DEVICE_FD, "0000:00:01.0");
	ck_assert_int_ge(D, 0);
	mem = tu_map(4);
	memset(mem, 0x6b, PS);
	memset(mem + 2 * PS, 0, PS);
	TU_OK(tu_register(C, mem, 4 * PS));
	TU_OK(tu_map_dma(C, mem, IOVA, 4 * PS, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	ck_assert_int_eq(spapr_pwrite(D, &cmd, 2, (off_t)(REG(7) + EMU_PCI_COMMAND)), 2);
	ck_assert_int_eq(pthread_create(&t[0], NULL, doorbells, &s), 0);
	ck_assert_int_eq(pthread_create(&t[1], NULL, irq_setup, &s), 0);
	ck_assert_int_eq(pthread_create(&t[2], NULL, resets, &s), 0);
	ck_assert_int_eq(pthread_create(&t[3], NULL, second_fd, &s), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	/* whole pages only; the 0x6b page reached its destination if any was written */
	TU_OK(emu_group_get_stats(0, &st));
	ck_assert_uint_eq(st.bytes_written % PS, 0);
	if (st.bytes_written)
		for (unsigned i = 0; i < PS; i++)
			ck_assert_uint_eq(mem[2 * PS + i], 0x6b);
	while (emu_fault_log_read(0, f, 1, &n) == 0 && n)
		ck_assert_uint_lt(f[0].iova, 8);
	ck_assert_uint_gt(s.done, 0);
	TU_OK(spapr_close(D));
	TU_OK(tu_unmap_dma(C, IOVA, 4 * PS));
	TU_OK(tu_unregister(C, mem, 4 * PS));
	tu_unmap(mem, 4);
	TU_OK(spapr_close(G));
	TU_OK(spapr_close(C));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_assert_emu_clean();
	TU_OK(emu_machine_check());
}
END_TEST

int main(void)
{
	Suite *s = suite_create("race_device");
	TCase *t = tcase_create("races");

	tcase_set_timeout(t, 300);
	tcase_add_test(t, t_device_races);
	suite_add_tcase(s, t);
	return tu_run(s);
}
