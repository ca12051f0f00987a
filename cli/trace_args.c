/* SPDX-License-Identifier: MIT */
/*
 * cli/trace_args.c: the words of a request line (docs/replay.md): numbers
 * (decimal or 0x, their base kept so the judge prints them back alike),
 * values (a number, or NAME, NAME+OFF, NAME.size, NAME.shift of a memory
 * area), descriptors, guests, the few keyword arguments, the flags= and
 * argsz= options, and the definition of names.  cli__parse_request()
 * reads a request by following its row's argument spec (struct cli_op in
 * cli/trace.h), letter by letter; cli/trace_parse.c reads the line around
 * it.  Nothing runs here.
 *
 * A name a line defines is defined after the line's other arguments are
 * read, so `mem m m.size` cannot refer to the area it is defining; a line
 * that defines a name and is wrong still defines it, so that with every
 * error collected (--keep-going) the lines using the name do not add one
 * error each.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cli/trace.h"

int cli__perr(struct cli_parse *p, const char *fmt, ...)
{
	struct cli_trace *t = p->t;
	char msg[512];
	va_list ap;
	int n;

	if (p->line)
		n = snprintf(msg, sizeof(msg), "%s:%u: syntax error: ", t->file, p->line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", t->file);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (t->nerrs < CLI_MAX_ERRS)
		t->errs[t->nerrs] = strdup(msg);	/* NULL when out of memory: counted still */
	t->nerrs++;
	return -1;
}

/* ------------------------------------------------------------------ values */

/* A decimal or 0x number (unsigned 64-bit). */
int cli__parse_num(struct cli_parse *p, const char *s, uint64_t *v, bool *hex)
{
	const char *d = s;
	char *end;
	int base = 10;

	if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
		base = 16;
		d += 2;
	}
	if (!isxdigit((unsigned char)d[0]) || (base == 10 && !isdigit((unsigned char)d[0])))
		return cli__perr(p, "bad number '%s'", d);
	errno = 0;
	*v = strtoull(d, &end, base);
	if (errno || *end)
		return cli__perr(p, "bad number '%s'", d);
	if (hex)
		*hex = base == 16;
	return 0;
}

static bool is_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* A name being defined: new, or redefined with the same kind; its index or -1. */
static int sym_define(struct cli_parse *p, const char *name, enum cli_sym_kind kind)
{
	struct cli_trace *t = p->t;
	int i = cli__sym_find(t, name);

	if (!is_name(name) || strlen(name) >= sizeof(t->syms[0].name))
		return cli__perr(p, "bad name '%s'", name);
	if (i >= 0) {
		if (t->syms[i].kind != kind)
			return cli__perr(p, "'%s' is already of another kind", name);
		return i;
	}
	if (t->nsyms == CLI_MAX_SYMS)
		return cli__perr(p, "more than %u names", CLI_MAX_SYMS);
	snprintf(t->syms[t->nsyms].name, sizeof(t->syms[0].name), "%s", name);
	t->syms[t->nsyms].kind = kind;
	t->syms[t->nsyms].fd = -1;
	t->syms[t->nsyms].group = -1;
	return (int)t->nsyms++;
}

/* number | NAME | NAME+OFF | NAME.shift | NAME.size, NAME a memory area. */
int cli__parse_val(struct cli_parse *p, const char *s, struct cli_val *v)
{
	char name[64];
	const char *sep;
	size_t n;
	int i;

	memset(v, 0, sizeof(*v));
	v->sym = -1;
	if (isdigit((unsigned char)s[0]))
		return cli__parse_num(p, s, &v->num, &v->hex);
	sep = s + strcspn(s, "+.");
	n = (size_t)(sep - s);
	if (n >= sizeof(name))
		return cli__perr(p, "unknown name '%s'", s);
	memcpy(name, s, n);
	name[n] = 0;
	i = cli__sym_find(p->t, name);
	if (i < 0 || p->t->syms[i].kind != SYM_MEM)
		return cli__perr(p, "unknown memory name '%s'", name);
	v->sym = i;
	if (*sep == '+') {
		v->kind = V_ADDR;
		return cli__parse_num(p, sep + 1, &v->num, NULL);
	}
	if (!strcmp(sep, ".shift"))
		v->kind = V_SHIFT;
	else if (!strcmp(sep, ".size"))
		v->kind = V_SIZE;
	else if (!*sep)
		v->kind = V_ADDR;
	else
		return cli__perr(p, "bad value '%s'", s);
	return 0;
}

