/* SPDX-License-Identifier: MIT */
/*
 * EEH under concurrency: two threads DMA into their own part of a mapped
 * buffer while a third freezes the PE (emu_pe_freeze, as from outside) and
 * recovers it, by UNFREEZE_IO + UNFREEZE_DMA or by the reset sequence
 * (RESET_HOT, RESET_DEACTIVATE, CONFIGURE: the device model is reset under
 * its own lock meanwhile).  Each DMA is all or nothing: it lands whole, or
 * fails with ESHUTDOWN and leaves the previous contents; right after
 * emu_pe_freeze returns the PE reports STOPPED and a DMA fails; the
 * counters add up exactly (freezes, recoveries, refused DMAs, the fault
 * log's records).  Run under ThreadSanitizer by `make check-race
 * SAN=thread`: the freeze takes ep->rw for writing against the DMAs'
 * readers, the reset takes the device lock before the endpoint's.
 */
#define _GNU_SOURCE
#include <linux/vfio.h>
#include <pthread.h>
#include <string.h>

#include "emu/dev.h"
#include "emu/emu.h"
#include "emu/mem.h"
#include "spapr/spapr.h"
#include "tests/testutil.h"

#define PS EMU_PAGE_SIZE
#define IOVA 0x100000ull
#define PAGES 4u
#define ROUNDS 400
#define WRITES 3000

static int C, G, D;
static uint8_t *mem;

struct writer {
	unsigned idx;
	unsigned failed;
	int *stop;
};

static int pe_op(uint32_t op)
{
	struct vfio_eeh_pe_op a = { .argsz = sizeof(a), .op = op };

	return tu_ioctl(C, VFIO_EEH_PE_OP, &a);
}

/* Two pages per writer: each transfer fills both with one tag. */
static void *writer(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[2 * PS], *mine = mem + w->idx * 2 * PS;
	uint8_t last = 0;

	for (unsigned i = 1; i <= WRITES || !__atomic_load_n(w->stop, __ATOMIC_ACQUIRE); i++) {
		uint8_t tag = (uint8_t)(i % 251 + 1);
		int rc;

		memset(buf, tag, sizeof(buf));
		rc = emu_dma_write(0, IOVA + w->idx * 2 * PS, buf, sizeof(buf));
		if (rc) {
			ck_assert_int_eq(rc, -ESHUTDOWN);
			w->failed++;
		} else {
			last = tag;
		}
		/* all or nothing: both pages hold the last tag that landed */
		ck_assert_uint_eq(mine[0], last);
		ck_assert_uint_eq(mine[2 * PS - 1], last);
		ck_assert_uint_eq(mine[PS], last);
		if (i > 100 * WRITES)
			break;
	}
	return NULL;
}

START_TEST(t_dma_against_freeze)
{
	struct writer w[2] = { { 0, 0, NULL }, { 1, 0, NULL } };
	struct emu_fault_log_stats fl;
	struct emu_pe_status st;
	pthread_t t[2];
	int stop = 0;
	uint8_t x = 0;

	TU_OK(spapr_mm_set_memlock(1ull << 30, 0));
	C = tu_open_v2(0, &G);
	D = spapr_ioctl(G, VFIO_GROUP_GET_DEVICE_FD, "0000:00:01.0");
	ck_assert_int_ge(D, 0);
	mem = tu_map(PAGES);
	memset(mem, 0, PAGES * PS);
	TU_OK(tu_register(C, mem, PAGES * PS));
	TU_OK(tu_map_dma(C, mem, IOVA, PAGES * PS, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	ck_assert_int_eq(pe_op(VFIO_EEH_PE_ENABLE), 0);

	for (unsigned i = 0; i < 2; i++) {
		w[i].stop = &stop;
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer, &w[i]), 0);
	}
	for (unsigned r = 0; r < ROUNDS; r++) {
		TU_OK(emu_pe_freeze(0));
		/* from here on nothing reaches memory until the recovery */
		ck_assert_int_eq(emu_pe_get_state(0), EMU_PE_STATE_STOPPED);
		TU_ERR(emu_dma_write(0, IOVA + 3 * PS + 8, &x, 1), ESHUTDOWN);
		if (r % 2) {
			ck_assert_int_eq(pe_op(VFIO_EEH_PE_UNFREEZE_IO), 0);
			ck_assert_int_eq(pe_op(VFIO_EEH_PE_UNFREEZE_DMA), 0);
		} else {
			ck_assert_int_eq(pe_op(VFIO_EEH_PE_RESET_HOT), 0);
			ck_assert_int_eq(pe_op(VFIO_EEH_PE_RESET_DEACTIVATE), 0);
			ck_assert_int_eq(pe_op(VFIO_EEH_PE_CONFIGURE), 0);
		}
		ck_assert_int_eq(pe_op(VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);

	TU_OK(emu_pe_status(0, &st));
	ck_assert_uint_eq(st.freezes[EMU_PE_CAUSE_EXTERNAL], ROUNDS);
	ck_assert_uint_eq(st.freezes[EMU_PE_CAUSE_DMA_FAULT], 0);
	ck_assert_uint_eq(st.recoveries, ROUNDS);
	ck_assert_uint_eq(st.resets, ROUNDS / 2);
	ck_assert_uint_eq(st.dma_stopped, w[0].failed + w[1].failed + ROUNDS);
	TU_OK(emu_fault_log_stats(0, &fl));
	ck_assert_uint_eq(fl.producer + fl.overflow, st.dma_stopped);

	TU_OK(tu_unmap_dma(C, IOVA, PAGES * PS));
	TU_OK(tu_unregister(C, mem, PAGES * PS));
	tu_unmap(mem, PAGES);
	TU_OK(tu_close(D));
	TU_OK(tu_close(G));
	TU_OK(tu_close(C));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_assert_emu_clean();
	TU_OK(emu_machine_check());
}
END_TEST

int main(void)
{
	Suite *s = suite_create("race eeh");
	TCase *t = tcase_create("eeh");

	tcase_set_timeout(t, 300);
	tcase_add_test(t, t_dma_against_freeze);
	suite_add_tcase(s, t);
	return tu_run(s);
}
