/* SPDX-License-Identifier: MIT */
/*
 * EEH (docs/eeh.md): VFIO_EEH_PE_OP on the container and the PE state
 * machine of emu/pe.c behind it, through spapr_ioctl, spapr_pread and
 * spapr_pwrite only, as a program sees them.
 *
 * - CHECK_EXTENSION(VFIO_EEH) and SET_IOMMU(VFIO_EEH), with and without
 *   the machine's eeh;
 * - the request's checks in vfio_spapr_ioctl_eeh_pe_op's order: no PE
 *   (ENODEV) before the copy (EFAULT), argsz from 0 up and every flag bit
 *   (EINVAL), unknown ops (EINVAL), INJECT_ERR's longer argsz and copy, its
 *   type and function (eeh_pe_inject_err: EINVAL); no driver (EINVAL), a
 *   group fd (ENOTTY), another process (EPERM); a bad request changes
 *   nothing;
 * - every op and state transition: GET_STATE's value after a freeze, each
 *   UNFREEZE, ENABLE (thaws), DISABLE, the resets and CONFIGURE
 *   (eeh_pe_set_option, eeh_pe_get_state, eeh_pe_reset, eeh_pe_configure);
 * - while frozen: config and BAR reads all ones, writes dropped, DMA
 *   refused and logged as "PE frozen";
 * - a real faulting DMA of the dma-engine (programmed through the device
 *   fd) freezes an EEH-enabled PE; recovery by the reset sequence and the
 *   DMA engine works again;
 * - injected errors of each kind (DMA read and write, MMIO load, config
 *   store, 32-bit addresses);
 * - the kernel's rule for containers with several groups (every group,
 *   newest first, until one answers non-zero);
 * - no EEH op allocates (a fail-nth sweep finds no failure point).
 *
 * Fixture: container C (v2) with group 0 attached, device fd D of group
 * 0's dma-engine; teardown asserts nothing is left.
 */
#define _GNU_SOURCE
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu/dev.h"
#include "emu/dev_dma.h"
#include "emu/emu.h"
#include "emu/mem.h"
#include "spapr/spapr.h"
#include "tests/device_util.h"
#include "tests/testutil.h"

#define PS EMU_PAGE_SIZE
#define IOVA 0x100000ull
#define INJ_MINSZ 40u	/* offsetofend(struct vfio_eeh_pe_op, err.mask) */

static int C, G, D;

static void setup(void)
{
	TU_OK(spapr_mm_set_memlock(16ull << 30, 0));
	C = tu_open_v2(0, &G);
	D = spapr_ioctl(G, VFIO_GROUP_GET_DEVICE_FD, "0000:00:01.0");
	ck_assert_int_ge(D, 0);
}

static void teardown(void)
{
	if (D >= 0)
		TU_OK(tu_close(D));
	if (G >= 0)
		TU_OK(tu_close(G));
	if (C >= 0)
		TU_OK(tu_close(C));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_assert_emu_clean();
	TU_OK(emu_machine_check());
}

/* ------------------------------------------------------------- helpers */

/* VFIO_EEH_PE_OP @op on container @c: the ioctl's value or -errno. */
static int pe_op(int c, uint32_t op)
{
	struct vfio_eeh_pe_op a = { .argsz = sizeof(a), .op = op };

	return tu_ioctl(c, VFIO_EEH_PE_OP, &a);
}

static int inject(uint32_t type, uint32_t func, uint64_t addr, uint64_t mask)
{
	struct vfio_eeh_pe_op a = { .argsz = sizeof(a), .op = VFIO_EEH_PE_INJECT_ERR };

	a.err.type = type;
	a.err.func = func;
	a.err.addr = addr;
	a.err.mask = mask;
	return tu_ioctl(C, VFIO_EEH_PE_OP, &a);
}

static struct emu_pe_status status(int group)
{
	struct emu_pe_status st;

	TU_OK(emu_pe_status(group, &st));
	return st;
}

#define DMA_OK EMU_DMAE_STATUS_DONE
#define DMA_ERR(code) (EMU_DMAE_STATUS_ERROR | (code) << EMU_DMAE_STATUS_CODE_SHIFT)

/* ------------------------------------------------------- extension */

