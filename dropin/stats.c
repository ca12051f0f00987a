/* SPDX-License-Identifier: MIT */
/*
 * The statistics at exit (SPAPRTCE_STATS=FILE, "-" for stderr).
 *
 * A program run through the layer (QEMU booting a guest, typically) never
 * says what its device did through the IOMMU, and by the time it exits the
 * emulator is gone with it.  So when SPAPRTCE_STATS is set, the process
 * that made the first VFIO request writes, in its exit (a destructor: it
 * runs for exit() and a return from main, as QEMU's orderly shutdown after
 * SIGTERM or a guest's power-off does; not for a program killed by a
 * signal), what the emulated hardware saw:
 *
 *   spaprtce-stats requests map_dma N (bytes B, failed F) unmap_dma N (bytes B) ...
 *   spaprtce-stats group G dev BDF model M windows W dma_reads N (bytes B) dma_writes N (bytes B) kills N (pages P) faults F overflow O
 *   spaprtce-stats group G eeh enabled E state S freezes dma_fault N injected N external N recoveries N
 *   spaprtce-stats group G window S bus 0xADDR entries N page_shift P levels L
 *   spaprtce-stats group G fault seq N iova 0x.. tce 0x.. access read|write reason "..."
 *   spaprtce-stats faults TOTAL
 *
 * one line each, the last one always last: a checker reads "faults 0".
 * The request counts are the layer's own (each successful MAP_DMA's size
 * is bytes mapped, each UNMAP_DMA's the size the backend wrote back); the
 * rest is emu_group_get_stats(), emu_pe_status() (the eeh line, on a
 * machine with EEH: docs/eeh.md) and the fault log's unread records
 * (emu_fault_log_read: at exit nobody else will read them).  In record
 * mode there is no emulator: only the request counts are written.
 *
 * The counting is on only when SPAPRTCE_STATS is set at the layer's
 * start (dropin__stats_init): reading a request's size back is a
 * process_vm_readv, which DPDK's 16,384 MAP_DMA calls paid for nothing.
 */
#define _GNU_SOURCE
#include <linux/vfio.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dropin/dropin.h"
#include "emu/emu.h"

static struct {
	uint64_t map, map_bytes, map_failed;
	uint64_t unmap, unmap_bytes, unmap_failed;
	uint64_t create, remove, reg, unreg;
} st;
static pid_t stats_pid;		/* the process whose requests these are (0: none yet) */
static bool stats_on;		/* SPAPRTCE_STATS was set at the start */

void dropin__stats_init(void)
{
	const char *path = getenv("SPAPRTCE_STATS");

	__atomic_store_n(&stats_on, path && *path, __ATOMIC_RELAXED);
}

/* The u64 at @off of the program's struct @arg (0 when unreadable). */
static uint64_t peek_u64(const void *arg, size_t off)
{
	uint64_t v;

	return dropin__peek(&v, (const char *)arg + off, sizeof(v)) ? 0 : v;
}

