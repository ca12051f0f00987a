/* SPDX-License-Identifier: MIT */
/*
 * emu/quirk.h: which answer a kernel quirk gets (docs/quirks.md).
 *
 * Concepts
 *   quirk   A place where the kernel's sPAPR TCE code does something that
 *           looks like a bug (Q1 ... Q17 of docs/quirks.md; Q9 and Q14
 *           have no branch: docs/quirks.md says why).  The machine's
 *           quirks setting (struct emu_machine_config.quirks, env key
 *           quirks=fixed|kernel) chooses, for all of them at once, between
 *           our fixed answer (the default) and the kernel's exact one.
 *   emu__quirk(Qn)  true when the kernel's answer is wanted at the place of
 *           quirk Qn.  Every such place reads `if (emu__quirk(EMU_Q3))`, so
 *           that a grep for a quirk's name finds all of its code.
 *
 * Why in emu/: the setting is part of the machine's configuration ("which
 * host kernel do we play"), and emu/ is the bottom layer, so mmreg/, tce/
 * and spapr/ may all read it without an upward dependency.  Lock-free.
 */
#ifndef SPAPRTCE_EMU_QUIRK_H
#define SPAPRTCE_EMU_QUIRK_H

#include <stdbool.h>

#include "emu/emu.h"

enum emu_quirk {
	EMU_Q1 = 1,	/* +1 from the ioba/gpa parameter checks of MAP and UNMAP */
	EMU_Q2,		/* only the first entry of an ioba range is checked */
	EMU_Q3,		/* UNREGISTER of a mapped region answers 0 and orphans it */
	EMU_Q4,		/* MAP answers 0 after a partial map on a dying region */
	EMU_Q5,		/* a partial pin count is REGISTER's (positive) result */
	EMU_Q6,		/* a table creation failing after its charge leaks it */
	EMU_Q7,		/* a failed entry write leaks the new region's mapped increment */
	EMU_Q8,		/* the hugepage running size is not reset per page */
	EMU_Q10,	/* detaching one group clears every window's entries */
	EMU_Q11,	/* an uncharge larger than locked_vm wraps */
	EMU_Q12,	/* hypercalls applied TCE by TCE, KVM's half-applied failures */
	EMU_Q13,	/* size-0 REGISTER answers ENOMEM */
	EMU_Q15,	/* hypercalls still write a removed window a guest table holds */
	EMU_Q16,	/* KVM_CREATE_SPAPR_TCE_64's offset + size may wrap */
	EMU_Q17,	/* hypercalls map registered pages into a v1 window; v1 unpins them */
};

/*
 * Test hook: switch the running machine's quirks (EMU_QUIRKS_FIXED or
 * EMU_QUIRKS_KERNEL).  Only while nothing is open, registered or charged:
 * the fuzz harness between two inputs, whose machine started long before.
 * Applications configure the mode before the start (emu_machine_configure,
 * SPAPRTCE_MACHINE); this bypasses the "before the start" rule on purpose.
 */
void emu__machine_set_quirks(unsigned quirks);

static inline bool emu__quirk(enum emu_quirk q)
{
	(void)q;	/* one switch for all of them; the name documents the place */
	return emu_machine_quirks_kernel();
}

#endif
