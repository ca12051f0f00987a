/* SPDX-License-Identifier: MIT */
/*
 * emu/mem_priv.h: internals shared by the emu/mem_*.c files.  Not for other
 * layers: they use emu/mem.h.
 */
#ifndef SPAPRTCE_EMU_MEM_PRIV_H
#define SPAPRTCE_EMU_MEM_PRIV_H

#include <stdint.h>
#include <sys/ioctl.h>

#include "emu/mem.h"

/* From <linux/fs.h> of Linux 6.11; the build machine's headers may be older. */
struct emu_procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};
#define EMU_PROCMAP_VMA_READABLE 0x01
#define EMU_PROCMAP_VMA_WRITABLE 0x02
#define EMU_PROCMAP_VMA_SHARED 0x08
#define EMU_PROCMAP_COVERING_OR_NEXT_VMA 0x10
#define EMU_PROCMAP_QUERY _IOWR('f', 17, struct emu_procmap_query)

/*
 * A run of user memory with one backing page size: [start, end), 2^shift
 * pages.  A run of a shared mapping (EMU__RUN_SHARED) lies inside one VMA
 * and says where: [vma_start, vma_end) at file offset vma_off, so that the
 * pin can map the same pages a second time (its alias, see mem_pin.c).
 */
#define EMU__RUN_SHARED 1u
struct emu__backing_run {
	uint64_t start;
	uint64_t end;
	unsigned shift;
	unsigned flags;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_off;
};

/*
 * Describes the backing of [ua, end): checks that every byte is mapped and
 * writable and may be pinned long-term for writing, and fills *runs
 * (malloc'ed, merged where shift and flags are equal, shared runs never
 * across VMAs) with their page sizes, from the kernel or the installed
 * oracle.  Returns 0, -EFAULT (hole, read-only, or a shared writable
 * mapping of a file that needs dirty tracking: see mem_probe.c), -ENOMEM.
 */
int emu__mem_probe(uint64_t ua, uint64_t end, bool write, struct emu__backing_run **runs,
		    unsigned *nruns);

/*
 * The process-wide descriptor of /proc/self/maps for PROCMAP_QUERY, opened
 * on first use (mem_pin.c; a forked child's is closed by the child's fork
 * handler, so the child opens its own), or -1.  Never to be closed.
 */
int emu__mem_maps_fd(void);

/* Forces the /proc/self/smaps parser even where PROCMAP_QUERY works (tests). */
void emu__mem_probe_force_smaps(int on);

/* mem_hpa.c: the hpas of a run inside one backing run (see emu_pin_hpas). */
void emu__hpa_run(uint64_t ua, uint64_t n, unsigned step_shift, unsigned backing_shift,
		  uint64_t *out);
/* The same, big-endian with @low ORed in, stored to a shared array (see emu_pin_hpas_be). */
void emu__hpa_run_be(uint64_t ua, uint64_t n, unsigned step_shift, unsigned backing_shift,
		     uint64_t low, uint64_t *dst);

/*
 * Test hook: the most pins one page may hold (COUNT_MAX in mem_pin.c, about
 * four million); 0 restores it.  Lets a test reach the limit with a few pins.
 */
void emu__mem_set_pin_count_max(uint32_t max);

/*
 * Test hook: how many private-memory checks of DMA pages (emu__mem_check_pages
 * calls) took the fast way (the mapping still mlocked) and the full one
 * (frames read from pagemap), and how many lock queries (msync) were made,
 * since the process started.
 */
void emu__mem_check_counts(uint64_t *fast, uint64_t *full, uint64_t *lock_queries);

/* Per-file parts of emu_mem_get_stats() and emu_mem_check(); each takes its own lock. */
void emu__mem_pin_stats(struct emu_mem_stats *st);
void emu__mem_table_stats(struct emu_mem_stats *st);
int emu__mem_pin_check(void);
int emu__mem_table_check(void);

#endif
