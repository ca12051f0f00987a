/* SPDX-License-Identifier: MIT */
/*
 * spaprtce accounting: preregistration and locked_vm accounting on real
 * memory, at the region layer.
 *
 * The steps, each checked against what the kernel would do:
 *   1. register 256 MiB of fresh memory as four 64 MiB regions (charged,
 *      faulted in, locked, given scattered hpas);
 *   2. a second owner adopts a region: used 2, nothing charged again;
 *   3. an over-limit registration under an emulated RLIMIT_MEMLOCK without
 *      CAP_IPC_LOCK fails with ENOMEM and changes nothing;
 *   4. a region with a live mapping refuses its final put with EBUSY;
 *   5. everything is unregistered: locked_vm back to its start, nothing pinned.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "cli/cli.h"
#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"

#define PS EMU_PAGE_SIZE
#define NREG 4
#define REG_BYTES (64ull << 20)

struct demo {
	struct mmreg_mm *mm;
	uint8_t *mem;
	struct mmreg_region *r[NREG];
	uint64_t start_locked;
};

static void step_register(struct demo *d)
{
	struct cli_step st;
	struct emu_mem_stats es;
	int rc = 0;

	cli_step_begin(&st, "register 4 x 64 MiB");
	for (int i = 0; i < NREG && !rc; i++)
		rc = mmreg_region_new(d->mm, (uintptr_t)d->mem + i * REG_BYTES, REG_BYTES / PS, &d->r[i]);
	st.rate_gbps = (double)(NREG * REG_BYTES) / (cli_now() - st.t0) / 1e9;
	emu_mem_get_stats(&es);
	st.ok = !rc && spapr_mm_locked_vm() == st.locked_before + NREG * REG_BYTES / PS &&
		es.pinned_pages >= NREG * REG_BYTES / PS;
	snprintf(st.detail, sizeof(st.detail), "%s; %llu pages pinned, %s", rc ? strerror(-rc) : "charged then pinned",
		 (unsigned long long)es.pinned_pages, es.mlocked ? "mlocked" : "populated (mlock not allowed)");
	cli_step_end(&st, 0);
}

static void step_hpas(struct demo *d)
{
	struct cli_step st;
	uint64_t hpa[3] = { 0 };
	unsigned shift = mmreg_region_pageshift(d->r[0]);

	cli_step_begin(&st, "translate ua -> hpa");
	for (int i = 0; i < 3; i++)
		st.ok &= !mmreg_region_ua_to_hpa(d->r[0], (uintptr_t)d->mem + i * PS, shift, &hpa[i]);
	/* Consecutive user pages, scattered host pages: no contiguity to rely on. */
	st.ok &= hpa[1] != hpa[0] + PS && hpa[2] != hpa[1] + PS;
	snprintf(st.detail, sizeof(st.detail), "pageshift %u; pages 0-2 at hpa %#llx %#llx %#llx", shift,
		 (unsigned long long)hpa[0], (unsigned long long)hpa[1], (unsigned long long)hpa[2]);
	cli_step_end(&st, 0);
}

static void step_adopt(struct demo *d)
{
	struct cli_step st;
	struct mmreg_region *g;

	cli_step_begin(&st, "second owner adopts region 0");
	g = mmreg_region_get(d->mm, (uintptr_t)d->mem, REG_BYTES / PS);
	st.ok = g == d->r[0] && mmreg_region_used(g) == 2 && spapr_mm_locked_vm() == st.locked_before;
	if (g)
		st.ok &= !mmreg_region_put(d->mm, g) && mmreg_region_used(g) == 1;
	snprintf(st.detail, sizeof(st.detail), "used 1 -> 2 -> 1, charged once");
	cli_step_end(&st, 0);
}

