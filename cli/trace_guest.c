/* SPDX-License-Identifier: MIT */
/*
 * cli/trace_guest.c: the guest path of the trace language (docs/replay.md,
 * "The guest path"): a guest (KVM's VM), its memory slots and guest TCE
 * tables, the attachment of a group's hardware window, the four
 * hypercalls, and poke64, which writes an H_PUT_TCE_INDIRECT list into
 * memory.  Each request maps to one call of spapr/spapr.h.
 *
 * A guest is a name of its own kind, defined by `guest V`; the other
 * requests name it first.  Where the API has an object pointer (struct
 * spapr_guest *) the trace has that name; a LIOBN is a value, as the API
 * names a guest TCE table by it.  A request on a guest that does not exist
 * at run time (its creation failed, or it was destroyed) cannot run: it is
 * a divergence whatever it expects, since passing NULL or a freed guest to
 * the library is not something a trace may ask for.
 *
 * Hypercalls answer with an H_* code, never an errno: their expectation is
 * H_SUCCESS, H_PARAMETER, H_TOO_HARD, H_HARDWARE or a number (trace.c
 * parses it, see op_is_hcall), and h_get_tce's value is checked with
 * `tce=`.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/trace.h"
#include "spapr/spapr.h"

static const struct {
	const char *name;
	long code;
} hnames[] = {
	{ "H_SUCCESS", H_SUCCESS }, { "H_HARDWARE", H_HARDWARE }, { "H_PARAMETER", H_PARAMETER },
	{ "H_TOO_HARD", H_TOO_HARD },
};

const char *cli__hcall_name(long h)
{
	for (size_t i = 0; i < sizeof(hnames) / sizeof(hnames[0]); i++)
		if (hnames[i].code == h)
			return hnames[i].name;
	return NULL;
}

bool cli__hcall_by_name(const char *s, long *h)
{
	for (size_t i = 0; i < sizeof(hnames) / sizeof(hnames[0]); i++)
		if (!strcmp(hnames[i].name, s)) {
			*h = hnames[i].code;
			return true;
		}
	return false;
}

/* ---------------------------------------------------------------- parsing */

/* Every request but poke64 names a guest first; then na values; attach and
 * detach end with a descriptor (a group, or any descriptor: EINVAL). */
static const struct {
	const char *name;
	enum op op;
	unsigned na;
	bool fd;
	const char *usage;
} gops[] = {
	{ "guest", OP_GUEST, 0, false, "guest NAME" },
	{ "guest_destroy", OP_GUEST_DESTROY, 0, false, "guest_destroy V" },
	{ "memslot", OP_MEMSLOT, 4, false, "memslot V SLOT GPA SIZE ADDR" },
	{ "tce_table", OP_TCE_TABLE, 4, false, "tce_table V LIOBN SHIFT OFFSET SIZE" },
	{ "tce_table_destroy", OP_TCE_TABLE_DESTROY, 1, false, "tce_table_destroy V LIOBN" },
	{ "attach", OP_ATTACH, 1, true, "attach V LIOBN G" },
	{ "detach", OP_DETACH, 1, true, "detach V LIOBN G" },
	{ "guest_check", OP_GUEST_CHECK, 0, false, "guest_check V" },
	{ "poke64", OP_POKE64, 1, false, "poke64 ADDR VALUE..." },
	{ "h_put_tce", OP_H_PUT_TCE, 3, false, "h_put_tce V LIOBN IOBA TCE" },
	{ "h_put_tce_indirect", OP_H_PUT_TCE_INDIRECT, 4, false,
	  "h_put_tce_indirect V LIOBN IOBA LIST NPAGES" },
	{ "h_stuff_tce", OP_H_STUFF_TCE, 4, false, "h_stuff_tce V LIOBN IOBA VALUE NPAGES" },
	{ "h_get_tce", OP_H_GET_TCE, 2, false, "h_get_tce V LIOBN IOBA" },
};

static int parse_poke(struct parse *p, char **tok, unsigned ntok, struct req *r)
{
	if (ntok < 3)
		return cli__perr(p, "usage: poke64 ADDR VALUE...");
	if (ntok - 2 > MAX_POKE)
		return cli__perr(p, "more than %u values for 'poke64'", MAX_POKE);
	if (cli__parse_val(p, tok[1], &r->a[0]))
		return -1;
	r->na = 1;
	r->list = calloc(ntok - 2, sizeof(*r->list));
	if (!r->list)
		return cli__perr(p, "out of memory");
	r->nlist = ntok - 2;
	for (unsigned k = 0; k < r->nlist; k++)
		if (cli__parse_val(p, tok[2 + k], &r->list[k]))
			return -1;
	return 0;
}

