/* SPDX-License-Identifier: MIT */
/*
 * cli/trace.c: the trace language of `spaprtce replay` (docs/replay.md).
 * The guest path (guests, memslots, guest TCE tables, the hypercalls) is
 * cli/trace_guest.c; cli/trace.h says what the two share.
 *
 * A trace is read whole and parsed first, so that an error in the trace
 * itself (unknown request, bad number, unknown name) is reported with its
 * line before anything runs.  Names (memory areas, containers, groups,
 * guests) are resolved at parse time to symbols; their addresses,
 * descriptors and guests are filled in as the trace runs.  Then the requests run in order; each result
 * is compared with the line's expectation and its key=value checks, and a
 * mismatch is a divergence, reported through the caller's callback.
 *
 * What the trace creates (memory, descriptors, a raised hugetlbfs pool)
 * stays until cli_trace_release(), so `spaprtce stats --after` can look at
 * the machine as the trace left it.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "emu/emu.h"
#include "emu/mem.h"
#include "spapr/spapr.h"

#include "cli/trace.h"

#define MAX_SYMS 256
#define MAX_TOKENS (MAX_POKE + 16)	/* of one line */
#define HUGE_SHIFT 21u
#define MAX_XFER (1ull << 30)	/* largest dma_read/dma_write/fill/check, bytes */

/* ------------------------------------------------------------- errno names */

