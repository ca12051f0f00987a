/* SPDX-License-Identifier: MIT */
/*
 * cli/trace_judge.c: the judge of the trace language: does a request's
 * result (struct cli_result) meet its line's expectation and checks?  It
 * also writes both sides of a divergence, "expected X, got Y", in the
 * trace's own terms: `ok`, an errno name, an H_* name, a number in the base
 * the trace wrote it in (a decimal `locked_vm=20484` is printed 20484, a
 * `tce=0x2000` 0x2000; a value of a name, `m.size`, in hex).
 *
 * Checks (KEY=VALUE) are compared only after the expectation matched and
 * the request succeeded (0, or H_SUCCESS): a failed request has no
 * start_addr or TCE to compare.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/trace.h"
#include "emu/mem.h"
#include "spapr/spapr.h"
#include "util/errno_name.h"

static void fmt_num(uint64_t v, bool hex, char *out, size_t n)
{
	snprintf(out, n, hex ? "%#" PRIx64 : "%" PRIu64, v);
}

static void fmt_errno(int err, char *out, size_t n)
{
	const char *name = util_errno_name(err);

	if (name)
		snprintf(out, n, "%s", name);
	else
		snprintf(out, n, "errno %d", err);
}

/* An H_* code as its name, else as a signed number. */
static void fmt_hcall(long h, char *out, size_t n)
{
	const char *name = cli__hcall_name(h);

	if (name)
		snprintf(out, n, "%s", name);
	else
		snprintf(out, n, "%ld", h);
}

static void fmt_exp(const struct cli_req *r, char *out, size_t n)
{
	if (r->exp == EXP_OK)
		snprintf(out, n, "ok");
	else if (r->exp == EXP_ERRNO)
		fmt_errno((int)r->exp_val, out, n);
	else if (r->exp == EXP_HCALL)
		fmt_hcall((long)r->exp_val, out, n);
	else
		fmt_num(r->exp_val, r->exp_hex, out, n);
}

/* What a check's key reads now, after the request. */
static uint64_t check_value(enum cli_check_key k, const struct cli_result *res)
{
	struct emu_mem_stats st;

	switch (k) {
	case K_DMA32_START:
		return res->info.dma32_window_start;
	case K_DMA32_SIZE:
		return res->info.dma32_window_size;
	case K_FLAGS:
		return res->info.flags;
	case K_PGSIZES:
		return res->info.ddw.pgsizes;
	case K_WINDOWS:
		return res->info.ddw.max_dynamic_windows_supported;
	case K_LEVELS:
		return res->info.ddw.levels;
	case K_START:
		return res->start;
	case K_TCE:
		return res->tce;
	case K_LOCKED_VM:
		return spapr_mm_locked_vm();
	default:
		emu_mem_get_stats(&st);
		return st.pinned_pages;
	}
}

/* The checks; false (with both sides written) at the first that fails. */
static bool judge_checks(const struct cli_trace *t, const struct cli_req *r, const struct cli_result *res,
			 char *exp, char *got, size_t n)
{
	for (unsigned i = 0; i < r->nchecks; i++) {
		const struct cli_check *c = &r->checks[i];
		uint64_t want = cli__val(t, &c->v), have = check_value(c->key, res);
		bool hex = c->v.kind != V_NUM || c->v.hex;
		char base[64], w[24], h[24];

		if (have == want)
			continue;
		fmt_exp(r, base, sizeof(base));
		fmt_num(want, hex, w, sizeof(w));
		fmt_num(have, hex, h, sizeof(h));
		snprintf(exp, n, "%s %s=%s", base, cli__check_keys[c->key], w);
		snprintf(got, n, "%s %s=%s", base, cli__check_keys[c->key], h);
		return false;
	}
	return true;
}

bool cli_trace_judge(const struct cli_trace *t, const struct cli_req *r, const struct cli_result *res,
		     char *exp, char *got, size_t n)
{
	bool match;

	fmt_exp(r, exp, n);
	if (res->not_run) {
		snprintf(got, n, "%s", res->mismatch);
		return false;
	}
	if (r->exp == EXP_HCALL)
		fmt_hcall(res->hret, got, n);
	else if (res->err)
		fmt_errno(res->err, got, n);
	else if (r->exp == EXP_NUM || res->val)
		fmt_num(res->val, r->exp == EXP_NUM && r->exp_hex, got, n);
	else
		snprintf(got, n, "ok");

	if (r->exp == EXP_OK)
		match = !res->err && !res->val;
	else if (r->exp == EXP_ERRNO)
		match = (uint64_t)res->err == r->exp_val;
	else if (r->exp == EXP_HCALL)
		match = res->hret == (long)r->exp_val;
	else
		match = !res->err && res->val == r->exp_val;
	if (!match)
		return false;
	if (res->mismatch[0]) {
		snprintf(got, n, "%s", res->mismatch);
		return false;
	}
	if (res->err || res->hret != H_SUCCESS)
		return true;
	return judge_checks(t, r, res, exp, got, n);
}
