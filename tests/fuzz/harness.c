/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/harness.c: the part of the fuzz targets that is not about
 * what they fuzz (tests/fuzz/harness.h): the input reader, the trace in
 * the replay language and the divergence report, comparisons of results,
 * the checks every request is followed by, and the memory areas with
 * their guard pages and lazily recorded content.
 *
 * The trace is kept in memory and printed only on a divergence (or written
 * to $SPAPRTCE_FUZZ_TRACE at the end of every input): formatting it costs
 * far less than running the requests.  Memory content is recorded lazily
 * because an area whose pages hold different bytes (so that a device read
 * through the wrong page shows) would need a `fill` line per page; only
 * the pages the trace depends on get one, in the order that keeps the
 * replay faithful: before the first request that writes into the page or
 * expects a byte of it.
 *
 * Signals: libFuzzer's timeout timer (SIGALRM, every few seconds, installed
 * without SA_RESTART) interrupts whatever system call the process is in.
 * Every system call here that can fail with EINTR is retried (fz_waitpid,
 * the trace's writes), so that an interrupted wait is never taken for a
 * dead child, i.e. for a divergence that replay cannot reproduce.
 *
 * A divergence names the trace line at which `spaprtce replay` reports it
 * (FILE:LINE): the line last written, which is the request, `locked_vm`,
 * `pinned` or `dma_read` line whose expectation the library missed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "emu/quirk.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"
#define FZ_HARNESS_IMPL
#include "tests/fuzz/harness.h"
#include "util/errno_name.h"

static const char *fz_target = "fuzz";
static void (*fz_post)(void);
static uint64_t fz_rng, fz_shown_locked, fz_shown_pinned;
unsigned long fz_eintr_retries;

static char *fz_tr;
static size_t fz_tr_len, fz_tr_cap;
static char fz_line[1024];
static char fz_line_checks[64];
static bool fz_line_comment;
static struct {
	const char *key;	/* NULL: no value check on the current request */
	uint64_t want;
	const void *got;	/* 64 bits, of any 64-bit integer type */
} fz_value;

static struct {
	uint8_t *base;		/* first usable byte; NULL: not in this input */
	uint64_t pages;
	uint8_t (*pattern)(int i, uint64_t pg);
	bool *shown;		/* per page: its fill line is in the trace */
	uint8_t *kept;		/* the mapping kept from an earlier input (first usable byte) */
	uint64_t kept_pages;
} fz_mems[FZ_MAX_MEMS];
static const char *fz_mem_prefix = "m";

/* ------------------------------------------------------------- input */

uint8_t fz_u8(struct fz_in *in)
{
	return in->i < in->n ? in->p[in->i++] : 0;
}

uint16_t fz_u16(struct fz_in *in)
{
	uint16_t lo = fz_u8(in);

	return (uint16_t)(lo | (uint16_t)fz_u8(in) << 8);
}

uint64_t fz_rnd(void)
{
	fz_rng ^= fz_rng << 13;
	fz_rng ^= fz_rng >> 7;
	fz_rng ^= fz_rng << 17;
	return fz_rng;
}

/* ------------------------------------------------------------- the trace */

void fz_tr_add(const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(fz_tr ? fz_tr + fz_tr_len : NULL, fz_tr ? fz_tr_cap - fz_tr_len : 0, fmt, ap);
		va_end(ap);
		if (fz_tr && (size_t)n < fz_tr_cap - fz_tr_len)
			break;
		fz_tr_cap = fz_tr_cap ? 2 * fz_tr_cap + (size_t)n : 65536;
		fz_tr = realloc(fz_tr, fz_tr_cap);
		if (!fz_tr)
			abort();
	}
	fz_tr_len += (size_t)n;
}

void fz_req(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fz_line, sizeof(fz_line), fmt, ap);
	va_end(ap);
}

void fz_req_more(const char *fmt, ...)
{
	size_t l = strlen(fz_line);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fz_line + l, sizeof(fz_line) - l, fmt, ap);
	va_end(ap);
}

void fz_req_check(const char *key, uint64_t want, const void *got)
{
	size_t l = strlen(fz_line_checks);

	snprintf(fz_line_checks + l, sizeof(fz_line_checks) - l, " %s=0x%llx", key,
		 (unsigned long long)want);
	fz_value.key = key;
	fz_value.want = want;
	fz_value.got = got;
}