/* A descriptor: a name of kind @want (-1: container or group) or a raw number. */
static int parse_handle(struct cli_parse *p, const char *s, struct cli_handle *h, int want)
{
	const struct cli_trace *t = p->t;
	uint64_t v;

	h->sym = -1;
	if (isdigit((unsigned char)s[0]) || s[0] == '-') {
		bool neg = s[0] == '-';

		if (cli__parse_num(p, s + neg, &v, NULL))
			return -1;
		if (v > INT32_MAX)
			return cli__perr(p, "descriptor '%s' out of range", s);
		h->raw = neg ? -(int64_t)v : (int64_t)v;
		return 0;
	}
	h->sym = cli__sym_find(t, s);
	if (h->sym < 0 || (t->syms[h->sym].kind != SYM_CONTAINER && t->syms[h->sym].kind != SYM_GROUP) ||
	    (want >= 0 && t->syms[h->sym].kind != (enum cli_sym_kind)want))
		return cli__perr(p, "unknown %s '%s'",
			    want == SYM_CONTAINER ? "container" : want == SYM_GROUP ? "group" : "container or group",
			    s);
	return 0;
}

static int parse_guest(struct cli_parse *p, const char *s, struct cli_handle *h)
{
	h->sym = cli__sym_find(p->t, s);
	if (h->sym < 0 || p->t->syms[h->sym].kind != SYM_GUEST)
		return cli__perr(p, "unknown guest '%s'", s);
	return 0;
}

/* One word of a few: its index in @words, or -1 after a syntax error. */
static int parse_word(struct cli_parse *p, const char *s, const char *const *words, const char *what)
{
	char hint[64] = "";

	for (int i = 0; words[i]; i++) {
		if (!strcmp(words[i], s))
			return i;
		snprintf(hint + strlen(hint), sizeof(hint) - strlen(hint), "%s%s", i ? ", " : "", words[i]);
	}
	return cli__perr(p, "bad %s '%s' (%s)", what, s, hint);
}

static int parse_opt(struct cli_parse *p, const char *s, struct cli_req *r)
{
	if (!strncmp(s, "flags=", 6)) {
		r->has_flags = true;
		return cli__parse_val(p, s + 6, &r->flags);
	}
	if (!strncmp(s, "argsz=", 6)) {
		r->has_argsz = true;
		return cli__parse_val(p, s + 6, &r->argsz);
	}
	return cli__perr(p, "unexpected '%s'", s);
}

/* ---------------------------------------------------------------- requests */

static const char *const prot_words[] = { "ro", "none", "rw", NULL };
static const int prot_vals[] = { PROT_READ, PROT_NONE, PROT_READ | PROT_WRITE };
static const char *const dir_words[] = { "r", "w", "rw", "none", NULL };
static const unsigned dir_vals[] = { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE,
				     VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, 0 };

/* The token counts @spec accepts after the request word: [*min, *max]. */
static void arg_counts(const char *spec, unsigned *min, unsigned *max)
{
	*min = *max = 0;
	for (; *spec; spec++) {
		if (*spec == 'H' || *spec == 'S' || *spec == 'b') {
			(*max)++;
		} else if (*spec == 'o') {
			*max = UINT32_MAX / 2;
		} else if (*spec == 'R') {
			(*min)++;
			*max = UINT32_MAX / 2;
		} else if (*spec == '*') {
			(*min)++;
			*max += CLI_MAX_POKE;
		} else {
			(*min)++;
			(*max)++;
		}
	}
}


/* A definition letter's symbol kind, or -1. */
static int def_kind(char c)
{
	return c == 'M' ? SYM_MEM : c == 'C' ? SYM_CONTAINER : c == 'G' ? SYM_GROUP : c == 'U' ? SYM_GUEST : -1;
}

