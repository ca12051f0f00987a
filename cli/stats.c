/* SPDX-License-Identifier: MIT */
/*
 * spaprtce stats [--after FILE]: the emulated machine, group by group:
 * programmed windows (geometry, and the TCEs mapped in each, counted by
 * walking the table as the hardware does: from the window register and
 * table memory alone), DMA counters, the TCE cache, kills, faults by
 * reason; then pinned pages, in total and per NUMA node.
 *
 * A fresh process has an idle machine, so --after FILE first replays a
 * trace (docs/replay.md) without printing its steps; the stats are those of
 * the machine as the trace left it.
 *
 * Per node: every pinned page, located with move_pages(2) in query mode
 * (emu_mem_pinned_per_node); pages the kernel could not place are
 * reported as unknown.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "emu/emu.h"
#include "emu/mem.h"

#define MAX_NODES 64

struct nodes {
	uint64_t pages[MAX_NODES];
	uint64_t unknown;		/* pinned, but move_pages gave no node */
};

/* Non-zero leaves below block @hpa at level @k, for entries [base, base + level_size^(k+1)) ∩ [0, size). */
static uint64_t walk(uint64_t hpa, unsigned k, unsigned bits, uint64_t base, uint64_t size)
{
	uint64_t n = 1ull << bits, count = 0;
	const uint64_t *blk = emu_mem_table_hva(hpa, n * 8);

	if (!blk)
		return 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t first = base + (i << (k * bits)), tce;

		if (first >= size)
			break;
		tce = be64toh(__atomic_load_n(&blk[i], __ATOMIC_ACQUIRE));
		if (!tce)
			continue;
		if (k)
			count += walk(tce & ~0xfffull, k - 1, bits, first, size);
		else
			count++;
	}
	return count;
}

static uint64_t tces_mapped(const struct emu_window *w)
{
	unsigned bits = 0;

	while ((1ull << bits) < w->level_size)
		bits++;
	return walk(w->table_hpa, w->levels - 1, bits, 0, w->size);
}

static const char *shift_name(unsigned shift, char *buf, size_t n)
{
	if (shift >= 30)
		snprintf(buf, n, "%u GiB", 1u << (shift - 30));
	else if (shift >= 20)
		snprintf(buf, n, "%u MiB", 1u << (shift - 20));
	else
		snprintf(buf, n, "%u KiB", 1u << (shift - 10));
	return buf;
}

static void print_group(int g, bool json, bool first)
{
	struct emu_group_stats st;
	struct emu_group_info info;
	char b[32];

	if (emu_group_get_stats(g, &st) || emu_group_info(g, &info))
		return;
	if (json)
		printf("%s\n    {\"group\": %d, \"windows\": [", first ? "" : ",", g);
	else
		printf("group %d\n", g);
	for (unsigned s = 0, nw = 0; s < info.windows; s++) {
		const struct emu_window *w = &st.windows[s];
		uint64_t mapped;

		if (!st.programmed[s]) {
			if (!json)
				printf("  window %u      not programmed\n", s);
			continue;
		}
		mapped = tces_mapped(w);
		if (json)
			printf("%s{\"slot\": %u, \"bus_offset\": %" PRIu64 ", \"page_shift\": %u, "
			       "\"levels\": %u, \"level_size\": %" PRIu64 ", \"entries\": %" PRIu64
			       ", \"tces_mapped\": %" PRIu64 "}",
			       nw++ ? ", " : "", s, w->bus_offset, w->page_shift, w->levels, w->level_size,
			       w->size, mapped);
		else
			printf("  window %u      bus %#" PRIx64 " - %#" PRIx64 ", %s pages, %u level(s) of %"
			       PRIu64 " entries, %" PRIu64 " entries, %" PRIu64 " TCEs mapped\n",
			       s, w->bus_offset, w->bus_offset + (w->size << w->page_shift) - 1,
			       shift_name(w->page_shift, b, sizeof(b)), w->levels, w->level_size, w->size, mapped);
	}
	if (json) {
		printf("], \"window_sets\": %" PRIu64 ", \"window_unsets\": %" PRIu64
		       ", \"dma_reads\": %" PRIu64 ", \"dma_writes\": %" PRIu64 ", \"bytes_read\": %" PRIu64
		       ", \"bytes_written\": %" PRIu64 ", \"cache_hits\": %" PRIu64 ", \"cache_misses\": %" PRIu64
		       ", \"cache_entries\": %" PRIu64 ", \"cache_flushes\": %" PRIu64 ", \"kills\": %" PRIu64
		       ", \"killed_pages\": %" PRIu64 ", \"faults\": {",
		       st.window_sets, st.window_unsets, st.dma_reads, st.dma_writes, st.bytes_read,
		       st.bytes_written, st.cache_hits, st.cache_misses, st.cache_entries, st.cache_flushes,
		       st.kills, st.killed_pages);
		for (int r = 0; r < EMU_FAULT_NREASONS; r++)
			printf("%s\"%s\": %" PRIu64, r ? ", " : "", emu_fault_reason_name(r), st.faults[r]);
		printf("}, \"fault_overflow\": %" PRIu64 "}", st.fault_overflow);
		return;
	}
	printf("  windows       %" PRIu64 " set, %" PRIu64 " unset\n", st.window_sets, st.window_unsets);
	printf("  DMA           %" PRIu64 " reads (%" PRIu64 " bytes), %" PRIu64 " writes (%" PRIu64 " bytes)\n",
	       st.dma_reads, st.bytes_read, st.dma_writes, st.bytes_written);
	printf("  TCE cache     %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64 " live, %" PRIu64 " flushes\n",
	       st.cache_hits, st.cache_misses, st.cache_entries, st.cache_flushes);
	printf("  kills         %" PRIu64 " (%" PRIu64 " pages)\n", st.kills, st.killed_pages);
	printf("  faults       ");
	for (int r = 0; r < EMU_FAULT_NREASONS; r++)
		printf("%s %s %" PRIu64, r ? "," : "", emu_fault_reason_name(r), st.faults[r]);
	printf("; %" PRIu64 " dropped\n", st.fault_overflow);
}

