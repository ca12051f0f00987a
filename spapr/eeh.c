/* SPDX-License-Identifier: MIT */
/*
 * VFIO_EEH_PE_OP on a container (a row of tce_container.c's table) and the
 * answer to CHECK_EXTENSION(VFIO_EEH).  The PE state machine is emu/'s
 * (emu/pe.c); this file is the kernel's VFIO side of it:
 *
 *   tce_iommu_ioctl, case VFIO_EEH_PE_OP (vfio_iommu_spapr_tce.c): calls
 *   the op for every group of the container's group list, newest first (the
 *   list is built with list_add), and returns the first non-zero result; a
 *   GET_STATE that answers NORMAL (0) therefore goes on to the next group.
 *   vfio_spapr_ioctl_eeh_pe_op (formerly vfio_spapr_iommu_eeh_ioctl in
 *   vfio_spapr_eeh.c), per group: no PE is ENODEV (eeh_iommu_group_to_pe),
 *   then the copy of the struct up to `op` (EFAULT), argsz below that or any
 *   flag (EINVAL), the op; INJECT_ERR then needs argsz up to err.mask
 *   (EINVAL) and copies that much (EFAULT); an unknown op is EINVAL.
 *
 * The dispatcher makes the first checks once (the row's `before` is the PE
 * check, the copy, argsz and flags are the row's); every group of a
 * container sits on the same machine, so a check that passes for the
 * first group passes for all and doing it once changes no outcome.
 */
#include <errno.h>
#include <linux/vfio.h>

#include "emu/emu.h"
#include "spapr/spapr_priv.h"

/* emu/'s state numbers are the ones VFIO reports. */
_Static_assert(EMU_PE_STATE_NORMAL == VFIO_EEH_PE_STATE_NORMAL &&
		       EMU_PE_STATE_RESET == VFIO_EEH_PE_STATE_RESET &&
		       EMU_PE_STATE_STOPPED == VFIO_EEH_PE_STATE_STOPPED &&
		       EMU_PE_STATE_STOPPED_DMA == VFIO_EEH_PE_STATE_STOPPED_DMA &&
		       EMU_PE_STATE_UNAVAIL == VFIO_EEH_PE_STATE_UNAVAIL,
	       "PE states");

/* CHECK_EXTENSION(VFIO_EEH): eeh_enabled(), the machine's `eeh`. */
int spapr__eeh_extension(void)
{
	struct emu_machine_config cfg;

	return !emu_machine_get_config(&cfg) && cfg.eeh;
}

/* The row's check before the copy-in: the group has a PE (ENODEV, eeh_iommu_group_to_pe). */
int spapr__eeh_before(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	struct spapr_container *c = tc->c;
	int rc;

	if (!c->ngroups)
		return 0;
	rc = emu_pe_get_state(c->groups[c->ngroups - 1]->id);
	return rc < 0 ? rc : 0;
}

/* One op on one group: the eeh_pe_* call of vfio_spapr_ioctl_eeh_pe_op's switch. */
static int pe_op(int group, const struct vfio_eeh_pe_op *op)
{
	switch (op->op) {
	case VFIO_EEH_PE_DISABLE:
		return emu_pe_set_enabled(group, false);
	case VFIO_EEH_PE_ENABLE:
		return emu_pe_set_enabled(group, true);
	case VFIO_EEH_PE_UNFREEZE_IO:
		return emu_pe_thaw(group, false);
	case VFIO_EEH_PE_UNFREEZE_DMA:
		return emu_pe_thaw(group, true);
	case VFIO_EEH_PE_GET_STATE:
		return emu_pe_get_state(group);
	case VFIO_EEH_PE_RESET_DEACTIVATE:
		return emu_pe_reset(group, EMU_PE_RESET_DEACTIVATE);
	case VFIO_EEH_PE_RESET_HOT:
		return emu_pe_reset(group, EMU_PE_RESET_HOT);
	case VFIO_EEH_PE_RESET_FUNDAMENTAL:
		return emu_pe_reset(group, EMU_PE_RESET_FUNDAMENTAL);
	case VFIO_EEH_PE_CONFIGURE:
		return emu_pe_configure(group);
	case VFIO_EEH_PE_INJECT_ERR:
		return emu_pe_inject(group, op->err.type, op->err.func, op->err.addr,
				     op->err.mask);
	default:
		return -EINVAL;
	}
}

/* Under group_lock (read). */
int spapr__ioctl_eeh_pe_op(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	struct spapr_container *c = tc->c;
	struct vfio_eeh_pe_op op = *(const struct vfio_eeh_pe_op *)rq->buf;
	int rc = 0;

	util_rwlock_assert_held(&c->group_lock);
	if (op.op == VFIO_EEH_PE_INJECT_ERR) {
		uint32_t minsz = SPAPR_IOCTL_MINSZ(struct vfio_eeh_pe_op, err.mask);

		if (rq->argsz < minsz)
			return -EINVAL;
		rc = spapr__copy_in(&op, rq->arg, minsz);
		if (rc)
			return rc;
	}
	/* Newest group first, as the kernel's list; the first non-zero result ends it. */
	for (unsigned i = c->ngroups; i-- > 0 && !rc;)
		rc = pe_op(c->groups[i]->id, &op);
	return rc;
}