/* A MAP_DMA or UNMAP_DMA: one more, its bytes, or one more failed. */
static void count(uint64_t *n, uint64_t *bytes, uint64_t *failed, int rc, uint64_t size)
{
	if (rc < 0) {
		__atomic_add_fetch(failed, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(bytes, size, __ATOMIC_RELAXED);
}

void dropin__stats_ioctl(unsigned long req, const void *arg, int rc)
{
	if (!__atomic_load_n(&stats_on, __ATOMIC_RELAXED))
		return;
	if (!__atomic_load_n(&stats_pid, __ATOMIC_RELAXED))
		__atomic_store_n(&stats_pid, getpid(), __ATOMIC_RELAXED);
	switch (req) {
	case VFIO_IOMMU_MAP_DMA:
		count(&st.map, &st.map_bytes, &st.map_failed, rc,
		      rc < 0 ? 0 : peek_u64(arg, offsetof(struct vfio_iommu_type1_dma_map, size)));
		break;
	case VFIO_IOMMU_UNMAP_DMA:
		count(&st.unmap, &st.unmap_bytes, &st.unmap_failed, rc,
		      rc < 0 ? 0 : peek_u64(arg, offsetof(struct vfio_iommu_type1_dma_unmap, size)));
		break;
	case VFIO_IOMMU_SPAPR_TCE_CREATE:
		if (rc >= 0)
			__atomic_add_fetch(&st.create, 1, __ATOMIC_RELAXED);
		break;
	case VFIO_IOMMU_SPAPR_TCE_REMOVE:
		if (rc >= 0)
			__atomic_add_fetch(&st.remove, 1, __ATOMIC_RELAXED);
		break;
	case VFIO_IOMMU_SPAPR_REGISTER_MEMORY:
		if (rc >= 0)
			__atomic_add_fetch(&st.reg, 1, __ATOMIC_RELAXED);
		break;
	case VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY:
		if (rc >= 0)
			__atomic_add_fetch(&st.unreg, 1, __ATOMIC_RELAXED);
		break;
	default:
		break;
	}
}

static const char *access_name(enum emu_dma_access a)
{
	return a == EMU_DMA_WRITE ? "write" : "read";
}

/* One group's lines; returns its faults (counted and unread), or 0 without a device. */
static uint64_t group_report(FILE *f, int g)
{
	struct emu_group_stats gs;
	struct emu_dev_info di;
	struct emu_pe_status pe;
	struct emu_fault rec[16];
	uint64_t faults = 0;
	unsigned w, windows = 0, n = 0, i;

	if (emu_group_get_stats(g, &gs))
		return 0;
	if (emu_dev_info(g, &di))
		snprintf(di.model, sizeof(di.model), "none");
	for (w = 0; w < EMU_MAX_WINDOWS; w++)
		windows += gs.programmed[w];
	for (i = 0; i < EMU_FAULT_NREASONS; i++)
		faults += gs.faults[i];
	fprintf(f, "spaprtce-stats group %d dev %s model %s windows %u dma_reads %llu (bytes %llu) "
		"dma_writes %llu (bytes %llu) kills %llu (pages %llu) faults %llu overflow %llu\n",
		g, di.name, di.model, windows, (unsigned long long)gs.dma_reads,
		(unsigned long long)gs.bytes_read, (unsigned long long)gs.dma_writes,
		(unsigned long long)gs.bytes_written, (unsigned long long)gs.kills,
		(unsigned long long)gs.killed_pages, (unsigned long long)faults,
		(unsigned long long)gs.fault_overflow);
	if (!emu_pe_status(g, &pe))
		fprintf(f, "spaprtce-stats group %d eeh enabled %d state %d freezes dma_fault %llu injected %llu "
			"external %llu recoveries %llu\n", g, pe.enabled, emu_pe_get_state(g),
			(unsigned long long)pe.freezes[EMU_PE_CAUSE_DMA_FAULT],
			(unsigned long long)pe.freezes[EMU_PE_CAUSE_INJECTED],
			(unsigned long long)pe.freezes[EMU_PE_CAUSE_EXTERNAL],
			(unsigned long long)pe.recoveries);
	for (w = 0; w < EMU_MAX_WINDOWS; w++)
		if (gs.programmed[w])
			fprintf(f, "spaprtce-stats group %d window %u bus 0x%llx entries %llu page_shift %u levels %u\n",
				g, w, (unsigned long long)gs.windows[w].bus_offset,
				(unsigned long long)gs.windows[w].size, gs.windows[w].page_shift,
				gs.windows[w].levels);
	if (!emu_fault_log_read(g, rec, 16, &n))
		for (i = 0; i < n; i++)
			fprintf(f, "spaprtce-stats group %d fault seq %llu iova 0x%llx tce 0x%llx access %s reason \"%s\"\n",
				g, (unsigned long long)rec[i].seq, (unsigned long long)rec[i].iova,
				(unsigned long long)rec[i].tce, access_name(rec[i].access),
				emu_fault_reason_name(rec[i].reason));
	return faults;
}

static void report(FILE *f)
{
	struct emu_machine_config c;
	uint64_t faults = 0;
	unsigned g;

#define LD(x) ((unsigned long long)__atomic_load_n(&st.x, __ATOMIC_RELAXED))
	fprintf(f, "spaprtce-stats requests map_dma %llu (bytes %llu, failed %llu) unmap_dma %llu "
		"(bytes %llu, failed %llu) tce_create %llu tce_remove %llu register %llu unregister %llu\n",
		LD(map), LD(map_bytes), LD(map_failed), LD(unmap), LD(unmap_bytes), LD(unmap_failed),
		LD(create), LD(remove), LD(reg), LD(unreg));
#undef LD
	if (!dropin__backend()->real && !emu_machine_get_config(&c))
		for (g = 0; g < c.groups; g++)
			faults += group_report(f, (int)g);
	fprintf(f, "spaprtce-stats faults %llu\n", (unsigned long long)faults);
}

__attribute__((destructor)) static void stats_fini(void)
{
	const char *path = getenv("SPAPRTCE_STATS");
	pid_t pid = __atomic_load_n(&stats_pid, __ATOMIC_RELAXED);
	FILE *f;

	if (!path || !*path || !pid || pid != getpid())
		return;
	dropin__enter();
	f = strcmp(path, "-") ? fopen(path, "ae") : stderr;
	if (f) {
		report(f);
		if (f != stderr)
			fclose(f);
		else
			fflush(f);
	}
	dropin__leave();
}