START_TEST(t_check_extension)
{
	int c = spapr_open_container();

	ck_assert_int_ge(c, 0);
	/* No driver yet: the VFIO core asks the sPAPR driver (eeh_enabled()). */
	ck_assert_int_eq(tu_ioctl(c, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_EEH), 1);
	ck_assert_int_eq(tu_ioctl(C, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_EEH), 1);
	TU_OK(tu_close(c));
}
END_TEST

START_TEST(t_set_iommu_eeh)
{
	int c = spapr_open_container(), g = spapr_open_group(1);

	ck_assert_int_ge(c, 0);
	ck_assert_int_ge(g, 0);
	TU_OK(tu_attach(g, c));
	/* tce_iommu_open refuses any type but 2 and 7 */
	TU_ERR(tu_set_iommu(c, VFIO_EEH), EINVAL);
	/* nothing changed: no driver (EINVAL from the core), then SET_IOMMU works */
	ck_assert_int_eq(pe_op(c, VFIO_EEH_PE_GET_STATE), -EINVAL);
	TU_OK(tu_set_iommu(c, VFIO_SPAPR_TCE_v2_IOMMU));
	ck_assert_int_eq(pe_op(c, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	TU_OK(tu_close(g));
	TU_OK(tu_close(c));
}
END_TEST

/* ----------------------------------------------------------- checks */

START_TEST(t_argsz_flags_op)
{
	struct vfio_eeh_pe_op a;
	uint32_t sz, bit;

	/* argsz from 0 up: below offsetofend(op) (12) is EINVAL, whatever the op */
	for (sz = 0; sz <= sizeof(a) + 8; sz++) {
		memset(&a, 0, sizeof(a));
		a.argsz = sz;
		a.op = VFIO_EEH_PE_GET_STATE;
		ck_assert_int_eq(tu_ioctl(C, VFIO_EEH_PE_OP, &a), sz < 12 ? -EINVAL : 0);
	}
	/* every flag bit */
	for (bit = 0; bit < 32; bit++) {
		memset(&a, 0, sizeof(a));
		a.argsz = sizeof(a);
		a.flags = 1u << bit;
		a.op = VFIO_EEH_PE_ENABLE;
		ck_assert_int_eq(tu_ioctl(C, VFIO_EEH_PE_OP, &a), -EINVAL);
	}
	ck_assert(!status(0).enabled);
	/* unknown ops */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_INJECT_ERR + 1), -EINVAL);
	ck_assert_int_eq(pe_op(C, 0x7fffffff), -EINVAL);
	ck_assert_int_eq(pe_op(C, 0xffffffff), -EINVAL);
	/* the struct unreadable */
	ck_assert_int_eq(tu_ioctl(C, VFIO_EEH_PE_OP, NULL), -EFAULT);
	/* a group fd does not know the request; a device fd neither */
	ck_assert_int_eq(pe_op(G, VFIO_EEH_PE_GET_STATE), -ENOTTY);
	ck_assert_int_eq(pe_op(D, VFIO_EEH_PE_GET_STATE), -ENOTTY);
	/* nothing changed */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	ck_assert_uint_eq(status(0).resets, 0);
}
END_TEST