void fz_req_comment(void)
{
	fz_line_comment = true;
}

/* ------------------------------------------------------ system calls */

int fz_waitpid(int pid, int *status)
{
	int rc;

	if (!FZ_CHECKS) {
		*status = 0;
		return pid;
	}
	while ((rc = waitpid(pid, status, 0)) < 0 && errno == EINTR)
		fz_eintr_retries++;
	return rc;
}

/* All of @buf to @fd, through interruptions and short writes. */
static void fz_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR) {
			fz_eintr_retries++;
			continue;
		}
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void fz_trace_out(int fd)
{
	if (fz_tr)
		fz_write_all(fd, fz_tr, fz_tr_len);
}

static void fz_write_trace_file(void)
{
	const char *path = getenv("SPAPRTCE_FUZZ_TRACE");
	int fd;

	if (!path || !*path)
		return;
	while ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0 && errno == EINTR)
		fz_eintr_retries++;
	if (fd < 0)
		return;
	fz_trace_out(fd);
	close(fd);	/* not retried: Linux releases the fd even when close is interrupted */
}

/* The number of the trace's last line (1-based): the one replay reports. */
static unsigned fz_trace_lines(void)
{
	unsigned n = 0;

	for (size_t i = 0; i < fz_tr_len; i++)
		n += fz_tr[i] == '\n';
	return n;
}

void fz_diverge(const char *fmt, ...)
{
	unsigned line = fz_trace_lines();
	char msg[512], head[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fz_tr_add("# DIVERGENCE at line %u: %s\n", line, msg);
	fflush(stdout);
	fflush(stderr);
	n = snprintf(head, sizeof(head), "==== %s: divergence from the model at trace line %u; replay trace:\n",
		     fz_target, line);
	fz_write_all(2, head, (size_t)n < sizeof(head) ? (size_t)n : sizeof(head) - 1);
	fz_trace_out(2);
	fz_write_trace_file();
	abort();
}

const char *fz_errname(int e)
{
	static char buf[16];
	const char *name = util_errno_name(e);

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

const char *fz_res_str(struct model_res r)
{
	static char buf[2][24];
	static int k;

	k ^= 1;
	if (r.ret == -1)
		snprintf(buf[k], sizeof(buf[k]), "%s", fz_errname(r.err));
	else if (r.ret == 0)
		snprintf(buf[k], sizeof(buf[k]), "ok");
	else
		snprintf(buf[k], sizeof(buf[k]), "%ld", r.ret);
	return buf[k];
}

const char *fz_hname(long h)
{
	static char buf[2][24];
	static int k;

	switch (h) {
	case H_SUCCESS: return "H_SUCCESS";
	case H_PARAMETER: return "H_PARAMETER";
	case H_TOO_HARD: return "H_TOO_HARD";
	case H_HARDWARE: return "H_HARDWARE";
	}
	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]), "%ld", h);
	return buf[k];
}

struct model_res fz_real(long rc)
{
	struct model_res r = { rc, rc < 0 ? errno : 0 };

	if (rc < 0)
		r.ret = -1;
	return r;
}

/* Writes the request line with @expect and the checks; the line is then consumed. */
static void fz_record(const char *expect)
{
	fz_tr_add("%s%s => %s%s\n", fz_line_comment ? "# " : "", fz_line, expect, fz_line_checks);
	fz_line_checks[0] = 0;
	fz_line_comment = false;
}

/* The KEY=VALUE check of a request that succeeded, before anything else runs. */
static void fz_check_value(bool succeeded)
{
	const char *key = fz_value.key;
	uint64_t got;

	fz_value.key = NULL;
	if (!key || !succeeded)
		return;
	memcpy(&got, fz_value.got, sizeof(got));
	if (got != fz_value.want)
		fz_diverge("%s is 0x%llx, expected 0x%llx", key, (unsigned long long)got,
			   (unsigned long long)fz_value.want);
}

/*
 * What the last request may have changed (harness.h, "Checks that cost what
 * the input changed").  A request the model says failed changes nothing in
 * fixed mode (every bad input leaves the state exactly as it was); in kernel
 * mode some failures keep part of their work (Q2, Q5, Q12), so there any
 * request counts as a change unless it only reads.
 */
static bool fz_req_readonly, fz_last_changed, fz_deferred, fz_forced;

void fz_req_reads(void)
{
	fz_req_readonly = true;
}