/* Follows the row's argument spec over tok[1 .. ntok). */
static int parse_args(struct cli_parse *p, char **tok, unsigned ntok, struct cli_req *r)
{
	const struct cli_op *op = r->op;
	unsigned min, max, i = 1, nh = 0, def_tok = 0, def_h = 0;
	int def = -1, w;

	arg_counts(op->args, &min, &max);
	if (ntok - 1 < min || ntok - 1 > max) {
		if (strchr(op->args, '*') && ntok - 1 > max)
			return cli__perr(p, "more than %u values for '%s'", CLI_MAX_POKE, op->name);
		return cli__perr(p, "usage: %s", op->usage);
	}
	for (const char *c = op->args; *c && i <= ntok; c++) {
		const char *s = i < ntok ? tok[i] : NULL;

		if (!s && *c != 'H' && *c != 'S' && *c != 'b' && *c != 'o')
			break;
		switch (*c) {
		case 'v':
		case 'b':
			if (!s)
				continue;
			r->has_byte |= *c == 'b';
			if (cli__parse_val(p, s, &r->a[r->na++]))
				return -1;
			break;
		case 'n':
		case 'L':
			r->a[r->na].sym = -1;
			if (*c == 'L' && !strcmp(s, "unlimited"))
				r->a[r->na].num = UINT64_MAX;
			else if (cli__parse_num(p, s, &r->a[r->na].num, &r->a[r->na].hex))
				return -1;
			r->na++;
			break;
		case 'c':
		case 'g':
		case 'h':
			if (parse_handle(p, s, &r->h[nh++], *c == 'c' ? SYM_CONTAINER : *c == 'g' ? SYM_GROUP : -1))
				return -1;
			break;
		case 'V':
			if (parse_guest(p, s, &r->h[nh++]))
				return -1;
			break;
		case 'M':
		case 'C':
		case 'G':
		case 'U':
			def = def_kind(*c);
			def_tok = i;
			def_h = nh++;
			break;
		case 'P':
			if ((w = parse_word(p, s, prot_words, "protection")) < 0)
				return -1;
			r->dir = (unsigned)prot_vals[w];
			break;
		case 'D':
			if ((w = parse_word(p, s, dir_words, "direction")) < 0)
				return -1;
			r->dir = dir_vals[w];
			break;
		case 'I':
			if (!strcmp(s, "v1"))
				r->iommu_type = VFIO_SPAPR_TCE_IOMMU;
			else if (!strcmp(s, "v2"))
				r->iommu_type = VFIO_SPAPR_TCE_v2_IOMMU;
			else if (cli__parse_num(p, s, &r->iommu_type, NULL))
				return -1;
			break;
		case 'H':
			if (!s || (c[1] == 'S' && !strcmp(s, "shared")))
				continue;	/* absent: the token is the next letter's */
			if (strcmp(s, "huge"))
				return cli__perr(p, "usage: %s", op->usage);
			r->huge = true;
			break;
		case 'S':
			if (!s)
				continue;
			if (strcmp(s, "shared"))
				return cli__perr(p, "usage: %s", op->usage);
			r->shared = true;
			break;
		case 'o':
			for (; i < ntok; i++)
				if (parse_opt(p, tok[i], r))
					return -1;
			continue;
		case 'R':
			if (!strcmp(s, "fork_expect"))
				return cli__perr(p, "fork_expect cannot nest");
			r->child = calloc(1, sizeof(*r->child));
			if (!r->child)
				return cli__perr(p, "out of memory");
			r->child->line = r->line;
			return cli__parse_request(p, tok + i, ntok - i, r->child);
		case '*':
			r->nlist = ntok - i;
			r->list = calloc(r->nlist, sizeof(*r->list));
			if (!r->list)
				return cli__perr(p, "out of memory");
			for (unsigned k = 0; k < r->nlist; k++)
				if (cli__parse_val(p, tok[i + k], &r->list[k]))
					return -1;
			i = ntok;
			continue;
		}
		i++;
	}
	if (def >= 0) {
		r->h[def_h].sym = sym_define(p, tok[def_tok], (enum cli_sym_kind)def);
		if (r->h[def_h].sym < 0)
			return -1;
	}
	return 0;
}

/* tok[0 .. ntok): a request without its "=> EXPECT". */
int cli__parse_request(struct cli_parse *p, char **tok, unsigned ntok, struct cli_req *r)
{
	r->h[0].sym = r->h[1].sym = -1;
	for (unsigned k = 0; k < CLI_MAX_ARGS; k++)
		r->a[k].sym = -1;
	r->op = cli__op_find(tok[0]);
	if (!r->op)
		return cli__perr(p, "unknown request '%s'", tok[0]);
	if (!parse_args(p, tok, ntok, r))
		return 0;
	/* A line that defines a name and is wrong still defines it, so that the
	 * lines using it do not add an error each (with all_errors). */
	if (def_kind(r->op->args[0]) >= 0 && ntok > 1 && is_name(tok[1]) &&
	    strlen(tok[1]) < sizeof(p->t->syms[0].name) && cli__sym_find(p->t, tok[1]) < 0 &&
	    p->t->nsyms < CLI_MAX_SYMS)
		sym_define(p, tok[1], (enum cli_sym_kind)def_kind(r->op->args[0]));
	return -1;
}
