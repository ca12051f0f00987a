/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_replay.c: the trace parser of `spaprtce replay` as an
 * input surface.  A user's trace file is untrusted text: the input goes
 * to cli_trace_parse() whole (every syntax error collected, the path
 * --keep-going takes), which must never crash, leak or read out of
 * bounds, whatever the bytes (NULs, no newline at the end, 4 MiB lines).
 *
 * A trace that parses is then run, request by request, against the
 * process's emulated machine, and judged, when every request is one a
 * fuzzer may run in its own process (fr_runnable): no hugetlbfs pool
 * (`mem ... huge` may write nr_hugepages as root), no fork, no raw ioctl
 * with a NULL argument, no munmap or mprotect (they could unmap the
 * fuzzer's own memory), no container or group name defined again while
 * its descriptor is open (the old one would stay open: the program's exit
 * closes it), memory areas up to 16 MiB, transfers up to 1 MiB, and every
 * address a request hands to the CPU or the library is NAME or NAME+OFF of
 * an area it lies in.  Divergences are not bugs (a fuzzed
 * expectation is random); what is checked is that nothing crashes and
 * that releasing the trace leaves the machine clean: nothing charged,
 * pinned or allocated, and the machine resets (no window left).
 *
 * With SPAPRTCE_FUZZ_TRACE set (tests/check_fuzz_corpus.c sets it), an
 * input that ran here with no divergence is written there, so that the
 * corpus suite checks that `spaprtce replay`, in a process of its own,
 * agrees; any other input writes a one-request trace saying so.
 *
 * Seeds (tests/fuzz/corpus/fuzz_replay/) are the traces of tests/traces/ with
 * `huge` dropped (NAME.shift makes them pass on 4 KiB pages) and the
 * fork_expect lines removed, so that they run, not only parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/trace.h"
#include "emu/emu.h"
#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"
#include "tests/fuzz/fuzz.h"

#define FR_MAX_MEM (16ull << 20)
#define FR_MAX_XFER (1ull << 20)

static struct cli_trace fr_trace;

/* Parse-time filter: the requests a fuzzer never runs. */
static bool fr_allowed_op(const struct cli_req *r)
{
	static const char *const banned[] = { "fork_expect", "ioctl", "munmap", "mprotect" };

	for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
		if (!strcmp(r->op->name, banned[i]))
			return false;
	return !r->huge;
}

/* [v, v + len) lies in the area v names, as it is now. */
static bool fr_in_area(const struct cli_trace *t, const struct cli_val *v, uint64_t len)
{
	const struct cli_sym *s;
	uint64_t off;

	if (v->kind != V_ADDR || v->sym < 0)
		return false;
	s = &t->syms[v->sym];
	off = v->num;
	return s->addr && off <= s->size && len <= s->size - off;
}

/* Run-time filter, just before @r runs: its addresses and sizes. */
static bool fr_runnable(const struct cli_trace *t, const struct cli_req *r)
{
	const char *n = r->op->name;
	uint64_t a1 = r->na > 1 ? cli__val(t, &r->a[1]) : 0;

	if (!strcmp(n, "mem"))
		return cli__val(t, &r->a[0]) <= FR_MAX_MEM;
	/* a descriptor name defined again leaves the old one open (docs/replay.md):
	 * the program's exit closes it, a fuzzer's process would keep it */
	if (!strcmp(n, "container") || !strcmp(n, "group"))
		return t->syms[r->h[0].sym].fd < 0;
	if (!strcmp(n, "fill") || !strcmp(n, "check"))
		return a1 <= FR_MAX_XFER && fr_in_area(t, &r->a[0], a1);
	if (!strcmp(n, "dma_read") || !strcmp(n, "dma_write"))
		return a1 <= FR_MAX_XFER;
	if (!strcmp(n, "register") || !strcmp(n, "unregister"))
		return fr_in_area(t, &r->a[0], a1);
	if (!strcmp(n, "map"))
		return fr_in_area(t, &r->a[0], cli__val(t, &r->a[2]));
	if (!strcmp(n, "poke64"))
		return fr_in_area(t, &r->a[0], (uint64_t)r->nlist * 8);
	if (!strcmp(n, "memslot"))
		return fr_in_area(t, &r->a[3], cli__val(t, &r->a[2]));
	return true;
}

static void fr_write_trace(const uint8_t *data, size_t size, bool clean)
{
	const char *path = getenv("SPAPRTCE_FUZZ_TRACE");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "w");
	if (!f)
		return;
	if (clean)
		fwrite(data, 1, size, f);
	else
		fputs("# fuzz_replay: the input did not run clean here (a syntax error, a request\n"
		      "# a fuzzer does not run, or a divergence); a fresh process starts clean:\n"
		      "locked_vm => 0\n", f);
	fclose(f);
}

/* Everything the trace made is gone: abort (a finding) otherwise. */
static void fr_assert_clean(void)
{
	struct emu_mem_stats st;
	uint64_t locked = spapr_mm_locked_vm();
	int rc;

	emu_mem_get_stats(&st);
	if (locked || st.pinned_pages || st.table_blocks) {
		fprintf(stderr, "fuzz_replay: after the release: locked_vm %llu, pinned %llu, table blocks %llu\n",
			(unsigned long long)locked, (unsigned long long)st.pinned_pages,
			(unsigned long long)st.table_blocks);
		abort();
	}
	rc = emu_machine_reset();
	if (rc) {
		fprintf(stderr, "fuzz_replay: the machine does not reset after the release: %d\n", rc);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmreg_mm *mm = NULL;
	uint64_t limit = 0;
	bool cap = false, ran = false, diverged = false;
	unsigned i;

	cli_trace_init(&fr_trace, "fuzz_replay");
	if (cli_trace_parse(&fr_trace, (const char *)data, size, true))
		goto out;
	for (i = 0; i < fr_trace.nreqs; i++)
		if (!fr_allowed_op(&fr_trace.reqs[i]))
			goto out;
	/* memlock changes the process's emulated limit: put it back after */
	if (mmreg_mm_current(&mm))
		goto out;
	mmreg_mm_get_memlock(mm, &limit, &cap);
	ran = true;
	for (i = 0; i < fr_trace.nreqs; i++) {
		const struct cli_req *r = &fr_trace.reqs[i];
		struct cli_result res;
		char exp[200], got[200];

		if (!fr_runnable(&fr_trace, r)) {
			ran = false;
			break;
		}
		cli_trace_exec(&fr_trace, r, &res);
		if (!cli_trace_judge(&fr_trace, r, &res, exp, got, sizeof(got)))
			diverged = true;
	}
out:
	cli_trace_free(&fr_trace);
	if (mm) {
		spapr_mm_set_memlock(limit, cap);
		mmreg_mm_put(mm);
	}
	fr_assert_clean();
	fr_write_trace(data, size, ran && !diverged);
	return 0;
}