/* v1 containers take the request too (tce_iommu_ioctl does not look at v2). */
START_TEST(t_v1_container)
{
	int c = spapr_open_container(), g = spapr_open_group(1);

	TU_OK(tu_attach(g, c));
	TU_OK(tu_set_iommu(c, VFIO_SPAPR_TCE_IOMMU));
	TU_OK(emu_pe_freeze(1));
	ck_assert_int_eq(pe_op(c, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	ck_assert_int_eq(pe_op(c, VFIO_EEH_PE_ENABLE), 0);
	ck_assert_int_eq(pe_op(c, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	TU_OK(tu_close(g));
	TU_OK(tu_close(c));
}
END_TEST

START_TEST(t_no_driver)
{
	int c = spapr_open_container(), g = spapr_open_group(1);

	/* no group: the VFIO core without a driver answers EINVAL */
	ck_assert_int_eq(pe_op(c, VFIO_EEH_PE_GET_STATE), -EINVAL);
	ck_assert_int_eq(tu_ioctl(c, VFIO_EEH_PE_OP, NULL), -EINVAL);
	TU_OK(tu_attach(g, c));
	ck_assert_int_eq(pe_op(c, VFIO_EEH_PE_ENABLE), -EINVAL);
	ck_assert(!status(1).enabled);
	TU_OK(tu_close(g));
	TU_OK(tu_close(c));
}
END_TEST

START_TEST(t_another_process)
{
	struct vfio_eeh_pe_op a = { .argsz = sizeof(a), .op = VFIO_EEH_PE_RESET_HOT };
	uint8_t *p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);	/* REGISTER binds the container to this process */
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (!pid)
		_exit(spapr_ioctl(C, VFIO_EEH_PE_OP, &a) == -1 && errno == EPERM ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	tdev_unmap_buf(C, p, 1, IOVA);
}
END_TEST

START_TEST(t_inject_checks)
{
	uint8_t *page = mmap(NULL, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct vfio_eeh_pe_op a;
	uint8_t *edge = page + PS - 12;
	uint32_t sz;

	ck_assert(page != MAP_FAILED);
	/* argsz 12 ... 39 passes the first check and fails INJECT_ERR's own */
	for (sz = 12; sz <= sizeof(a); sz++) {
		memset(&a, 0, sizeof(a));
		a.argsz = sz;
		a.op = VFIO_EEH_PE_INJECT_ERR;
		a.err.mask = ~0ull;
		a.err.func = 12;
		ck_assert_int_eq(tu_ioctl(C, VFIO_EEH_PE_OP, &a), sz < INJ_MINSZ ? -EINVAL : 0);
	}
	ck_assert_uint_eq(status(0).injections, 1);
	/* readable up to op, not up to err.mask: EFAULT from the second copy */
	ck_assert_int_eq(munmap(page + PS, PS), 0);
	/* argsz, flags, op written bytewise: the struct ends unaligned at the page's end */
	memcpy(edge, (uint32_t[3]){ INJ_MINSZ, 0, VFIO_EEH_PE_INJECT_ERR }, 12);
	ck_assert_int_eq(tu_ioctl(C, VFIO_EEH_PE_OP, edge), -EFAULT);
	/* ... while a GET_STATE there is fine: only 12 bytes are read */
	memcpy(edge, (uint32_t[3]){ INJ_MINSZ, 0, VFIO_EEH_PE_GET_STATE }, 12);
	ck_assert_int_eq(tu_ioctl(C, VFIO_EEH_PE_OP, edge), 0);
	/* eeh_pe_inject_err: type 0 or 1, function 0 ... 19 */
	ck_assert_int_eq(inject(2, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(inject(0xffffffff, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(inject(0, 20, 0, 0), -EINVAL);
	ck_assert_int_eq(inject(1, 0xffffffff, 0, 0), -EINVAL);
	ck_assert_uint_eq(status(0).injections, 1);
	ck_assert_int_eq(inject(0, 19, 0, 0), 0);
	ck_assert_int_eq(inject(1, 0, 0, 0), 0);
	ck_assert_uint_eq(status(0).injections, 3);
	ck_assert(status(0).inject_armed);
	ck_assert_int_eq(munmap(page, PS), 0);
}
END_TEST

/* ------------------------------------------------------ transitions */

START_TEST(t_states)
{
	struct emu_pe_status st;

	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	/* thawing a PE that is not frozen: 0, nothing changes (eeh_pci_enable) */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_IO), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_DMA), 0);
	ck_assert_uint_eq(status(0).recoveries, 0);

	/* frozen -> MMIO thawed -> DMA thawed */
	TU_OK(emu_pe_freeze(0));
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_IO), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED_DMA);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_DMA), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);

	/* frozen -> DMA thawed first: MMIO stopped alone is "unavailable" */
	TU_OK(emu_pe_freeze(0));
	TU_OK(emu_pe_freeze(0));	/* frozen already: counted once */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_DMA), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_UNAVAIL);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_IO), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);

	/* ENABLE thaws a frozen PE (eeh_pe_change_owner); DISABLE only disables */
	TU_OK(emu_pe_freeze(0));
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_ENABLE), 0);
	ck_assert(status(0).enabled);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	TU_OK(emu_pe_freeze(0));
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_DISABLE), 0);
	ck_assert(!status(0).enabled);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);

	/* hot reset: frozen and asserted; DEACTIVATE deasserts and thaws */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_HOT), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_RESET);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_DEACTIVATE), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	/* fundamental reset from a normal PE; CONFIGURE while asserted changes nothing visible */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_FUNDAMENTAL), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_FUNDAMENTAL), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_CONFIGURE), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_RESET);
	st = status(0);
	ck_assert_int_eq(st.reset, EMU_PE_RESET_FUNDAMENTAL);
	ck_assert(st.mmio_frozen && st.dma_frozen);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_DEACTIVATE), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_CONFIGURE), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	/* DEACTIVATE without a reset asserted: 0, a normal PE stays normal */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_DEACTIVATE), 0);

	st = status(0);
	ck_assert_uint_eq(st.freezes[EMU_PE_CAUSE_EXTERNAL], 4);
	ck_assert_uint_eq(st.freezes[EMU_PE_CAUSE_DMA_FAULT], 0);
	ck_assert_uint_eq(st.resets, 3);
	/* thaws, ENABLE, two DEACTIVATEs ended a frozen state */
	ck_assert_uint_eq(st.recoveries, 5);
	ck_assert_int_eq(st.reset, EMU_PE_RESET_DEACTIVATE);
}
END_TEST