int cli__guest_parse(struct parse *p, char **tok, unsigned ntok, struct req *r)
{
	unsigned o, k, want;
	int s;

	for (o = 0; o < sizeof(gops) / sizeof(gops[0]); o++)
		if (!strcmp(gops[o].name, tok[0]))
			break;
	if (o == sizeof(gops) / sizeof(gops[0]))
		return 1;
	r->op = gops[o].op;
	if (r->op == OP_POKE64)
		return parse_poke(p, tok, ntok, r);
	want = 2 + gops[o].na + gops[o].fd;
	if (ntok != want)
		return cli__perr(p, "usage: %s", gops[o].usage);
	if (r->op == OP_GUEST) {
		s = cli__sym_define(p, tok[1], SYM_GUEST);
		if (s < 0)
			return -1;
	} else {
		s = cli__sym_find(tok[1]);
		if (s < 0 || cli__sym(s)->kind != SYM_GUEST)
			return cli__perr(p, "unknown guest '%s'", tok[1]);
	}
	r->h[0].sym = s;
	for (k = 0; k < gops[o].na; k++)
		if (cli__parse_val(p, tok[2 + k], &r->a[k]))
			return -1;
	r->na = gops[o].na;
	if (gops[o].fd && cli__parse_handle(p, tok[2 + k], &r->h[1], -1))
		return -1;
	return 0;
}

/* -------------------------------------------------------------- execution */

void cli__guest_free(struct sym *s)
{
	spapr_guest_destroy(s->guest);
	s->guest = NULL;
}

static unsigned clamp_uint(uint64_t v)
{
	return v > UINT_MAX ? UINT_MAX : (unsigned)v;
}

static int errno_of(int rc)
{
	return rc < 0 ? errno : 0;
}

static void do_poke(const struct req *r, struct result *res)
{
	uint64_t *buf = malloc(r->nlist * sizeof(*buf));

	if (!buf) {
		res->err = ENOMEM;
		return;
	}
	for (unsigned k = 0; k < r->nlist; k++)
		buf[k] = htobe64(cli__val(&r->list[k]));
	res->err = cli__cpu_rw(cli__val(&r->a[0]), buf, r->nlist * sizeof(*buf), true);
	free(buf);
}

void cli__guest_exec(const struct req *r, struct result *res)
{
	struct sym *s = r->h[0].sym >= 0 ? cli__sym(r->h[0].sym) : NULL;
	struct spapr_guest *g = s ? s->guest : NULL;
	uint64_t a[MAX_ARGS];

	for (unsigned k = 0; k < r->na; k++)
		a[k] = cli__val(&r->a[k]);
	if (r->op == OP_POKE64) {
		do_poke(r, res);
		return;
	}
	if (r->op == OP_GUEST) {
		/* A name defined again: the old guest goes first. */
		cli__guest_free(s);
		res->err = errno_of(spapr_guest_create(&s->guest));
		return;
	}
	if (r->op == OP_GUEST_DESTROY) {
		cli__guest_free(s);	/* a guest destroyed already is ignored, as NULL is */
		return;
	}
	if (!g) {
		res->not_run = true;
		snprintf(res->mismatch, sizeof(res->mismatch),
			 "no guest '%s' (its creation failed, or it was destroyed)", s->name);
		return;
	}
	switch (r->op) {
	case OP_MEMSLOT:
		res->err = errno_of(spapr_guest_set_memslot(g, clamp_uint(a[0]), a[1], a[2],
							    (void *)(uintptr_t)a[3]));
		break;
	case OP_TCE_TABLE:
		res->err = errno_of(spapr_guest_create_tce_table(g, a[0], clamp_uint(a[1]), a[2], a[3]));
		break;
	case OP_TCE_TABLE_DESTROY:
		res->err = errno_of(spapr_guest_destroy_tce_table(g, a[0]));
		break;
	case OP_ATTACH:
		res->err = errno_of(spapr_guest_attach_group(g, a[0], cli__fd_of(&r->h[1])));
		break;
	case OP_DETACH:
		res->err = errno_of(spapr_guest_detach_group(g, a[0], cli__fd_of(&r->h[1])));
		break;
	case OP_GUEST_CHECK:
		res->err = errno_of(spapr_guest_check(g));
		break;
	case OP_H_PUT_TCE:
		res->hret = spapr_h_put_tce(g, a[0], a[1], a[2]);
		break;
	case OP_H_PUT_TCE_INDIRECT:
		res->hret = spapr_h_put_tce_indirect(g, a[0], a[1], a[2], a[3]);
		break;
	case OP_H_STUFF_TCE:
		res->hret = spapr_h_stuff_tce(g, a[0], a[1], a[2], a[3]);
		break;
	case OP_H_GET_TCE:
		res->hret = spapr_h_get_tce(g, a[0], a[1], &res->tce);
		break;
	default:
		break;
	}
}
