/* SPDX-License-Identifier: MIT */
/*
 * cli/trace.h: the trace language of `spaprtce replay` (docs/replay.md),
 * private to the cli/trace_*.c files, the program and the replay fuzz
 * target (tests/fuzz/fuzz_replay.c).
 *
 * Concepts.  A *trace* (struct cli_trace) is parsed whole before anything
 * runs: the parser (cli/trace_parse.c, cli/trace_args.c for the
 * arguments) turns a buffer into *requests*
 * (struct cli_req), each with its line, its arguments resolved and its
 * expectation; it never runs anything.  Every request word has one row in
 * the *request table* (cli/trace_ops.c): its name, its argument spec
 * (which the parser follows), its executor and which checks it has; the
 * container requests and the guest requests share it.  The *executor* of
 * a request (cli/trace_exec.c: process, memory, descriptors and container
 * requests; cli/trace_guest.c: the guest path) fills a *result* (struct
 * cli_result).  The *judge* (cli/trace_judge.c) compares a result with
 * the request's expectation and checks and formats both sides.  The
 * runner (cli/trace_run.c) reads the file, parses, runs, judges, reports.
 *
 * *Symbols* are the names a trace defines (memory areas, containers,
 * groups, guests): the parser resolves each name once to an index into
 * the trace's symbol table; what it stands for (an address, a descriptor,
 * a guest) is filled in as the trace runs (cli/trace_sym.c), and stays
 * until cli_trace_free().
 *
 * Files call each other in one direction only: run -> parse, judge, and
 * the executors through the table's pointers; parse -> args, ops, sym;
 * args -> ops, sym; judge -> ops, sym; ops -> the executors (exec,
 * guest) -> sym.
 */
#ifndef SPAPRTCE_CLI_TRACE_H
#define SPAPRTCE_CLI_TRACE_H

#include <linux/vfio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_MAX_ARGS 5
#define CLI_MAX_CHECKS 8
#define CLI_MAX_POKE 512	/* values of one poke64: a whole H_PUT_TCE_INDIRECT list */
#define CLI_MAX_SYMS 256
#define CLI_MAX_ERRS 100	/* syntax errors kept; more are counted */
#define CLI_HUGE_SHIFT 21u	/* `mem ... huge`: 2 MiB hugetlbfs pages */

enum cli_sym_kind { SYM_MEM, SYM_CONTAINER, SYM_GROUP, SYM_GUEST };

struct spapr_guest;

struct cli_sym {
	char name[48];
	enum cli_sym_kind kind;
	/* run time */
	uint8_t *addr;		/* SYM_MEM: NULL until allocated */
	uint64_t size;
	unsigned shift;		/* backing page shift */
	int fd;			/* SYM_CONTAINER, SYM_GROUP: -1 when not open */
	int group;		/* SYM_GROUP: the machine's group number */
	struct spapr_guest *guest;	/* SYM_GUEST: NULL when not created or destroyed */
};

enum cli_val_kind { V_NUM, V_ADDR, V_SHIFT, V_SIZE };

/* A number, or something of a symbol: NAME+OFF (address), NAME.shift, NAME.size. */
struct cli_val {
	enum cli_val_kind kind;
	int sym;		/* -1 for a number */
	bool hex;		/* V_NUM written 0x...: printed back in hex */
	uint64_t num;		/* V_NUM: the number; V_ADDR: the offset */
};

/* A descriptor argument: a container or group name, or a raw number. */
struct cli_handle {
	int sym;		/* -1: raw */
	int64_t raw;
};

/* ok, an errno, a number, or (hypercalls) an H_* code. */
enum cli_exp_kind { EXP_OK, EXP_ERRNO, EXP_NUM, EXP_HCALL };

/* The KEY of a KEY=VALUE check; cli__check_keys[] in cli/trace_ops.c names them. */
enum cli_check_key {
	K_DMA32_START, K_DMA32_SIZE, K_FLAGS, K_PGSIZES, K_WINDOWS, K_LEVELS, K_START, K_TCE,
	K_LOCKED_VM, K_PINNED, K_NKEYS
};
#define CLI_KEYS_INFO 0x3fu	/* the GET_INFO keys, K_DMA32_START .. K_LEVELS */
#define CLI_KEYS_ANY ((1u << K_LOCKED_VM) | (1u << K_PINNED))