static void fz_note_change(bool succeeded)
{
	fz_last_changed = !fz_deferred && !fz_req_readonly && (succeeded || fz_kernel);
	fz_req_readonly = false;
}

bool fz_changed(void)
{
	return fz_last_changed || fz_forced;
}

bool fz_checkpoint_running(void)
{
	return fz_forced;
}

void fz_checkpoint(void)
{
	if (!FZ_CHECKS)
		return;
	fz_forced = true;
	fz_post();
	fz_forced = false;
}

void fz_defer_checks(bool on)
{
	fz_deferred = on;
	fz_last_changed = false;
}

void fz_done(struct model_res want, struct model_res got)
{
	fz_record(fz_res_str(want));
	if (!FZ_CHECKS)
		return;
	if (want.ret != got.ret || (want.ret == -1 && want.err != got.err))
		fz_diverge("the library returned %s", fz_res_str(got));
	fz_check_value(want.ret == 0);
	fz_note_change(want.ret != -1);
	fz_post();
}

void fz_hdone(long want, long got)
{
	fz_record(fz_hname(want));
	if (!FZ_CHECKS)
		return;
	if (want != got)
		fz_diverge("the library returned %s", fz_hname(got));
	fz_check_value(want == H_SUCCESS);
	fz_note_change(want == H_SUCCESS);
	fz_post();
}

/* ---------------------------------------------------------------- checks */


/* The invariant checkers of every layer (fz_check_state, fz_end). */
static void deep_checks(void)
{
	struct mmreg_mm *mm;

	if (mmreg_mm_current(&mm))
		fz_diverge("mmreg_mm_current failed");
	if (mmreg_mm_check(mm)) {
		mmreg_mm_put(mm);
		fz_diverge("mmreg_mm_check failed");
	}
	mmreg_mm_put(mm);
	if (emu_mem_check())
		fz_diverge("emu_mem_check failed");
	if (emu_machine_check())
		fz_diverge("emu_machine_check failed");
}

void fz_check_state(const struct model *m)
{
	struct emu_mem_stats st;
	uint64_t locked, want;

	if (!FZ_CHECKS)
		return;
	locked = spapr_mm_locked_vm();
	want = model_locked_vm(m);
	if (want != fz_shown_locked || locked != want) {
		fz_shown_locked = want;
		fz_tr_add("locked_vm => %llu\n", (unsigned long long)fz_shown_locked);
		if (locked != fz_shown_locked)
			fz_diverge("locked_vm is %llu", (unsigned long long)locked);
	}
	emu_mem_get_stats(&st);
	want = model_pinned(m);
	if (want != fz_shown_pinned || st.pinned_pages != want) {
		fz_shown_pinned = want;
		fz_tr_add("pinned => %llu\n", (unsigned long long)fz_shown_pinned);
		if (st.pinned_pages != fz_shown_pinned)
			fz_diverge("%llu pages pinned", (unsigned long long)st.pinned_pages);
	}
	if (fz_forced)
		deep_checks();
}

void fz_sample_groups(const struct model *m, bool all, bool pick[MODEL_GROUPS])
{
	int chosen[MODEL_CONTAINERS], seen[MODEL_CONTAINERS];

	for (int c = 0; c < MODEL_CONTAINERS; c++)
		seen[c] = 0, chosen[c] = -1;
	/* One per container: reservoir sampling over its attached open groups. */
	for (int id = 0; id < MODEL_GROUPS; id++) {
		int c = m->g[id].container;

		pick[id] = false;
		if (!m->g[id].open || c < 0)
			continue;
		pick[id] = all;
		if (!all && fz_rnd() % (uint64_t)++seen[c] == 0)
			chosen[c] = id;
	}
	for (int c = 0; c < MODEL_CONTAINERS && !all; c++)
		if (chosen[c] >= 0)
			pick[chosen[c]] = true;
}

const char *fz_dma_str(int rc)
{
	return rc ? fz_errname(-rc) : "ok";
}

