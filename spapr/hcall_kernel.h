/* SPDX-License-Identifier: MIT */
/*
 * spapr/hcall_kernel.h: the hypercalls as KVM makes them, for quirks=kernel
 * (quirk Q12, docs/quirks.md; spapr/hcall_kernel.c has the story).
 *
 * Concepts
 *   Each function replaces hreq_run (spapr/hcall.c) for one hypercall when
 *   emu__quirk(EMU_Q12) holds: same request (struct hcall_req, after the
 *   table, range and, for INDIRECT, the list's address were checked), same
 *   locks taken inside, but KVM's order: validate the TCEs with R or W,
 *   then apply them one by one, window by window, a failure leaving the
 *   TCEs before it applied.  The default mode never calls them.
 *
 * Caller: the guest lock held for reading and inside the mmreg read
 * section, as for hreq_run.  Return an H_* code.
 */
#ifndef SPAPRTCE_HCALL_KERNEL_H
#define SPAPRTCE_HCALL_KERNEL_H

#include "spapr/hcall_req.h"

long spapr__hcall_kernel_put(struct hcall_req *q);	/* kvmppc_h_put_tce; q->list_be: the TCE */
long spapr__hcall_kernel_indirect(struct hcall_req *q);	/* kvmppc_h_put_tce_indirect */
long spapr__hcall_kernel_stuff(struct hcall_req *q);	/* kvmppc_h_stuff_tce; q->stuff */

#endif