struct cli_check {
	enum cli_check_key key;
	struct cli_val v;
};

struct cli_trace;
struct cli_req;
struct cli_result;

typedef void cli_exec_fn(struct cli_trace *t, const struct cli_req *r, struct cli_result *res);

/*
 * One row of the request table.  @args is the argument spec, one letter
 * per argument, read left to right by the parser:
 *   v  a value               n  a number            L  a number or "unlimited"
 *   c  a container           g  a group             h  any descriptor
 *   V  a guest (defined earlier)
 *   M C G U  defines a memory area, container, group, guest (after the rest of the line)
 *   P  ro|none|rw (-> dir)   D  r|w|rw|none (-> dir)   I  v1|v2|N (-> iommu_type)
 *   H  optional "huge"       S  optional "shared"     b  optional value (dma_read's BYTE)
 *   o  zero or more flags=N / argsz=N options
 *   R  the rest is a request of its own (fork_expect)
 *   *  one to CLI_MAX_POKE values (poke64's list)
 * Handles (c g h V and the definitions) go to h[] in order, values to a[].
 */
struct cli_op {
	const char *name;
	const char *args;
	const char *usage;	/* for "usage: ..." */
	cli_exec_fn *exec;
	bool hcall;		/* answers an H_* code, not an errno */
	unsigned checks;	/* the check keys it has, a bit per enum cli_check_key */
};

struct cli_req {
	unsigned line;
	char *text;		/* the request, tokens joined by one space */
	const struct cli_op *op;
	struct cli_handle h[2];
	struct cli_val a[CLI_MAX_ARGS];
	unsigned na;
	bool has_flags, has_argsz, has_byte, huge, shared;
	struct cli_val flags, argsz;
	unsigned dir;		/* MAP: VFIO_DMA_MAP_FLAG_*; MPROTECT: PROT_* */
	uint64_t iommu_type;
	enum cli_exp_kind exp;
	bool exp_hex;		/* EXP_NUM written 0x... */
	uint64_t exp_val;	/* errno, number, or an H_* code (a long, two's complement) */
	struct cli_check checks[CLI_MAX_CHECKS];
	unsigned nchecks;
	struct cli_req *child;	/* fork_expect */
	struct cli_val *list;	/* poke64: nlist values, allocated */
	unsigned nlist;
};

struct cli_result {
	int err;		/* 0 or an errno */
	uint64_t val;		/* the return value, or what a value request reports */
	long hret;		/* a hypercall's H_* code */
	char mismatch[160];	/* a byte check failed: what was found */
	bool not_run;		/* the request could not run: mismatch says why, whatever expected */
	/* values for key=value checks */
	struct vfio_iommu_spapr_tce_info info;
	uint64_t start;
	uint64_t tce;		/* H_GET_TCE */
};

struct cli_trace {
	const char *file;	/* as messages name it */
	struct cli_sym syms[CLI_MAX_SYMS];
	unsigned nsyms;
	struct cli_req *reqs;
	unsigned nreqs, cap;
	char *errs[CLI_MAX_ERRS];	/* "FILE:LINE: syntax error: WHAT" */
	unsigned nerrs;		/* syntax errors found (may exceed CLI_MAX_ERRS) */
	long huge_prev;		/* nr_hugepages to restore, or -1 */
};

/* ------------------------------------------------ the parser (trace_parse.c) */

/* An empty trace named @file (kept as a pointer: it must outlive @t). */
void cli_trace_init(struct cli_trace *t, const char *file);
/*
 * Parses @buf[0 .. len) (any bytes; no NUL terminator needed) into
 * t->reqs, each with its line number; nothing runs.  Stops at the first
 * syntax error unless @all_errors.  Returns the number of syntax errors
 * (t->errs holds the first CLI_MAX_ERRS); a NUL byte is one, and so is a
 * trace without a request.
 */