START_TEST(t_frozen_device_fd)
{
	uint32_t v;
	uint8_t big[300];

	tdev_master_on(D);
	tdev_reg_wr(D, EMU_DMAE_SRC, 8, 0x1234);
	TU_OK(emu_pe_freeze(0));
	/* config and BAR reads: all ones */
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_VENDOR_ID, 2), 0xffff);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_COMMAND, 4), 0xffffffff);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_ID), ~0ull);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_SRC), ~0ull);
	/* writes are dropped */
	tdev_reg_wr(D, EMU_DMAE_SRC, 8, 0x5678);
	tdev_cfg_wr(D, EMU_PCI_COMMAND, 2, 0);
	/* the checks before the access stay: past the config space, past the BAR */
	ck_assert_int_eq(tdev_rd(D, &v, 4, TDEV_CFG + EMU_DEV_CFG_SIZE), -EFAULT);
	ck_assert_int_eq(tdev_rd(D, &v, 4, TDEV_REG(0) + 0x1000), -EINVAL);
	ck_assert_int_eq(tdev_rd(D, big, sizeof(big), TDEV_CFG), -EFAULT);
	ck_assert_uint_eq(status(0).mmio_stopped, 6);
	/* DMA thawed alone: still no MMIO */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_DMA), 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_VENDOR_ID, 2), 0xffff);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_IO), 0);
	/* what was written while frozen never arrived */
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_VENDOR_ID, 2), 0x1234);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_SRC), 0x1234);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_COMMAND, 2) & EMU_PCI_COMMAND_MASTER,
			  EMU_PCI_COMMAND_MASTER);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_ID) & 0xffffffff, EMU_DMAE_ID_VALUE);
}
END_TEST

/* A fault freezes only an EEH-enabled PE; a frozen PE's DMA fails and is logged. */
START_TEST(t_freeze_by_faulting_dma)
{
	uint8_t *p = tdev_map_buf(C, 2, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	struct emu_fault f[8];
	struct emu_pe_status st;

	tdev_master_on(D);
	memset(p, 0x5a, PS);
	/* EEH not enabled: a fault does not freeze */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 8 * PS, 16, EMU_DMAE_DIR_MEM_TO_MEM),
			  DMA_ERR(EMU_DMAE_ERR_FAULT));
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	ck_assert_uint_eq(tdev_faults(0, f, 8), 1);
	/* as QEMU does at machine reset */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_ENABLE), 0);
	/* the fault froze the PE before STATUS is read back: the read is all ones */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 8 * PS, 16, EMU_DMAE_DIR_MEM_TO_MEM), 0xffffffffu);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	ck_assert_uint_eq(tdev_faults(0, f, 8), 1);
	ck_assert_int_eq(f[0].reason, EMU_FAULT_NO_TRANSLATION);
	ck_assert_uint_eq(f[0].iova, IOVA + 8 * PS);
	/* frozen: the device's registers read all ones */
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_STATUS), ~0ull);
	/* the DMA path refuses a good transfer and logs it as "PE frozen" */
	TU_ERR(emu_dma_write(0, IOVA + PS, "x", 1), ESHUTDOWN);
	ck_assert_uint_eq(p[PS], 0);
	ck_assert_uint_eq(tdev_faults(0, f, 8), 1);
	ck_assert_int_eq(f[0].reason, EMU_FAULT_FROZEN);
	ck_assert_int_eq(f[0].access, EMU_DMA_WRITE);
	ck_assert_uint_eq(f[0].iova, IOVA + PS);
	ck_assert_str_eq(emu_fault_reason_name(EMU_FAULT_FROZEN), "PE frozen");
	st = status(0);
	ck_assert_uint_eq(st.freezes[EMU_PE_CAUSE_DMA_FAULT], 1);
	ck_assert_uint_eq(st.dma_stopped, 1);

	/* recovery as a guest's EEH driver runs it: reset, deassert, configure */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_HOT), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_RESET);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_DEACTIVATE), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_CONFIGURE), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_NORMAL);
	/* the model was reset (its error status is gone), the command register restored */
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_STATUS), 0);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_COMPLETED), 0);
	/* and the DMA engine works again */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + PS, 64, EMU_DMAE_DIR_MEM_TO_MEM), DMA_OK);
	ck_assert_uint_eq(p[PS + 63], 0x5a);
	ck_assert_uint_eq(tdev_faults(0, f, 8), 0);
	ck_assert_uint_eq(status(0).recoveries, 1);
	tdev_unmap_buf(C, p, 2, IOVA);
}
END_TEST

