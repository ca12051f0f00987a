/* SPDX-License-Identifier: MIT */
/*
 * cli/trace_parse.c: the lexer and parser of the trace language
 * (docs/replay.md).  A buffer becomes requests (struct cli_req) with their
 * lines; nothing runs here, so a trace with an error is refused before it
 * touches the machine, and the parser can be fed anything (the replay
 * fuzz target does).
 *
 * The lexer cuts the buffer into lines, refuses a NUL byte (a NUL would
 * silently end the line for every string function after it), drops
 * comments and splits on spaces and tabs.  The parser reads a line as
 * REQUEST ARG... => EXPECT [KEY=VALUE...]: the request and its arguments
 * are cli/trace_args.c's (following the request's row in the table,
 * cli/trace_ops.c), the expectation and the checks are read here.
 *
 * Errors are "FILE:LINE: syntax error: WHAT"; with all_errors the parser
 * goes on to the next line and collects them all.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/trace.h"
#include "spapr/spapr.h"
#include "util/errno_name.h"

#define MAX_TOKENS (CLI_MAX_POKE + 16)	/* of one line */

/* EXPECT of a hypercall: an H_* name or a number (decimal may be negative: -4 is H_PARAMETER). */
static int parse_hcall_exp(struct cli_parse *p, const char *s, struct cli_req *r)
{
	long h;
	uint64_t v;

	r->exp = EXP_HCALL;
	if (cli__hcall_by_name(s, &h)) {
		r->exp_val = (uint64_t)h;
		return 0;
	}
	if (isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))) {
		if (cli__parse_num(p, s + (s[0] == '-'), &v, NULL))
			return -1;
		if (s[0] == '-' && v > (uint64_t)INT64_MAX)
			return cli__perr(p, "bad number '%s'", s);
		r->exp_val = s[0] == '-' ? -v : v;
		return 0;
	}
	return cli__perr(p, "bad expectation '%s' for a hypercall (H_SUCCESS, H_PARAMETER, "
		    "H_TOO_HARD, H_HARDWARE, a number)", s);
}

/* EXPECT [KEY=VALUE...]: tok[0 .. ntok), for the request @op runs. */
static int parse_expect(struct cli_parse *p, char **tok, unsigned ntok, const struct cli_op *op,
			const char *word, struct cli_req *r)
{
	if (op->hcall) {
		if (parse_hcall_exp(p, tok[0], r))
			return -1;
	} else if (!strcmp(tok[0], "ok")) {
		r->exp = EXP_OK;
	} else if (util_errno_by_name(tok[0])) {
		r->exp = EXP_ERRNO;
		r->exp_val = (uint64_t)util_errno_by_name(tok[0]);
	} else if (isdigit((unsigned char)tok[0][0])) {
		r->exp = EXP_NUM;
		if (cli__parse_num(p, tok[0], &r->exp_val, &r->exp_hex))
			return -1;
	} else {
		return cli__perr(p, "bad expectation '%s' (ok, an errno name, a number)", tok[0]);
	}
	for (unsigned i = 1; i < ntok; i++) {
		char *eq = strchr(tok[i], '=');
		unsigned k;

		if (!eq)
			return cli__perr(p, "bad check '%s' (KEY=VALUE)", tok[i]);
		*eq = 0;
		for (k = 0; k < K_NKEYS; k++)
			if (!strcmp(cli__check_keys[k], tok[i]))
				break;
		if (k == K_NKEYS || !(op->checks & (1u << k)))
			return cli__perr(p, "no check '%s' for '%s'", tok[i], word);
		if (r->nchecks == CLI_MAX_CHECKS)
			return cli__perr(p, "too many checks");
		r->checks[r->nchecks].key = (enum cli_check_key)k;
		if (cli__parse_val(p, eq + 1, &r->checks[r->nchecks++].v))
			return -1;
	}
	return 0;
}

/* One line @s (NUL-terminated, comment cut) into @r; the line has a request. */
static int parse_line(struct cli_parse *p, char *s, struct cli_req *r)
{
	char *tok[MAX_TOKENS], *sp, *t, *q;
	unsigned ntok = 0, arrow = 0, i;
	bool has_arrow = false;
	size_t len = 0;

	for (t = strtok_r(s, " \t\r\n", &sp); t; t = strtok_r(NULL, " \t\r\n", &sp)) {
		if (ntok == MAX_TOKENS)
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
	if (cli__parse_request(p, tok, arrow, r))
		return -1;
	/* fork_expect: the expectation is the child request's */
	return parse_expect(p, tok + arrow + 1, ntok - arrow - 1, r->child ? r->child->op : r->op,
			    tok[0], r);
}

static void free_req(struct cli_req *r)
{
	if (r->child) {
		free_req(r->child);
		free(r->child);
	}
	free(r->list);
	free(r->text);
}

/* A new request at the end of t->reqs, zeroed; NULL when out of memory. */
static struct cli_req *req_add(struct cli_trace *t)
{
	struct cli_req *r;

	if (t->nreqs == t->cap) {
		unsigned cap = t->cap ? t->cap * 2 : 64;
		struct cli_req *nr = realloc(t->reqs, cap * sizeof(*nr));

		if (!nr)
			return NULL;
		t->reqs = nr;
		t->cap = cap;
	}
	r = &t->reqs[t->nreqs++];
	memset(r, 0, sizeof(*r));
	return r;
}

void cli_trace_init(struct cli_trace *t, const char *file)
{
	memset(t, 0, sizeof(*t));
	t->file = file;
	t->huge_prev = -1;
}

unsigned cli_trace_parse(struct cli_trace *t, const char *buf, size_t len, bool all_errors)
{
	struct cli_parse p = { t, 0 };
	const char *s = buf, *end = buf + len;
	char *line = NULL;
	size_t cap = 0;

	while (s < end && (all_errors || !t->nerrs)) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = (size_t)((nl ? nl : end) - s);
		struct cli_req *r;
		char *hash;

		p.line++;
		if (n + 1 > cap) {
			char *nline = realloc(line, n + 1);

			if (!nline) {
				cli__perr(&p, "out of memory");
				break;
			}
			line = nline;
			cap = n + 1;
		}
		memcpy(line, s, n);
		line[n] = 0;
		s += n + 1;
		if (strlen(line) != n) {
			cli__perr(&p, "a NUL byte at column %zu", strlen(line) + 1);
			continue;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		if (strspn(line, " \t\r") == strlen(line))
			continue;
		r = req_add(t);
		if (!r) {
			cli__perr(&p, "out of memory");
			break;
		}
		r->line = p.line;
		if (parse_line(&p, line, r)) {
			free_req(r);
			t->nreqs--;
		}
	}
	free(line);
	if (!t->nerrs && !t->nreqs) {
		p.line = 0;
		cli__perr(&p, "no request in the trace (an empty trace is an error)");
	}
	return t->nerrs;
}

void cli_trace_free(struct cli_trace *t)
{
	cli__syms_release(t);
	for (unsigned i = 0; i < t->nreqs; i++)
		free_req(&t->reqs[i]);
	free(t->reqs);
	for (unsigned i = 0; i < t->nerrs && i < CLI_MAX_ERRS; i++)
		free(t->errs[i]);
	cli_trace_init(t, t->file);
}