void fz_check_dma_read(const struct model *m, int id, uint64_t iova, unsigned len)
{
	uint8_t buf[32], want_bytes[32];
	int want = model_dma(m, id, iova, len, false), got;
	uint64_t uas[32];
	bool uniform = true;

	if (!FZ_CHECKS)
		return;
	if (len > sizeof(buf))
		fz_diverge("harness: a device read of %u bytes", len);
	memset(buf, 0xee, sizeof(buf));
	if (!want) {
		for (unsigned k = 0; k < len; k++) {
			uint64_t ua;
			unsigned perm;

			if (model_translate(m, id, iova + k, &ua, &perm))
				fz_diverge("model: dma ok but no translation");
			want_bytes[k] = *(volatile uint8_t *)(uintptr_t)ua;
			if (want_bytes[k] != want_bytes[0])
				uniform = false;
			uas[k] = ua;
		}
		/* The line expects these bytes: their pages' content goes first. */
		for (unsigned k = 0; uniform && k < len; k++)
			fz_mem_show(uas[k], 1);
	}
	got = emu_dma_read(id, iova, buf, len);
	if (!want && uniform)
		fz_tr_add("dma_read %d 0x%llx %u 0x%02x => ok\n", id, (unsigned long long)iova, len,
			  want_bytes[0]);
	else
		fz_tr_add("dma_read %d 0x%llx %u => %s\n", id, (unsigned long long)iova, len,
			  fz_dma_str(want));
	if (got != want)
		fz_diverge("device read returned %s", fz_dma_str(got));
	if (!want && memcmp(buf, want_bytes, len))
		fz_diverge("device read the wrong bytes (first 0x%02x, expected 0x%02x)", buf[0],
			   want_bytes[0]);
}

/* ---------------------------------------------------------------- memory */

/*
 * The mapping of area @i (@pages usable pages between two guard pages),
 * kept from an earlier input when it had the same size: mapping, faulting
 * in and unmapping 1.3 MiB per input was a tenth of a fuzz run.  A kept
 * mapping gets its usable pages back to read-write (the input's mprotect
 * requests); its content is rewritten by the caller, its guard pages were
 * never changed (requests stay inside an area), and nothing is pinned in
 * it (fz_end checked).  Private anonymous memory either way, at some
 * address: what a fresh mapping would be.
 */