unsigned cli_trace_parse(struct cli_trace *t, const char *buf, size_t len, bool all_errors);
/* Releases what the trace made when it ran (cli__syms_release) and the parse; @t is empty again. */
void cli_trace_free(struct cli_trace *t);

/* ------------------------------------------------ running (trace_run.c) */

/* Runs request @r: its executor fills @res (zeroed first). */
void cli_trace_exec(struct cli_trace *t, const struct cli_req *r, struct cli_result *res);
/* Compares; fills expected/got and returns false on a divergence (trace_judge.c). */
bool cli_trace_judge(const struct cli_trace *t, const struct cli_req *r, const struct cli_result *res,
		     char *exp, char *got, size_t n);

/* ------------------------------------------------ internals */

/* The parse position, for "FILE:LINE: syntax error: WHAT". */
struct cli_parse {
	struct cli_trace *t;
	unsigned line;		/* 0: the error is the file's, not a line's */
};

/* Records a syntax error of the current line in the trace; returns -1 (trace_args.c). */
int cli__perr(struct cli_parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A decimal or 0x number (unsigned 64-bit); *hex (if not NULL) says which. */
int cli__parse_num(struct cli_parse *p, const char *s, uint64_t *v, bool *hex);
/* A value: number | NAME | NAME+OFF | NAME.shift | NAME.size (NAME a memory area). */
int cli__parse_val(struct cli_parse *p, const char *s, struct cli_val *v);
/* tok[0 .. ntok), a request without its "=> EXPECT", into @r (whose line is set). */
int cli__parse_request(struct cli_parse *p, char **tok, unsigned ntok, struct cli_req *r);

/* The request table (trace_ops.c): the row named @name, or NULL. */
const struct cli_op *cli__op_find(const char *name);
extern const char *const cli__check_keys[K_NKEYS];
/* H_SUCCESS for 0 ...; NULL for a code without a name. */
const char *cli__hcall_name(long h);
/* The code of an H_* name; false when @s is not one. */
bool cli__hcall_by_name(const char *s, long *h);

/* Symbols (trace_sym.c). */
int cli__sym_find(const struct cli_trace *t, const char *name);
/* A value at run time. */
uint64_t cli__val(const struct cli_trace *t, const struct cli_val *v);
/* The descriptor a handle stands for now; the group number it stands for. */
int cli__fd_of(const struct cli_trace *t, const struct cli_handle *h);
int cli__group_of(const struct cli_trace *t, const struct cli_handle *h);
/* Unmaps a memory symbol's area. */
void cli__mem_free(struct cli_sym *s);
/* Destroys a guest symbol's guest. */
void cli__guest_free(struct cli_sym *s);
/* Releases every symbol's run-time state: guests, groups, containers, memory, the hugetlbfs pool. */
void cli__syms_release(struct cli_trace *t);
/* The CPU reads or writes [addr, addr + len) through process_vm_*: 0 or an errno (EFAULT). */
int cli__cpu_rw(uint64_t addr, void *buf, uint64_t len, bool write);

/* The executors, one per request (trace_exec.c, trace_guest.c). */
cli_exec_fn cli__do_memlock, cli__do_mem, cli__do_munmap, cli__do_mprotect, cli__do_fill,
	cli__do_check, cli__do_locked_vm, cli__do_pinned, cli__do_container, cli__do_group,
	cli__do_close, cli__do_set_container, cli__do_unset_container, cli__do_set_iommu,
	cli__do_check_extension, cli__do_api_version, cli__do_ioctl, cli__do_get_info,
	cli__do_register, cli__do_unregister, cli__do_map, cli__do_unmap, cli__do_create,
	cli__do_remove, cli__do_enable, cli__do_disable, cli__do_dma_write, cli__do_dma_read,
	cli__do_fork_expect;
cli_exec_fn cli__do_guest, cli__do_guest_destroy, cli__do_memslot, cli__do_tce_table,
	cli__do_tce_table_destroy, cli__do_attach, cli__do_detach, cli__do_guest_check,
	cli__do_poke64, cli__do_h_put_tce, cli__do_h_put_tce_indirect, cli__do_h_stuff_tce,
	cli__do_h_get_tce;

#endif
