/* SPDX-License-Identifier: MIT */
/*
 * emu/mem_priv.h: internals shared by the emu/mem_*.c files.  Not for other
 * layers: they use emu/mem.h.
 */
#ifndef SPAPRTCE_EMU_MEM_PRIV_H
#define SPAPRTCE_EMU_MEM_PRIV_H

#include <stdint.h>

#include "emu/mem.h"

/* A run of user memory with one backing page size: [start, end), 2^shift pages. */
struct emu__backing_run {
	uint64_t start;
	uint64_t end;
	unsigned shift;
};

/*
 * Describes the backing of [ua, end): checks that every byte is mapped and
 * writable and fills *runs (malloc'ed, merged where the shift is equal) with
 * their page sizes, from the kernel or the installed oracle.
 * Returns 0, -EFAULT (hole or read-only), -ENOMEM.
 */
int emu__mem_probe(uint64_t ua, uint64_t end, struct emu__backing_run **runs, unsigned *nruns);

/* Forces the /proc/self/smaps parser even where PROCMAP_QUERY works (tests). */
void emu__mem_probe_force_smaps(int on);

/* mem_hpa.c: the hpas of a run inside one backing run (see emu_pin_hpas). */
void emu__hpa_run(uint64_t ua, uint64_t n, unsigned step_shift, unsigned backing_shift,
		  uint64_t *out);
/* The same, big-endian with @low ORed in, stored to a shared array (see emu_pin_hpas_be). */
void emu__hpa_run_be(uint64_t ua, uint64_t n, unsigned step_shift, unsigned backing_shift,
		     uint64_t low, uint64_t *dst);

/* Per-file parts of emu_mem_get_stats() and emu_mem_check(); each takes its own lock. */
void emu__mem_pin_stats(struct emu_mem_stats *st);
void emu__mem_table_stats(struct emu_mem_stats *st);
int emu__mem_pin_check(void);
int emu__mem_table_check(void);

#endif