/* A reset leaves bus mastering off until DEACTIVATE restores the saved command register. */
START_TEST(t_reset_restores_config)
{
	uint8_t *p = tdev_map_buf(C, 2, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);

	tdev_master_on(D);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_FUNDAMENTAL), 0);
	/* the PE's MMIO is frozen during the reset; thaw it to look at the function */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_IO), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_RESET);
	/* the function's bus mastering was switched off by the reset (checked before the PE) */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + PS, 8, EMU_DMAE_DIR_MEM_TO_MEM), DMA_ERR(EMU_DMAE_ERR_MASTER));
	/* and the PE's DMA is still stopped */
	TU_ERR(emu_dma_write(0, IOVA, "x", 1), ESHUTDOWN);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_DMA), 0);
	TU_OK(emu_dma_write(0, IOVA, "x", 1));
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + PS, 8, EMU_DMAE_DIR_MEM_TO_MEM), DMA_ERR(EMU_DMAE_ERR_MASTER));
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_DEACTIVATE), 0);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + PS, 8, EMU_DMAE_DIR_MEM_TO_MEM), DMA_OK);
	tdev_unmap_buf(C, p, 2, IOVA);
}
END_TEST

START_TEST(t_inject)
{
	uint8_t *p = tdev_map_buf(C, 4, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	struct emu_fault f[4];
	uint8_t b = 0;

	tdev_master_on(D);
	/* DMA write address (function 16), 64-bit: matches the page at IOVA + 2 pages only */
	ck_assert_int_eq(inject(1, 16, IOVA + 2 * PS, ~(PS - 1)), 0);
	TU_OK(emu_dma_write(0, IOVA, "a", 1));
	TU_OK(emu_dma_read(0, IOVA + 2 * PS, &b, 1));	/* a read does not match */
	TU_ERR(emu_dma_write(0, IOVA + 2 * PS + 5, "b", 1), ESHUTDOWN);
	ck_assert_uint_eq(p[2 * PS + 5], 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 1);
	ck_assert_int_eq(f[0].reason, EMU_FAULT_FROZEN);
	ck_assert_uint_eq(status(0).freezes[EMU_PE_CAUSE_INJECTED], 1);
	ck_assert(!status(0).inject_armed);	/* one shot */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_ENABLE), 0);
	TU_OK(emu_dma_write(0, IOVA + 2 * PS + 5, "b", 1));
	ck_assert_uint_eq(p[2 * PS + 5], 'b');

	/* DMA read (function 13) through the engine */
	ck_assert_int_eq(inject(1, 13, IOVA + PS, ~0ull), 0);
	ck_assert_uint_eq(tdev_dma(D, IOVA + PS, IOVA, 8, EMU_DMAE_DIR_MEM_TO_MEM), 0xffffffffu);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 1);
	ck_assert_int_eq(f[0].access, EMU_DMA_READ);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_ENABLE), 0);
	/* thawed, the engine tells what happened */
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_STATUS), DMA_ERR(EMU_DMAE_ERR_FROZEN));

	/* MMIO load (function 0) at BAR0's bus address + 8 */
	tdev_cfg_wr(D, EMU_PCI_BASE_ADDRESS_0, 4, 0x80000000);
	ck_assert_int_eq(inject(0, 0, 0x80000000 + EMU_DMAE_SRC, ~0ull), 0);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_ID) & 0xffffffff, EMU_DMAE_ID_VALUE);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_SRC), ~0ull);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_ENABLE), 0);

	/* config store (function 10) at the command register: dropped, frozen */
	ck_assert_int_eq(inject(1, 10, EMU_PCI_COMMAND, ~0ull), 0);
	tdev_cfg_wr(D, EMU_PCI_COMMAND, 2, 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_ENABLE), 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_COMMAND, 2) & EMU_PCI_COMMAND_MASTER,
			  EMU_PCI_COMMAND_MASTER);

	/* type 0 compares 32 bits: the high half of addr is ignored (config load, function 5) */
	ck_assert_int_eq(inject(0, 5, 0x100000000ull | EMU_PCI_VENDOR_ID, ~0ull), 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_VENDOR_ID, 2), 0xffff);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_ENABLE), 0);
	/* an IO error (function 2) never matches: the functions have no IO BARs */
	ck_assert_int_eq(inject(1, 2, 0, 0), 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_VENDOR_ID, 2), 0x1234);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_ID) & 0xffffffff, EMU_DMAE_ID_VALUE);
	ck_assert(status(0).inject_armed);
	ck_assert_uint_eq(status(0).freezes[EMU_PE_CAUSE_INJECTED], 5);
	tdev_unmap_buf(C, p, 4, IOVA);
}
END_TEST