static void report_div(void *ctx, const struct cli_trace_div *d)
{
	(void)ctx;
	fprintf(stderr, "%s:%u: %s: expected %s, got %s\n", d->file, d->line, d->request, d->expected, d->got);
}

static void report_err(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "%s\n", msg);
}

int cli_stats(int argc, char **argv)
{
	struct emu_machine_config cfg;
	struct emu_mem_stats ms;
	struct nodes nd;
	const char *after = NULL;
	bool json = false;
	unsigned nrun = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--after") && i + 1 < argc) {
			after = argv[++i];
		} else if (!strcmp(argv[i], "--help")) {
			printf("usage: spaprtce stats [--after FILE] [--json]\n\n"
			       "Per group of the emulated machine: the programmed windows (bus\n"
			       "offset, page size, levels, entries, and the TCEs mapped, counted by\n"
			       "walking each table from its window register), DMA counters, the TCE\n"
			       "cache, kills, faults by reason; then the pinned pages, in total and\n"
			       "per NUMA node.\n\n"
			       "  --after FILE  replay the trace FILE first (docs/replay.md), silently\n"
			       "                but for divergences on stderr, and show the machine\n"
			       "                as it left it\n"
			       "  --json        one JSON object\n\n"
			       "Exit status: 0; 1 the trace diverged (stats still shown); 2 the trace\n"
			       "has an error, or usage.\n");
			return 0;
		} else {
			fprintf(stderr, "spaprtce stats: unexpected '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (after) {
		rc = cli_trace_replay(after, false, report_div, report_err, NULL, &nrun);
		if (rc == 2) {
			cli_trace_release();
			return 2;
		}
	}
	if (emu_machine_get_config(&cfg)) {
		fprintf(stderr, "spaprtce stats: the machine cannot start\n");
		cli_trace_release();
		return 1;
	}
	if (json) {
		printf("{\"after\": ");
		if (after) {
			cli_json_str(after);
			printf(", \"requests\": %u, \"trace_verdict\": \"%s\"", nrun, rc ? "FAIL" : "PASS");
		} else {
			printf("null");
		}
		printf(", \"machine\": {\"groups\": %u, \"pgsizes\": %" PRIu64 ", \"windows\": %u, \"levels\": %u, "
		       "\"tce_cache\": %u, \"node\": %d}, \"groups\": [",
		       cfg.groups, cfg.pgsizes, cfg.max_windows, cfg.max_levels, cfg.tce_cache, cfg.node);
	} else {
		printf("spaprtce stats: %u group(s), page sizes %#" PRIx64 ", %u window slot(s), %u levels at most, "
		       "host bridge on node %d", cfg.groups, cfg.pgsizes, cfg.max_windows, cfg.max_levels, cfg.node);
		if (after)
			printf("; after %s (%u requests, %s)", after, nrun, rc ? "diverged" : "as expected");
		printf("\n\n");
	}
	for (unsigned g = 0; g < cfg.groups; g++)
		print_group((int)g, json, !g);

	memset(&nd, 0, sizeof(nd));
	if (emu_mem_pinned_per_node(nd.pages, MAX_NODES, &nd.unknown))
		fprintf(stderr, "spaprtce stats: no memory to locate pinned pages\n");
	emu_mem_get_stats(&ms);
	if (json) {
		printf("\n  ], \"pinned_pages\": %" PRIu64 ", \"pinned_per_node\": {", ms.pinned_pages);
		for (int n = 0, k = 0; n < MAX_NODES; n++)
			if (nd.pages[n])
				printf("%s\"%d\": %" PRIu64, k++ ? ", " : "", n, nd.pages[n]);
		printf("}, \"pinned_node_unknown\": %" PRIu64 ", \"table_blocks\": %" PRIu64
		       ", \"table_bytes\": %" PRIu64 "}\n",
		       nd.unknown, ms.table_blocks, ms.table_bytes);
	} else {
		printf("\npinned pages  %" PRIu64 " (4 KiB)", ms.pinned_pages);
		if (ms.pinned_pages) {
			printf("; per NUMA node:");
			for (int n = 0; n < MAX_NODES; n++)
				if (nd.pages[n])
					printf(" node %d %" PRIu64, n, nd.pages[n]);
			if (nd.unknown)
				printf(" unknown %" PRIu64, nd.unknown);
		}
		printf("\ntable memory  %" PRIu64 " block(s), %" PRIu64 " bytes\n", ms.table_blocks, ms.table_bytes);
	}
	cli_trace_release();
	return rc;
}