static uint8_t *fz_mem_mapping(int i, uint64_t pages)
{
	uint64_t size = pages * MODEL_PAGE_SIZE;
	uint8_t *p;

	if (fz_mems[i].kept && fz_mems[i].kept_pages == pages) {
		if (mprotect(fz_mems[i].kept, size, PROT_READ | PROT_WRITE))
			fz_diverge("mprotect failed");
		memset(fz_mems[i].shown, 0, pages * sizeof(bool));
		return fz_mems[i].kept;
	}
	if (fz_mems[i].kept) {
		munmap(fz_mems[i].kept - MODEL_PAGE_SIZE, (fz_mems[i].kept_pages + 2) * MODEL_PAGE_SIZE);
		free(fz_mems[i].shown);
		fz_mems[i].kept = NULL;
		fz_mems[i].shown = NULL;
	}
	/* A PROT_NONE guard page on each side: a range running off an area
	 * faults (EFAULT) whatever the process has mapped next to it. */
	p = mmap(NULL, size + 2 * MODEL_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		fz_diverge("mmap failed");
	p += MODEL_PAGE_SIZE;
	if (mprotect(p, size, PROT_READ | PROT_WRITE))
		fz_diverge("mprotect failed");
	fz_mems[i].shown = calloc(pages, sizeof(bool));
	if (!fz_mems[i].shown)
		abort();
	fz_mems[i].kept = p;
	fz_mems[i].kept_pages = pages;
	return p;
}

/*
 * Page @p filled with @b.  A kept page that already holds it is only read:
 * after a fork (fuzz_container's foreign requests) every page of the
 * process is write-protected until written once, and rewriting an
 * unchanged area faulted 336 times per input.
 */
static void fz_mem_fill(uint8_t *p, uint8_t b)
{
	if (p[0] != b || memcmp(p, p + 1, MODEL_PAGE_SIZE - 1))
		memset(p, b, MODEL_PAGE_SIZE);
}

uint8_t *fz_mem_map(struct model *m, int i, uint64_t pages, uint8_t (*pattern)(int i, uint64_t pg))
{
	uint64_t size = pages * MODEL_PAGE_SIZE;
	uint8_t *p;

	if (i < 0 || i >= FZ_MAX_MEMS || fz_mems[i].base)
		fz_diverge("harness: memory area %d", i);
	p = fz_mem_mapping(i, pages);
	fz_mems[i].base = p;
	fz_mems[i].pages = pages;
	fz_mems[i].pattern = pattern;
	for (uint64_t pg = 0; pg < pages; pg++)
		fz_mem_fill(p + pg * MODEL_PAGE_SIZE, pattern(i, pg));
	model_mem_add(m, (unsigned)i, (uintptr_t)p, size);
	fz_tr_add("mem %s%d 0x%llx => ok\nmprotect %s%d+0x0 0x1000 none => ok\n"
		  "mprotect %s%d+0x%llx 0x1000 none => ok\n",
		  fz_mem_prefix, i, (unsigned long long)(size + 2 * MODEL_PAGE_SIZE), fz_mem_prefix, i,
		  fz_mem_prefix, i, (unsigned long long)(size + MODEL_PAGE_SIZE));
	return p;
}

uint64_t fz_mem_base(int i)
{
	return (uintptr_t)fz_mems[i].base;
}

uint64_t fz_mem_pages(int i)
{
	return fz_mems[i].pages;
}

void fz_mem_show(uint64_t ua, uint64_t len)
{
	for (int i = 0; i < FZ_MAX_MEMS; i++) {
		uint64_t base = fz_mem_base(i), first, last;

		if (!fz_mems[i].base || !len || ua + len <= base ||
		    ua >= base + fz_mems[i].pages * MODEL_PAGE_SIZE)
			continue;
		first = ua > base ? (ua - base) / MODEL_PAGE_SIZE : 0;
		last = (ua + len - 1 - base) / MODEL_PAGE_SIZE;
		if (last >= fz_mems[i].pages)
			last = fz_mems[i].pages - 1;
		/* One line per run of unshown pages of one byte. */
		for (uint64_t pg = first; pg <= last;) {
			uint64_t run = 1;
			uint8_t b = fz_mems[i].pattern(i, pg);

			if (fz_mems[i].shown[pg]) {
				pg++;
				continue;
			}
			while (pg + run <= last && !fz_mems[i].shown[pg + run] &&
			       fz_mems[i].pattern(i, pg + run) == b)
				run++;
			for (uint64_t k = 0; k < run; k++)
				fz_mems[i].shown[pg + k] = true;
			fz_tr_add("fill %s%d+0x%llx 0x%llx 0x%02x => ok\n", fz_mem_prefix, i,
				  (unsigned long long)((pg + 1) * MODEL_PAGE_SIZE),
				  (unsigned long long)(run * MODEL_PAGE_SIZE), b);
			pg += run;
		}
	}
}

const char *fz_addr(uint64_t ua)
{
	static char buf[4][40];
	static int k;

	k = (k + 1) & 3;
	for (int i = 0; i < FZ_MAX_MEMS; i++) {
		/* Names cover the guard pages too: PREFIX<i>+0x1000 is the first usable byte. */
		uint64_t base = fz_mem_base(i) - MODEL_PAGE_SIZE;

		if (fz_mems[i].base && ua >= base && ua - base <= (fz_mems[i].pages + 2) * MODEL_PAGE_SIZE) {
			snprintf(buf[k], sizeof(buf[k]), "%s%d+0x%llx", fz_mem_prefix, i,
				 (unsigned long long)(ua - base));
			return buf[k];
		}
	}
	snprintf(buf[k], sizeof(buf[k]), "0x%llx", (unsigned long long)ua);
	return buf[k];
}

/* ------------------------------------------------------------- an input */

int fz_quirks_mode = -1;
bool fz_kernel;
uint64_t fz_input_hash;
unsigned fz_fork_one_in = FZ_FORK_ONE_IN;
static bool fz_orphans_reaped;

static bool fz_quirks_of(const uint8_t *data, size_t size)
{
	const char *env = getenv("SPAPRTCE_FUZZ_QUIRKS");

	if (env && !strcmp(env, "kernel"))
		return true;
	if (env && !strcmp(env, "fixed"))
		return false;
	if (fz_quirks_mode >= 0)
		return fz_quirks_mode;
	return size && (data[size - 1] & 1);
}

/* Frees the orphan of model region @r in the library (its last reference). */
static void fz_reap_in_library(const struct model *m, int r)
{
	struct mmreg_region *reg;
	struct mmreg_mm *mm;

	if (mmreg_mm_current(&mm))
		fz_diverge("harness: no mm to reap an orphan in");
	mmreg_read_lock();
	reg = mmreg_region_find(mm, m->reg[r].ua, m->reg[r].entries);
	mmreg_read_unlock();
	/* Q12, Q15, Q17 (quirks=kernel): counts nothing gives back, as an exit forgets them. */
	if (reg && m->reg[r].leaked)
		mmreg_region_mapped_sub(reg, m->reg[r].leaked);
	if (!reg || mmreg_region_used(reg) != 1 || mmreg_region_put(mm, reg))
		fz_diverge("harness: the orphan at 0x%llx is not one in the library",
			   (unsigned long long)m->reg[r].ua);
	mmreg_mm_put(mm);
}

void fz_reap_orphans(struct model *m)
{
	for (int r = model_next_orphan(m, 0); r >= 0; r = model_next_orphan(m, r + 1)) {
		/* The decode-only variant called no library: it holds no orphan. */
		if (FZ_CHECKS)
			fz_reap_in_library(m, r);
		fz_tr_add("# the harness reaps the orphaned region at 0x%llx (process exit would)\n",
			  (unsigned long long)m->reg[r].ua);
		model_reap_orphan(m, r);
		fz_orphans_reaped = true;
	}
}

void fz_begin(const char *target, const uint8_t *data, size_t size, const char *mem_prefix,
	      void (*post_checks)(void))
{
	struct emu_mem_stats st;

	fz_target = target;
	fz_mem_prefix = mem_prefix;
	fz_post = post_checks;
	fz_tr_len = 0;
	fz_line_checks[0] = 0;
	fz_line_comment = false;
	fz_value.key = NULL;
	fz_tr_add("# %s input of %zu bytes\n", target, size);
	emu_mem_get_stats(&st);
	if (FZ_CHECKS && (spapr_mm_locked_vm() || st.pinned_pages || st.table_blocks))
		fz_diverge("the input does not start clean: locked_vm %llu, %llu pages pinned, "
			   "%llu table blocks", (unsigned long long)spapr_mm_locked_vm(),
			   (unsigned long long)st.pinned_pages, (unsigned long long)st.table_blocks);
	fz_shown_locked = fz_shown_pinned = 0;
	fz_orphans_reaped = false;
	fz_kernel = fz_quirks_of(data, size);
	emu__machine_set_quirks(fz_kernel ? EMU_QUIRKS_KERNEL : EMU_QUIRKS_FIXED);
	if (fz_kernel)
		fz_tr_add("# quirks=kernel: replay with SPAPRTCE_MACHINE=quirks=kernel\n");
	fz_req_readonly = fz_last_changed = fz_deferred = fz_forced = false;
	fz_input_hash = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < size; i++)
		fz_input_hash = (fz_input_hash ^ data[i]) * 0x100000001b3ull;
	/* FNV-1a's low bits depend only on the bytes' low bits: mix them all in. */
	fz_input_hash ^= fz_input_hash >> 33;
	fz_input_hash *= 0xff51afd7ed558ccdull;
	fz_input_hash ^= fz_input_hash >> 33;
	fz_rng = 0x9e3779b97f4a7c15ull ^ size;
	for (size_t i = 0; i < size && i < 16; i++)
		fz_rng = (fz_rng ^ data[i]) * 0x100000001b3ull;
	if (!fz_rng)
		fz_rng = 1;
}

void fz_end(void)
{
	struct emu_mem_stats st;

	/* Each check right after its line: a divergence names that line. */
	fz_tr_add(fz_orphans_reaped ? "# locked_vm => 0 (reaped)\n" : "locked_vm => 0\n");
	if (FZ_CHECKS && spapr_mm_locked_vm())
		fz_diverge("locked_vm is %llu after cleanup", (unsigned long long)spapr_mm_locked_vm());
	fz_tr_add(fz_orphans_reaped ? "# pinned => 0 (reaped)\n" : "pinned => 0\n");
	emu_mem_get_stats(&st);
	if (FZ_CHECKS && (st.pinned_pages || st.pins))
		fz_diverge("%llu pages pinned after cleanup", (unsigned long long)st.pinned_pages);
	if (FZ_CHECKS && st.table_blocks)
		fz_diverge("%llu table blocks allocated after cleanup", (unsigned long long)st.table_blocks);
	if (FZ_CHECKS)
		deep_checks();
	/* The mappings stay for the next input (fz_mem_mapping). */
	for (int i = 0; i < FZ_MAX_MEMS; i++)
		fz_mems[i].base = NULL;
	fz_write_trace_file();
}