/* tce_iommu_ioctl: the op runs on every group, newest first, until one answers non-zero. */
START_TEST(t_two_groups)
{
	int g1 = spapr_open_group(1);

	ck_assert_int_ge(g1, 0);
	TU_OK(tu_attach(g1, C));
	/* group 1 (newest) normal, group 0 frozen: GET_STATE goes on to group 0 */
	TU_OK(emu_pe_freeze(0));
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	/* thaws apply to both */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_IO), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_UNFREEZE_DMA), 0);
	ck_assert_int_eq(emu_pe_get_state(0), EMU_PE_STATE_NORMAL);
	/* group 1 frozen: its answer ends the walk */
	TU_OK(emu_pe_freeze(1));
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	/* a reset of the container resets both */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_HOT), 0);
	ck_assert_int_eq(emu_pe_get_state(0), EMU_PE_STATE_RESET);
	ck_assert_int_eq(emu_pe_get_state(1), EMU_PE_STATE_RESET);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_DEACTIVATE), 0);
	ck_assert_int_eq(emu_pe_get_state(0), EMU_PE_STATE_NORMAL);
	ck_assert_int_eq(emu_pe_get_state(1), EMU_PE_STATE_NORMAL);
	/* injections arm every group */
	ck_assert_int_eq(inject(1, 12, 0, 0), 0);
	ck_assert(status(0).inject_armed && status(1).inject_armed);
	/* after group 0 leaves and comes back it is the newest */
	TU_OK(tu_close(D));
	D = -1;
	TU_OK(spapr_ioctl(G, VFIO_GROUP_UNSET_CONTAINER) ? -errno : 0);
	TU_OK(tu_attach(G, C));
	TU_OK(emu_pe_freeze(1));
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_GET_STATE), VFIO_EEH_PE_STATE_STOPPED);
	TU_OK(tu_close(g1));
}
END_TEST

/* ------------------------------------------------------------ fail-nth */

static int run_all_ops(void *ctx)
{
	static const uint32_t ops[] = {
		VFIO_EEH_PE_ENABLE, VFIO_EEH_PE_GET_STATE, VFIO_EEH_PE_UNFREEZE_IO,
		VFIO_EEH_PE_UNFREEZE_DMA, VFIO_EEH_PE_RESET_HOT, VFIO_EEH_PE_RESET_DEACTIVATE,
		VFIO_EEH_PE_RESET_FUNDAMENTAL, VFIO_EEH_PE_RESET_DEACTIVATE, VFIO_EEH_PE_CONFIGURE,
		VFIO_EEH_PE_DISABLE,
	};
	int rc;

	(void)ctx;
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		rc = pe_op(C, ops[i]);
		if (rc < 0)
			return rc;
	}
	rc = inject(1, 16, 0, 0);
	return rc < 0 ? rc : emu_pe_freeze(0);
}

static void check_all_ops(void *ctx, int rc)
{
	(void)ctx;
	/* the only failure points are the copies of the struct (EFAULT) */
	ck_assert(rc == 0 || rc == -EFAULT);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_RESET_DEACTIVATE), 0);
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_ENABLE), 0);
	ck_assert_int_eq(emu_pe_get_state(0), EMU_PE_STATE_NORMAL);
	tu_assert_emu_clean();
}