static const struct {
	int err;
	const char *name;
} errnames[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" }, { EINTR, "EINTR" },
	{ EIO, "EIO" }, { ENXIO, "ENXIO" }, { E2BIG, "E2BIG" }, { EBADF, "EBADF" },
	{ EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" }, { EINVAL, "EINVAL" },
	{ ENFILE, "ENFILE" }, { EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" }, { ENOSPC, "ENOSPC" },
	{ ERANGE, "ERANGE" }, { ENOSYS, "ENOSYS" }, { EOVERFLOW, "EOVERFLOW" },
	{ EOPNOTSUPP, "EOPNOTSUPP" }, { EUCLEAN, "EUCLEAN" }, { ENOTSUP, "ENOTSUP" },
};

const char *cli_errname(int err)
{
	static __thread char buf[24];

	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

static int errno_by_name(const char *s)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (!strcmp(errnames[i].name, s))
			return errnames[i].err;
	return 0;
}

/* ------------------------------------------------------------- structures */

static struct sym syms[MAX_SYMS];
static unsigned nsyms;
static struct req *reqs;
static unsigned nreqs;
static long huge_prev = -1;	/* nr_hugepages to restore, or -1 */

/* ---------------------------------------------------------------- parsing */

int cli__perr(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->errlen, "%s:%u: syntax error: ", p->file, p->line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

int cli__parse_num(struct parse *p, const char *s, uint64_t *v)
{
	char *end;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!isxdigit((unsigned char)s[0]))
		return cli__perr(p, "bad number '%s'", s);
	errno = 0;
	*v = strtoull(s, &end, base);
	if (errno || *end || (base == 10 && !isdigit((unsigned char)s[0])))
		return cli__perr(p, "bad number '%s'", s);
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

struct sym *cli__sym(int i)
{
	return &syms[i];
}

int cli__sym_find(const char *name)
{
	for (unsigned i = 0; i < nsyms; i++)
		if (!strcmp(syms[i].name, name))
			return (int)i;
	return -1;
}

/* A name being defined by mem/container/group: new, or redefined with the same kind. */
int cli__sym_define(struct parse *p, const char *name, enum sym_kind kind)
{
	int i = cli__sym_find(name);

	if (!is_name(name) || strlen(name) >= sizeof(syms[0].name))
		return cli__perr(p, "bad name '%s'", name);
	if (i >= 0) {
		if (syms[i].kind != kind)
			return cli__perr(p, "'%s' is already of another kind", name);
		return i;
	}
	if (nsyms == MAX_SYMS)
		return cli__perr(p, "more than %u names", MAX_SYMS);
	snprintf(syms[nsyms].name, sizeof(syms[0].name), "%s", name);
	syms[nsyms].kind = kind;
	syms[nsyms].fd = -1;
	syms[nsyms].group = -1;
	return (int)nsyms++;
}

/* number | NAME | NAME+OFF | NAME.shift | NAME.size, NAME a memory area. */
int cli__parse_val(struct parse *p, const char *s, struct val *v)
{
	char name[64];
	const char *sep;
	size_t n;
	int i;

	memset(v, 0, sizeof(*v));
	v->sym = -1;
	if (isdigit((unsigned char)s[0]))
		return cli__parse_num(p, s, &v->num);
	sep = s + strcspn(s, "+.");
	n = (size_t)(sep - s);
	if (n >= sizeof(name))
		return cli__perr(p, "unknown name '%s'", s);
	memcpy(name, s, n);
	name[n] = 0;
	i = cli__sym_find(name);
	if (i < 0 || syms[i].kind != SYM_MEM)
		return cli__perr(p, "unknown memory name '%s'", name);
	v->sym = i;
	if (*sep == '+') {
		v->kind = V_ADDR;
		return cli__parse_num(p, sep + 1, &v->num);
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

int cli__parse_handle(struct parse *p, const char *s, struct handle *h, int want_kind)
{
	uint64_t v;

	h->sym = -1;
	if (isdigit((unsigned char)s[0]) || s[0] == '-') {
		bool neg = s[0] == '-';

		if (cli__parse_num(p, s + neg, &v))
			return -1;
		if (v > INT32_MAX)
			return cli__perr(p, "descriptor '%s' out of range", s);
		h->raw = neg ? -(int64_t)v : (int64_t)v;
		return 0;
	}
	h->sym = cli__sym_find(s);
	if (h->sym < 0 || (syms[h->sym].kind != SYM_CONTAINER && syms[h->sym].kind != SYM_GROUP) ||
	    (want_kind >= 0 && syms[h->sym].kind != (enum sym_kind)want_kind))
		return cli__perr(p, "unknown %s '%s'",
				 want_kind == SYM_CONTAINER ? "container" :
				 want_kind == SYM_GROUP ? "group" : "container or group", s);
	return 0;
}

static const struct {
	const char *name;
	enum op op;
	unsigned nh, na;	/* handles, then values */
	int hkind[2];		/* kind per handle, -1 any */
	bool opts;		/* flags=, argsz= allowed before => */
} ops[] = {
	{ "memlock", OP_MEMLOCK, 0, 2, { -1, -1 }, false },
	{ "mem", OP_MEM, 0, 1, { -1, -1 }, false },
	{ "munmap", OP_MUNMAP, 0, 2, { -1, -1 }, false },
	{ "mprotect", OP_MPROTECT, 0, 2, { -1, -1 }, false },
	{ "container", OP_CONTAINER, 0, 0, { -1, -1 }, false },
	{ "group", OP_GROUP, 0, 1, { -1, -1 }, false },
	{ "close", OP_CLOSE, 1, 0, { -1, -1 }, false },
	{ "set_container", OP_SET_CONTAINER, 2, 0, { SYM_GROUP, SYM_CONTAINER }, false },
	{ "unset_container", OP_UNSET_CONTAINER, 1, 0, { SYM_GROUP, -1 }, false },
	{ "set_iommu", OP_SET_IOMMU, 1, 0, { SYM_CONTAINER, -1 }, false },
	{ "check_extension", OP_CHECK_EXTENSION, 1, 1, { SYM_CONTAINER, -1 }, false },
	{ "api_version", OP_API_VERSION, 1, 0, { SYM_CONTAINER, -1 }, false },
	{ "get_info", OP_GET_INFO, 1, 0, { SYM_CONTAINER, -1 }, true },
	{ "register", OP_REGISTER, 1, 2, { SYM_CONTAINER, -1 }, true },
	{ "unregister", OP_UNREGISTER, 1, 2, { SYM_CONTAINER, -1 }, true },
	{ "map", OP_MAP, 1, 3, { SYM_CONTAINER, -1 }, true },
	{ "unmap", OP_UNMAP, 1, 2, { SYM_CONTAINER, -1 }, true },
	{ "create", OP_CREATE, 1, 3, { SYM_CONTAINER, -1 }, true },
	{ "remove", OP_REMOVE, 1, 1, { SYM_CONTAINER, -1 }, true },
	{ "enable", OP_ENABLE, 1, 0, { SYM_CONTAINER, -1 }, false },
	{ "disable", OP_DISABLE, 1, 0, { SYM_CONTAINER, -1 }, false },
	{ "ioctl", OP_IOCTL, 1, 1, { -1, -1 }, false },
	{ "locked_vm", OP_LOCKED_VM, 0, 0, { -1, -1 }, false },
	{ "pinned", OP_PINNED, 0, 0, { -1, -1 }, false },
	{ "dma_write", OP_DMA_WRITE, 1, 3, { SYM_GROUP, -1 }, false },
	{ "dma_read", OP_DMA_READ, 1, 2, { SYM_GROUP, -1 }, false },
	{ "fill", OP_FILL, 0, 3, { -1, -1 }, false },
	{ "check", OP_CHECK, 0, 3, { -1, -1 }, false },
	{ "fork_expect", OP_FORK_EXPECT, 1, 0, { SYM_CONTAINER, -1 }, false },
};

static int parse_request(struct parse *p, char **tok, unsigned ntok, struct req *r);

static int parse_opt(struct parse *p, const char *t, struct req *r)
{
	if (!strncmp(t, "flags=", 6)) {
		r->has_flags = true;
		return cli__parse_val(p, t + 6, &r->flags);
	}
	if (!strncmp(t, "argsz=", 6)) {
		r->has_argsz = true;
		return cli__parse_val(p, t + 6, &r->argsz);
	}
	return cli__perr(p, "unexpected '%s'", t);
}

/* Parses tok[0 .. ntok) (no "=>" part) into @r. */
static int parse_request(struct parse *p, char **tok, unsigned ntok, struct req *r)
{
	unsigned k, i = 1, o;

	for (o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
		if (!strcmp(ops[o].name, tok[0]))
			break;
	if (o == sizeof(ops) / sizeof(ops[0])) {
		int rc = cli__guest_parse(p, tok, ntok, r);

		return rc > 0 ? cli__perr(p, "unknown request '%s'", tok[0]) : rc;
	}
	r->op = ops[o].op;

	/* The requests that define a name, and those with word arguments. */
	switch (r->op) {
	case OP_MEMLOCK:
		if (ntok != 3)
			return cli__perr(p, "usage: memlock BYTES|unlimited CAP");
		r->na = 2;
		r->a[0].sym = r->a[1].sym = -1;
		if (!strcmp(tok[1], "unlimited"))
			r->a[0].num = UINT64_MAX;
		else if (cli__parse_num(p, tok[1], &r->a[0].num))
			return -1;
		return cli__parse_num(p, tok[2], &r->a[1].num);
	case OP_MEM: {
		int s;

		if (ntok < 3 || ntok > 4 || (ntok == 4 && strcmp(tok[3], "huge")))
			return cli__perr(p, "usage: mem NAME SIZE [huge]");
		r->huge = ntok == 4;
		if (cli__parse_val(p, tok[2], &r->a[0]))
			return -1;
		s = cli__sym_define(p, tok[1], SYM_MEM);
		if (s < 0)
			return -1;
		r->h[0].sym = s;
		r->na = 1;
		return 0;
	}
	case OP_CONTAINER:
	case OP_GROUP: {
		int s;

		if (ntok != (r->op == OP_GROUP ? 3u : 2u))
			return cli__perr(p, r->op == OP_GROUP ? "usage: group NAME N" : "usage: container NAME");
		if (r->op == OP_GROUP && cli__parse_val(p, tok[2], &r->a[0]))
			return -1;
		s = cli__sym_define(p, tok[1], r->op == OP_GROUP ? SYM_GROUP : SYM_CONTAINER);
		if (s < 0)
			return -1;
		r->h[0].sym = s;
		r->na = r->op == OP_GROUP;
		return 0;
	}
	case OP_MPROTECT:
		if (ntok != 4)
			return cli__perr(p, "usage: mprotect ADDR SIZE ro|none|rw");
		if (!strcmp(tok[3], "ro"))
			r->dir = PROT_READ;
		else if (!strcmp(tok[3], "none"))
			r->dir = PROT_NONE;
		else if (!strcmp(tok[3], "rw"))
			r->dir = PROT_READ | PROT_WRITE;
		else
			return cli__perr(p, "bad protection '%s' (ro, none, rw)", tok[3]);
		ntok = 3;
		break;
	case OP_SET_IOMMU:
		if (ntok != 3)
			return cli__perr(p, "usage: set_iommu C v1|v2|N");
		if (cli__parse_handle(p, tok[1], &r->h[0], SYM_CONTAINER))
			return -1;
		if (!strcmp(tok[2], "v1"))
			r->iommu_type = VFIO_SPAPR_TCE_IOMMU;
		else if (!strcmp(tok[2], "v2"))
			r->iommu_type = VFIO_SPAPR_TCE_v2_IOMMU;
		else if (cli__parse_num(p, tok[2], &r->iommu_type))
			return -1;
		return 0;
	case OP_MAP:
		if (ntok < 6)
			return cli__perr(p, "usage: map C VADDR IOVA SIZE r|w|rw|none [flags=N argsz=N]");
		if (!strcmp(tok[5], "r"))
			r->dir = VFIO_DMA_MAP_FLAG_READ;
		else if (!strcmp(tok[5], "w"))
			r->dir = VFIO_DMA_MAP_FLAG_WRITE;
		else if (!strcmp(tok[5], "rw"))
			r->dir = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
		else if (!strcmp(tok[5], "none"))
			r->dir = 0;
		else
			return cli__perr(p, "bad direction '%s' (r, w, rw, none)", tok[5]);
		for (k = 6; k < ntok; k++)
			if (parse_opt(p, tok[k], r))
				return -1;
		ntok = 5;
		break;
	case OP_DMA_READ:
		if (ntok == 5) {
			r->has_byte = true;
			if (cli__parse_val(p, tok[4], &r->a[2]))
				return -1;
			ntok = 4;
		}
		break;
	case OP_FORK_EXPECT:
		if (ntok < 3)
			return cli__perr(p, "usage: fork_expect C REQUEST ARGS...");
		if (cli__parse_handle(p, tok[1], &r->h[0], SYM_CONTAINER))
			return -1;
		if (!strcmp(tok[2], "fork_expect"))
			return cli__perr(p, "fork_expect cannot nest");
		r->child = calloc(1, sizeof(*r->child));
		if (!r->child)
			return cli__perr(p, "out of memory");
		r->child->line = r->line;
		r->child->h[0].sym = r->child->h[1].sym = -1;
		return parse_request(p, tok + 2, ntok - 2, r->child);
	default:
		break;
	}

	for (k = 0; k < ops[o].nh; k++, i++) {
		if (i >= ntok)
			return cli__perr(p, "'%s' needs %u argument(s)", tok[0], ops[o].nh + ops[o].na);
		if (cli__parse_handle(p, tok[i], &r->h[k], ops[o].hkind[k]))
			return -1;
	}
	for (k = 0; k < ops[o].na; k++, i++) {
		if (i >= ntok)
			return cli__perr(p, "'%s' needs %u argument(s)", tok[0], ops[o].nh + ops[o].na);
		if (cli__parse_val(p, tok[i], &r->a[k]))
			return -1;
	}
	r->na = ops[o].na + r->has_byte;
	for (; i < ntok; i++) {
		if (!ops[o].opts)
			return cli__perr(p, "too many arguments for '%s'", tok[0]);
		if (parse_opt(p, tok[i], r))
			return -1;
	}
	return 0;
}

static const char *const check_keys[] = {
	"dma32_start", "dma32_size", "flags", "pgsizes", "windows", "levels", "start", "tce",
	"locked_vm", "pinned",
};

/* EXPECT of a hypercall: an H_* name or a number (decimal may be negative: -4 is H_PARAMETER). */
static int parse_hcall_exp(struct parse *p, const char *t, struct req *r)
{
	long h;
	uint64_t v;

	r->exp = EXP_HCALL;
	if (cli__hcall_by_name(t, &h)) {
		r->exp_val = (uint64_t)h;
		return 0;
	}
	if (isdigit((unsigned char)t[0]) || (t[0] == '-' && isdigit((unsigned char)t[1]))) {
		if (cli__parse_num(p, t + (t[0] == '-'), &v))
			return -1;
		if (t[0] == '-' && v > (uint64_t)INT64_MAX)
			return cli__perr(p, "bad number '%s'", t);
		r->exp_val = t[0] == '-' ? -v : v;
		return 0;
	}
	return cli__perr(p, "bad expectation '%s' for a hypercall (H_SUCCESS, H_PARAMETER, "
			 "H_TOO_HARD, H_HARDWARE, a number)", t);
}

static int parse_line(struct parse *p, char *s, struct req *r)
{
	char *tok[MAX_TOKENS], *sp, *t;
	unsigned ntok = 0, arrow = 0, i;
	enum op op;
	bool has_arrow = false;
	size_t len = 0;
	char *q;

	for (t = strtok_r(s, " \t\r\n", &sp); t; t = strtok_r(NULL, " \t\r\n", &sp)) {
		if (ntok == sizeof(tok) / sizeof(tok[0]))
			return cli__perr(p, "too many tokens");
		if (!strcmp(t, "=>") && !has_arrow) {
			arrow = ntok;
			has_arrow = true;
		}
		tok[ntok++] = t;
	}
	if (!has_arrow)
		return cli__perr(p, "no '=> EXPECT' at the end of the request");
	if (!arrow)
		return cli__perr(p, "no request before '=>'");
	if (arrow + 1 >= ntok)
		return cli__perr(p, "nothing after '=>'");

	for (i = 0; i < arrow; i++)
		len += strlen(tok[i]) + 1;
	r->text = malloc(len);
	if (!r->text)
		return cli__perr(p, "out of memory");
	for (q = r->text, i = 0; i < arrow; i++)
		q += sprintf(q, "%s%s", i ? " " : "", tok[i]);
	if (parse_request(p, tok, arrow, r))
		return -1;

	/* fork_expect: the expectation is the child request's */
	op = r->op == OP_FORK_EXPECT ? r->child->op : r->op;
	t = tok[arrow + 1];
	if (op_is_hcall(op)) {
		if (parse_hcall_exp(p, t, r))
			return -1;
	} else if (!strcmp(t, "ok")) {
		r->exp = EXP_OK;
	} else if (errno_by_name(t)) {
		r->exp = EXP_ERRNO;
		r->exp_val = (uint64_t)errno_by_name(t);
	} else if (isdigit((unsigned char)t[0])) {
		r->exp = EXP_NUM;
		if (cli__parse_num(p, t, &r->exp_val))
			return -1;
	} else {
		return cli__perr(p, "bad expectation '%s' (ok, an errno name, a number)", t);
	}
	for (i = arrow + 2; i < ntok; i++) {
		char *eq = strchr(tok[i], '=');
		struct check *c;
		size_t k;

		if (!eq)
			return cli__perr(p, "bad check '%s' (KEY=VALUE)", tok[i]);
		*eq = 0;
		for (k = 0; k < sizeof(check_keys) / sizeof(check_keys[0]); k++)
			if (!strcmp(check_keys[k], tok[i]))
				break;
		if (k == sizeof(check_keys) / sizeof(check_keys[0]) ||
		    (k <= 5 && op != OP_GET_INFO) || (k == 6 && op != OP_CREATE) ||
		    (k == 7 && op != OP_H_GET_TCE))
			return cli__perr(p, "no check '%s' for '%s'", tok[i], tok[0]);
		if (r->nchecks == MAX_CHECKS)
			return cli__perr(p, "too many checks");
		c = &r->checks[r->nchecks++];
		snprintf(c->key, sizeof(c->key), "%s", tok[i]);
		if (cli__parse_val(p, eq + 1, &c->v))
			return -1;
	}
	return 0;
}

static void free_req(struct req *r)
{
	if (r->child) {
		free_req(r->child);
		free(r->child);
	}
	free(r->list);
	free(r->text);
}

static int load(const char *path, char *err, size_t errlen)
{
	struct parse p = { path, 0, err, errlen };
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t n;
	int rc = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *hash = strchr(line, '#');
		struct req *r;

		p.line++;
		if (hash)
			*hash = 0;
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		if (nreqs == alloc) {
			struct req *nr = realloc(reqs, (alloc ? alloc * 2 : 64) * sizeof(*reqs));

			if (!nr) {
				rc = cli__perr(&p, "out of memory");
				break;
			}
			reqs = nr;
			alloc = alloc ? alloc * 2 : 64;
		}
		r = &reqs[nreqs++];
		memset(r, 0, sizeof(*r));
		r->line = p.line;
		r->h[0].sym = r->h[1].sym = -1;
		rc = parse_line(&p, line, r);
		if (rc)
			break;
	}
	if (!rc && ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

/* -------------------------------------------------------------- execution */

uint64_t cli__val(const struct val *v)
{
	const struct sym *s = v->sym >= 0 ? &syms[v->sym] : NULL;

	switch (v->kind) {
	case V_ADDR:
		return (uint64_t)(uintptr_t)s->addr + v->num;
	case V_SHIFT:
		return s->shift;
	case V_SIZE:
		return s->size;
	default:
		return v->num;
	}
}

int cli__fd_of(const struct handle *h)
{
	return h->sym >= 0 ? syms[h->sym].fd : (int)h->raw;
}

static int group_of(const struct handle *h)
{
	return h->sym >= 0 ? syms[h->sym].group : (int)h->raw;
}

/* Makes @need 2 MiB pages free in the pool if we may (root), as cli/demo.c does. */
static void huge_reserve(long need)
{
	long prev;

	if (!emu_mem_hugetlb_reserve(HUGE_SHIFT, (uint64_t)need, &prev) && prev >= 0 && huge_prev < 0)
		huge_prev = prev;
}

static void mem_free(struct sym *s)
{
	if (s->addr)
		munmap(s->addr, s->size);
	s->addr = NULL;
}

static int do_mem(const struct req *r)
{
	struct sym *s = &syms[r->h[0].sym];
	uint64_t size = cli__val(&r->a[0]);
	void *p = MAP_FAILED;

	mem_free(s);
	if (!size)
		return EINVAL;
	if (r->huge) {
		size = (size + (1ull << HUGE_SHIFT) - 1) & ~((1ull << HUGE_SHIFT) - 1);
		huge_reserve((long)(size >> HUGE_SHIFT));
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		s->shift = HUGE_SHIFT;
	}
	if (p == MAP_FAILED) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		s->shift = EMU_PAGE_SHIFT;
	}
	if (p == MAP_FAILED)
		return errno;
	s->addr = p;
	s->size = size;
	return 0;
}

static int io(int fd, unsigned long req, void *arg)
{
	return spapr_ioctl(fd, req, arg) < 0 ? errno : 0;
}

/* fill / check: the CPU touches memory, through process_vm_* so a bad address is EFAULT. */
int cli__cpu_rw(uint64_t addr, void *buf, uint64_t len, bool write)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = write ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0) :
			    process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

	if (n < 0)
		return errno;
	return (uint64_t)n == len ? 0 : EFAULT;
}

static void byte_check(struct result *res, const uint8_t *buf, uint64_t len, uint8_t want)
{
	for (uint64_t i = 0; i < len; i++) {
		if (buf[i] != want) {
			snprintf(res->mismatch, sizeof(res->mismatch), "byte 0x%02x at offset %#" PRIx64,
				 buf[i], i);
			return;
		}
	}
}

static void exec_req(const struct req *r, struct result *res);

static void do_fork(const struct req *r, struct result *res)
{
	struct result cres;
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd)) {
		res->err = errno;
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		res->err = errno;
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (!pid) {
		close(pfd[0]);
		memset(&cres, 0, sizeof(cres));
		exec_req(r->child, &cres);
		if (write(pfd[1], &cres, sizeof(cres)) != (ssize_t)sizeof(cres))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], res, sizeof(*res)) != (ssize_t)sizeof(*res)) {
		memset(res, 0, sizeof(*res));
		snprintf(res->mismatch, sizeof(res->mismatch), "the child died before answering");
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		snprintf(res->mismatch, sizeof(res->mismatch), "the child was killed by signal %d",
			 WTERMSIG(status));
}

static void exec_req(const struct req *r, struct result *res)
{
	union {
		struct vfio_iommu_spapr_register_memory reg;
		struct vfio_iommu_type1_dma_map map;
		struct vfio_iommu_type1_dma_unmap unmap;
		struct vfio_iommu_spapr_tce_create create;
		struct vfio_iommu_spapr_tce_remove remove;
		struct vfio_iommu_spapr_tce_info info;
		uint8_t pad[256];
	} u;
	struct sym *s = r->h[0].sym >= 0 ? &syms[r->h[0].sym] : NULL;
	int fd = cli__fd_of(&r->h[0]), rc;
	uint64_t len = 0;
	uint8_t *buf = NULL;

	memset(&u, 0, sizeof(u));
	switch (r->op) {
	case OP_MEMLOCK:
		res->err = spapr_mm_set_memlock(r->a[0].num, (int)r->a[1].num) ? errno : 0;
		break;
	case OP_MEM:
		res->err = do_mem(r);
		break;
	case OP_MUNMAP:
		res->err = munmap((void *)(uintptr_t)cli__val(&r->a[0]), cli__val(&r->a[1])) ? errno : 0;
		break;
	case OP_MPROTECT:
		res->err = mprotect((void *)(uintptr_t)cli__val(&r->a[0]), cli__val(&r->a[1]), (int)r->dir) ? errno : 0;
		break;
	case OP_CONTAINER:
		s->fd = spapr_open_container();
		res->err = s->fd < 0 ? errno : 0;
		break;
	case OP_GROUP:
		s->group = (int)cli__val(&r->a[0]);
		s->fd = spapr_open_group(s->group);
		res->err = s->fd < 0 ? errno : 0;
		break;
	case OP_CLOSE:
		res->err = spapr_close(fd) ? errno : 0;
		if (!res->err && s)
			s->fd = -1;
		break;
	case OP_SET_CONTAINER: {
		int cfd = cli__fd_of(&r->h[1]);

		res->err = io(fd, VFIO_GROUP_SET_CONTAINER, &cfd);
		break;
	}
	case OP_UNSET_CONTAINER:
		res->err = io(fd, VFIO_GROUP_UNSET_CONTAINER, NULL);
		break;
	case OP_SET_IOMMU:
		res->err = io(fd, VFIO_SET_IOMMU, (void *)(uintptr_t)r->iommu_type);
		break;
	case OP_CHECK_EXTENSION:
	case OP_API_VERSION:
		rc = spapr_ioctl(fd, r->op == OP_API_VERSION ? VFIO_GET_API_VERSION : VFIO_CHECK_EXTENSION,
				 (unsigned long)cli__val(&r->a[0]));
		res->err = rc < 0 ? errno : 0;
		res->val = rc < 0 ? 0 : (uint64_t)rc;
		break;
	case OP_GET_INFO:
		u.info.argsz = r->has_argsz ? (uint32_t)cli__val(&r->argsz) : sizeof(u.info);
		res->err = io(fd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &u);
		res->info = u.info;
		break;
	case OP_REGISTER:
	case OP_UNREGISTER:
		u.reg.argsz = sizeof(u.reg);
		u.reg.vaddr = cli__val(&r->a[0]);
		u.reg.size = cli__val(&r->a[1]);
		goto common;
	case OP_MAP:
		u.map.argsz = sizeof(u.map);
		u.map.flags = r->dir;
		u.map.vaddr = cli__val(&r->a[0]);
		u.map.iova = cli__val(&r->a[1]);
		u.map.size = cli__val(&r->a[2]);
		goto common;
	case OP_UNMAP:
		u.unmap.argsz = sizeof(u.unmap);
		u.unmap.iova = cli__val(&r->a[0]);
		u.unmap.size = cli__val(&r->a[1]);
		goto common;
	case OP_CREATE:
		u.create.argsz = sizeof(u.create);
		u.create.page_shift = (uint32_t)cli__val(&r->a[0]);
		u.create.window_size = cli__val(&r->a[1]);
		u.create.levels = (uint32_t)cli__val(&r->a[2]);
		goto common;
	case OP_REMOVE:
		u.remove.argsz = sizeof(u.remove);
		u.remove.start_addr = cli__val(&r->a[0]);
	common:
		/* argsz and flags lead every one of these structs. */
		if (r->has_argsz)
			u.reg.argsz = (uint32_t)cli__val(&r->argsz);
		if (r->has_flags)
			u.reg.flags = (uint32_t)cli__val(&r->flags);
		/* A positive result is kept: quirks=kernel answers +1 (Q1) or a page count (Q5). */
		rc = spapr_ioctl(fd, r->op == OP_REGISTER ? VFIO_IOMMU_SPAPR_REGISTER_MEMORY :
				 r->op == OP_UNREGISTER ? VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY :
				 r->op == OP_MAP ? VFIO_IOMMU_MAP_DMA :
				 r->op == OP_UNMAP ? VFIO_IOMMU_UNMAP_DMA :
				 r->op == OP_CREATE ? VFIO_IOMMU_SPAPR_TCE_CREATE : VFIO_IOMMU_SPAPR_TCE_REMOVE,
				 &u);
		if (rc < 0)
			res->err = errno;
		else
			res->val = (uint64_t)rc;
		res->start = u.create.start_addr;
		break;
	case OP_ENABLE:
		res->err = io(fd, VFIO_IOMMU_ENABLE, NULL);
		break;
	case OP_DISABLE:
		res->err = io(fd, VFIO_IOMMU_DISABLE, NULL);
		break;
	case OP_IOCTL:
		rc = spapr_ioctl(fd, (unsigned long)cli__val(&r->a[0]), NULL);
		res->err = rc < 0 ? errno : 0;
		res->val = rc < 0 ? 0 : (uint64_t)rc;
		break;
	case OP_LOCKED_VM:
		res->val = spapr_mm_locked_vm();
		break;
	case OP_PINNED: {
		struct emu_mem_stats st;

		emu_mem_get_stats(&st);
		res->val = st.pinned_pages;
		break;
	}
	case OP_DMA_WRITE:
	case OP_DMA_READ:
	case OP_FILL:
	case OP_CHECK:
		len = cli__val(&r->a[1]);
		if (len > MAX_XFER) {
			res->err = E2BIG;
			break;
		}
		buf = malloc(len ? len : 1);
		if (!buf) {
			res->err = ENOMEM;
			break;
		}
		if (r->op == OP_DMA_WRITE || r->op == OP_FILL)
			memset(buf, (int)cli__val(&r->a[2]), len);
		if (r->op == OP_DMA_WRITE)
			res->err = -emu_dma_write(group_of(&r->h[0]), cli__val(&r->a[0]), buf, len);
		else if (r->op == OP_DMA_READ)
			res->err = -emu_dma_read(group_of(&r->h[0]), cli__val(&r->a[0]), buf, len);
		else
			res->err = cli__cpu_rw(cli__val(&r->a[0]), buf, len, r->op == OP_FILL);
		if (!res->err && (r->op == OP_CHECK || (r->op == OP_DMA_READ && r->has_byte)))
			byte_check(res, buf, len, (uint8_t)cli__val(&r->a[2]));
		free(buf);
		break;
	case OP_FORK_EXPECT:
		do_fork(r, res);
		break;
	default:
		cli__guest_exec(r, res);
		break;
	}
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

static void fmt_exp(const struct req *r, char *out, size_t n)
{
	if (r->exp == EXP_OK)
		snprintf(out, n, "ok");
	else if (r->exp == EXP_ERRNO)
		snprintf(out, n, "%s", cli_errname((int)r->exp_val));
	else if (r->exp == EXP_HCALL)
		fmt_hcall((long)r->exp_val, out, n);
	else
		snprintf(out, n, "%" PRIu64, r->exp_val);
}

/* Compares; fills expected/got and returns false on a divergence. */
static bool judge(const struct req *r, const struct result *res, char *exp, char *got, size_t n)
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
		snprintf(got, n, "%s", cli_errname(res->err));
	else if (r->exp == EXP_NUM || res->val)
		snprintf(got, n, "%" PRIu64, res->val);
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
	/* Checks only after success: 0, or H_SUCCESS. */
	if (res->err || res->hret != H_SUCCESS)
		return true;
	for (unsigned i = 0; i < r->nchecks; i++) {
		const struct check *c = &r->checks[i];
		uint64_t want = cli__val(&c->v), have;
		struct emu_mem_stats st;

		if (!strcmp(c->key, "dma32_start"))
			have = res->info.dma32_window_start;
		else if (!strcmp(c->key, "dma32_size"))
			have = res->info.dma32_window_size;
		else if (!strcmp(c->key, "flags"))
			have = res->info.flags;
		else if (!strcmp(c->key, "pgsizes"))
			have = res->info.ddw.pgsizes;
		else if (!strcmp(c->key, "windows"))
			have = res->info.ddw.max_dynamic_windows_supported;
		else if (!strcmp(c->key, "levels"))
			have = res->info.ddw.levels;
		else if (!strcmp(c->key, "start"))
			have = res->start;
		else if (!strcmp(c->key, "tce"))
			have = res->tce;
		else if (!strcmp(c->key, "locked_vm"))
			have = spapr_mm_locked_vm();
		else {
			emu_mem_get_stats(&st);
			have = st.pinned_pages;
		}
		if (have != want) {
			char base[64];

			fmt_exp(r, base, sizeof(base));
			snprintf(exp, n, "%s %s=%#" PRIx64, base, c->key, want);
			snprintf(got, n, "%s %s=%#" PRIx64, base, c->key, have);
			return false;
		}
	}
	return true;
}

int cli_trace_replay(const char *path, bool keep_going, cli_trace_report_fn report, void *ctx,
		     unsigned *nrun, char *err, size_t errlen)
{
	unsigned diverged = 0;

	*nrun = 0;
	err[0] = 0;
	if (load(path, err, errlen))
		return 2;
	for (unsigned i = 0; i < nreqs; i++) {
		const struct req *r = &reqs[i];
		struct result res;
		char exp[200], got[200];

		memset(&res, 0, sizeof(res));
		exec_req(r, &res);
		(*nrun)++;
		if (!judge(r, &res, exp, got, sizeof(got))) {
			struct cli_trace_div d = { path, r->line, r->text, exp, got };

			diverged++;
			if (report)
				report(ctx, &d);
			if (!keep_going)
				break;
		}
	}
	return diverged ? 1 : 0;
}

void cli_trace_for_each_mem(void (*fn)(void *ctx, const char *name, void *addr, uint64_t size), void *ctx)
{
	for (unsigned i = 0; i < nsyms; i++)
		if (syms[i].kind == SYM_MEM && syms[i].addr)
			fn(ctx, syms[i].name, syms[i].addr, syms[i].size);
}

void cli_trace_release(void)
{
	/* Guests first, as KVM's VM goes before QEMU closes its VFIO descriptors
	 * (their attachments hold windows), then groups, so that containers
	 * release with nothing attached. */
	for (unsigned i = 0; i < nsyms; i++)
		if (syms[i].kind == SYM_GUEST)
			cli__guest_free(&syms[i]);
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < nsyms; i++)
			if (syms[i].fd >= 0 && syms[i].kind == (pass ? SYM_CONTAINER : SYM_GROUP)) {
				spapr_close(syms[i].fd);
				syms[i].fd = -1;
			}
	for (unsigned i = 0; i < nsyms; i++)
		if (syms[i].kind == SYM_MEM)
			mem_free(&syms[i]);
	emu_mem_hugetlb_restore(HUGE_SHIFT, huge_prev);
	huge_prev = -1;
	for (unsigned i = 0; i < nreqs; i++)
		free_req(&reqs[i]);
	free(reqs);
	reqs = NULL;
	nreqs = nsyms = 0;
}
