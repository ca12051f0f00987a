/* SPDX-License-Identifier: MIT */
/*
 * cli/trace_guest.c: the executors of the guest path of the trace language
 * (docs/replay.md, "The guest path"): a guest (KVM's VM), its memory slots
 * and guest TCE tables, the attachment of a group's hardware window, the
 * four hypercalls, and poke64, which writes an H_PUT_TCE_INDIRECT list
 * into memory.  Each request maps to one call of spapr/spapr.h; their
 * rows are in the one request table (cli/trace_ops.c).
 *
 * A guest is a name of its own kind, defined by `guest V`; the other
 * requests name it first.  Where the API has an object pointer (struct
 * spapr_guest *) the trace has that name; a LIOBN is a value, as the API
 * names a guest TCE table by it.  A request on a guest that does not exist
 * at run time (its creation failed, or it was destroyed) cannot run: it is
 * a divergence whatever it expects, since passing NULL or a freed guest to
 * the library is not something a trace may ask for.
 *
 * Hypercalls answer with an H_* code, never an errno (their rows say
 * `hcall`), and h_get_tce's value is checked with `tce=`.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/trace.h"
#include "spapr/spapr.h"

#define VAL(k) cli__val(t, &r->a[k])

static int errno_of(int rc)
{
	return rc < 0 ? errno : 0;
}

static unsigned clamp_uint(uint64_t v)
{
	return v > UINT_MAX ? UINT_MAX : (unsigned)v;
}

void cli__do_guest(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct cli_sym *s = &t->syms[r->h[0].sym];

	/* A name defined again: the old guest goes first. */
	cli__guest_free(s);
	res->err = errno_of(spapr_guest_create(&s->guest));
}

void cli__do_guest_destroy(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	(void)res;
	cli__guest_free(&t->syms[r->h[0].sym]);	/* a guest destroyed already is ignored, as NULL is */
}

/* The guest the request names, or NULL: then the request does not run. */
static struct spapr_guest *guest_of(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	const struct cli_sym *s = &t->syms[r->h[0].sym];

	if (!s->guest) {
		res->not_run = true;
		snprintf(res->mismatch, sizeof(res->mismatch),
			 "no guest '%s' (its creation failed, or it was destroyed)", s->name);
	}
	return s->guest;
}

void cli__do_memslot(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct spapr_guest *g = guest_of(t, r, res);

	if (g)
		res->err = errno_of(spapr_guest_set_memslot(g, clamp_uint(VAL(0)), VAL(1), VAL(2),
							    (void *)(uintptr_t)VAL(3)));
}

void cli__do_tce_table(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct spapr_guest *g = guest_of(t, r, res);

	if (g)
		res->err = errno_of(spapr_guest_create_tce_table(g, VAL(0), clamp_uint(VAL(1)), VAL(2), VAL(3)));
}

void cli__do_tce_table_destroy(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct spapr_guest *g = guest_of(t, r, res);

	if (g)
		res->err = errno_of(spapr_guest_destroy_tce_table(g, VAL(0)));
}

void cli__do_attach(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct spapr_guest *g = guest_of(t, r, res);

	if (g)
		res->err = errno_of(spapr_guest_attach_group(g, VAL(0), cli__fd_of(t, &r->h[1])));
}

void cli__do_detach(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct spapr_guest *g = guest_of(t, r, res);

	if (g)
		res->err = errno_of(spapr_guest_detach_group(g, VAL(0), cli__fd_of(t, &r->h[1])));
}

void cli__do_guest_check(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct spapr_guest *g = guest_of(t, r, res);

	if (g)
		res->err = errno_of(spapr_guest_check(g));
}

void cli__do_poke64(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	uint64_t *buf = malloc(r->nlist * sizeof(*buf));

	if (!buf) {
		res->err = ENOMEM;
		return;
	}
	for (unsigned k = 0; k < r->nlist; k++)
		buf[k] = htobe64(cli__val(t, &r->list[k]));
	res->err = cli__cpu_rw(VAL(0), buf, r->nlist * sizeof(*buf), true);
	free(buf);
}

void cli__do_h_put_tce(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct spapr_guest *g = guest_of(t, r, res);

	if (g)
		res->hret = spapr_h_put_tce(g, VAL(0), VAL(1), VAL(2));
}

void cli__do_h_put_tce_indirect(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct spapr_guest *g = guest_of(t, r, res);

	if (g)
		res->hret = spapr_h_put_tce_indirect(g, VAL(0), VAL(1), VAL(2), VAL(3));
}

void cli__do_h_stuff_tce(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct spapr_guest *g = guest_of(t, r, res);

	if (g)
		res->hret = spapr_h_stuff_tce(g, VAL(0), VAL(1), VAL(2), VAL(3));
}

void cli__do_h_get_tce(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct spapr_guest *g = guest_of(t, r, res);

	if (g)
		res->hret = spapr_h_get_tce(g, VAL(0), VAL(1), &res->tce);
}