START_TEST(t_fail_nth_no_allocation)
{
	/* No EEH op allocates: one failure point per copy-in, 10 ops and INJECT_ERR's two. */
	ck_assert_uint_eq(tu_sweep(run_all_ops, check_all_ops, NULL), 12);
}
END_TEST

/* ------------------------------------------------------------ no EEH */

static void no_eeh_setup(void)
{
	struct emu_machine_config cfg;

	emu_machine_config_default(&cfg);
	cfg.eeh = false;
	TU_OK(emu_machine_configure(&cfg));
	setup();
}

START_TEST(t_machine_without_eeh)
{
	uint8_t *p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	struct emu_pe_status st;

	ck_assert_int_eq(tu_ioctl(C, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_EEH), 0);
	/* no PE: ENODEV before the struct is even read (eeh_iommu_group_to_pe) */
	ck_assert_int_eq(pe_op(C, VFIO_EEH_PE_ENABLE), -ENODEV);
	ck_assert_int_eq(tu_ioctl(C, VFIO_EEH_PE_OP, NULL), -ENODEV);
	TU_ERR(emu_pe_freeze(0), ENODEV);
	TU_ERR(emu_pe_get_state(0), ENODEV);
	TU_ERR(emu_pe_status(0, &st), ENODEV);
	TU_ERR(emu_pe_inject(0, 0, 0, 0, 0), ENODEV);
	TU_ERR(emu_pe_set_enabled(0, true), ENODEV);
	/* a fault freezes nothing */
	tdev_master_on(D);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 8 * PS, 8, EMU_DMAE_DIR_MEM_TO_MEM),
			  DMA_ERR(EMU_DMAE_ERR_FAULT));
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 8, 8, EMU_DMAE_DIR_MEM_TO_MEM), DMA_OK);
	ck_assert(emu_pe_access(0, EMU_PE_LOAD_CFG, 0));
	tdev_unmap_buf(C, p, 1, IOVA);
}
END_TEST

START_TEST(t_machine_key)
{
	struct emu_machine_config cfg;

	setenv("SPAPRTCE_MACHINE", "eeh=0", 1);
	TU_OK(emu_machine_get_config(&cfg));
	ck_assert(!cfg.eeh);
	unsetenv("SPAPRTCE_MACHINE");
	TU_OK(emu_machine_reset());
	setenv("SPAPRTCE_MACHINE", "eeh=2", 1);	/* out of range: the variable is ignored */
	TU_OK(emu_machine_get_config(&cfg));
	ck_assert(cfg.eeh);
	unsetenv("SPAPRTCE_MACHINE");
	TU_ERR(emu_pe_get_state(-1), ENODEV);
	TU_ERR(emu_pe_reset(0, (enum emu_pe_reset)7), EINVAL);
	ck_assert_str_eq(emu_pe_cause_name(EMU_PE_CAUSE_EXTERNAL), "external");
	ck_assert_str_eq(emu_pe_cause_name(EMU_PE_CAUSE_NCAUSES), "?");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("eeh");
	TCase *t = tcase_create("eeh");
	TCase *n = tcase_create("no eeh");
	TCase *m = tcase_create("machine");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, t_check_extension);
	tcase_add_test(t, t_set_iommu_eeh);
	tcase_add_test(t, t_argsz_flags_op);
	tcase_add_test(t, t_no_driver);
	tcase_add_test(t, t_v1_container);
	tcase_add_test(t, t_another_process);
	tcase_add_test(t, t_inject_checks);
	tcase_add_test(t, t_states);
	tcase_add_test(t, t_frozen_device_fd);
	tcase_add_test(t, t_freeze_by_faulting_dma);
	tcase_add_test(t, t_reset_restores_config);
	tcase_add_test(t, t_inject);
	tcase_add_test(t, t_two_groups);
	tcase_add_test(t, t_fail_nth_no_allocation);
	suite_add_tcase(s, t);
	tcase_add_checked_fixture(n, no_eeh_setup, teardown);
	tcase_add_test(n, t_machine_without_eeh);
	suite_add_tcase(s, n);
	tcase_add_test(m, t_machine_key);
	suite_add_tcase(s, m);
	return tu_run(s);
}