static void step_limit(struct demo *d)
{
	struct cli_step st;
	uint64_t limit;
	bool cap;
	struct mmreg_region *r = NULL;
	uint8_t *extra = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int rc;

	cli_step_begin(&st, "over RLIMIT_MEMLOCK, no CAP_IPC_LOCK");
	mmreg_mm_get_memlock(d->mm, &limit, &cap);
	spapr_mm_set_memlock(st.locked_before * PS, 0);	/* exactly at the limit */
	rc = extra == MAP_FAILED ? -ENOMEM : mmreg_region_new(d->mm, (uintptr_t)extra, 1, &r);
	st.ok = rc == -ENOMEM && spapr_mm_locked_vm() == st.locked_before && !r;
	spapr_mm_set_memlock(limit, cap);
	snprintf(st.detail, sizeof(st.detail), "one more page: %s, nothing charged or pinned",
		 rc ? strerror(-rc) : "accepted (wrong)");
	if (r)
		mmreg_region_put(d->mm, r);
	if (extra != MAP_FAILED)
		munmap(extra, PS);
	cli_step_end(&st, 0);
}

static void step_busy(struct demo *d)
{
	struct cli_step st;
	int rc;

	cli_step_begin(&st, "final put with a live mapping");
	st.ok = !mmreg_region_mapped_inc(d->r[1]);
	rc = mmreg_region_put(d->mm, d->r[1]);
	st.ok &= rc == -EBUSY && mmreg_region_mapped(d->r[1]) == 2 && mmreg_region_used(d->r[1]) == 1;
	mmreg_region_mapped_dec(d->r[1]);
	snprintf(st.detail, sizeof(st.detail), "mapped 2: %s, region unchanged", rc ? strerror(-rc) : "released (wrong)");
	cli_step_end(&st, 0);
}

static void step_unregister(struct demo *d)
{
	struct cli_step st;
	struct emu_mem_stats es;
	int rc = 0;

	cli_step_begin(&st, "unregister all");
	for (int i = 0; i < NREG; i++)
		rc |= mmreg_region_put(d->mm, d->r[i]);
	st.rate_gbps = (double)(NREG * REG_BYTES) / (cli_now() - st.t0) / 1e9;
	emu_mem_get_stats(&es);
	st.ok = !rc && spapr_mm_locked_vm() == d->start_locked && !mmreg_preregistered(d->mm) &&
		!es.pinned_pages && !mmreg_mm_check(d->mm) && !emu_mem_check();
	snprintf(st.detail, sizeof(st.detail), "unpinned and uncharged; %llu pages left pinned",
		 (unsigned long long)es.pinned_pages);
	cli_step_end(&st, 0);
}

int cli_accounting(int argc, char **argv)
{
	struct demo d = { 0 };
	bool json = false;
	uint64_t limit;
	bool cap;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help")) {
			printf("usage: spaprtce accounting [--json]\n\n"
			       "Registers 256 MiB of real memory as four regions, adopts one, tries a\n"
			       "registration over an emulated RLIMIT_MEMLOCK, holds a mapping across a\n"
			       "final put, and unregisters everything, checking locked_vm and pins at\n"
			       "each step.  Exit status 0 when every step behaved as the kernel does.\n");
			return 0;
		} else {
			fprintf(stderr, "spaprtce accounting: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	rc = mmreg_mm_current(&d.mm);
	if (rc) {
		fprintf(stderr, "spaprtce accounting: %s\n", strerror(-rc));
		return 1;
	}
	d.mem = mmap(NULL, NREG * REG_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d.mem == MAP_FAILED) {
		perror("spaprtce accounting: mmap");
		return 1;
	}
	mmreg_mm_get_memlock(d.mm, &limit, &cap);
	if (!json)
		printf("spapr-tce accounting: memory preregistration and locked_vm (pages of %llu bytes)\n"
		       "process: RLIMIT_MEMLOCK %s%llu bytes, CAP_IPC_LOCK %s\n\n",
		       (unsigned long long)PS, limit == UINT64_MAX ? "unlimited " : "",
		       (unsigned long long)(limit == UINT64_MAX ? 0 : limit), cap ? "yes" : "no");
	/* The demo's own emulated limits: room for 256 MiB, no bypass. */
	spapr_mm_set_memlock(NREG * REG_BYTES + (1u << 20), 0);
	cli_output_init(json);
	d.start_locked = spapr_mm_locked_vm();
	step_register(&d);
	if (d.r[NREG - 1]) {
		step_hpas(&d);
		step_adopt(&d);
		step_limit(&d);
		step_busy(&d);
		step_unregister(&d);
	}
	spapr_mm_set_memlock(limit, cap);
	munmap(d.mem, NREG * REG_BYTES);
	mmreg_mm_put(d.mm);
	return cli_finish("accounting");
}
