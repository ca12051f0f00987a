/* SPDX-License-Identifier: MIT */
/*
 * cli/trace.h: what the two halves of the trace language share (private to
 * cli/trace.c and cli/trace_guest.c; docs/replay.md is the language).
 *
 * cli/trace.c owns the file: reading and splitting lines, names (symbols),
 * values, descriptors, expectations and checks, the process, memory,
 * descriptor, container and device requests, judging results, reporting
 * and releasing.  cli/trace_guest.c owns the guest path: the requests that
 * name a guest (`guest`, `memslot`, `tce_table`, `attach`, the `h_*`
 * hypercalls ...) and `poke64`, the writer of H_PUT_TCE_INDIRECT's lists.
 * trace.c hands it every request word its own table does not know
 * (cli__guest_parse), runs the ops it parsed (cli__guest_exec), and asks
 * it to destroy a guest symbol on release (cli__guest_free).
 *
 * Symbols live from the parse to cli_trace_release(): a name is resolved
 * once, at parse time, to an index into the symbol table; what it stands
 * for (an address, a descriptor, a guest) is filled in as the trace runs.
 */
#ifndef SPAPRTCE_CLI_TRACE_H
#define SPAPRTCE_CLI_TRACE_H

#include <linux/vfio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_ARGS 5
#define MAX_CHECKS 8
#define MAX_POKE 512		/* values of one poke64: a whole H_PUT_TCE_INDIRECT list */

enum sym_kind { SYM_MEM, SYM_CONTAINER, SYM_GROUP, SYM_GUEST };

struct spapr_guest;

struct sym {
	char name[48];
	enum sym_kind kind;
	/* run time */
	uint8_t *addr;		/* SYM_MEM: NULL until allocated */
	uint64_t size;
	unsigned shift;		/* backing page shift */
	int fd;			/* SYM_CONTAINER, SYM_GROUP: -1 when not open */
	int group;		/* SYM_GROUP: the machine's group number */
	struct spapr_guest *guest;	/* SYM_GUEST: NULL when not created or destroyed */
};

enum val_kind { V_NUM, V_ADDR, V_SHIFT, V_SIZE };

/* A number, or something of a symbol: NAME+OFF (address), NAME.shift, NAME.size. */
struct val {
	enum val_kind kind;
	int sym;
	uint64_t num;		/* V_NUM: the number; V_ADDR: the offset */
};

/* A descriptor argument: a container or group name, or a raw number. */
struct handle {
	int sym;		/* -1: raw */
	int64_t raw;
};

enum op {
	OP_MEMLOCK, OP_MEM, OP_MUNMAP, OP_MPROTECT, OP_CONTAINER, OP_GROUP, OP_CLOSE,
	OP_SET_CONTAINER, OP_UNSET_CONTAINER, OP_SET_IOMMU, OP_CHECK_EXTENSION, OP_API_VERSION,
	OP_GET_INFO, OP_REGISTER, OP_UNREGISTER, OP_MAP, OP_UNMAP, OP_CREATE, OP_REMOVE,
	OP_ENABLE, OP_DISABLE, OP_IOCTL, OP_LOCKED_VM, OP_PINNED, OP_DMA_WRITE, OP_DMA_READ,
	OP_FILL, OP_CHECK, OP_FORK_EXPECT,
	/* cli/trace_guest.c */
	OP_GUEST, OP_GUEST_DESTROY, OP_MEMSLOT, OP_TCE_TABLE, OP_TCE_TABLE_DESTROY, OP_ATTACH,
	OP_DETACH, OP_GUEST_CHECK, OP_POKE64,
	/* the hypercalls: expectations are H_* codes */
	OP_H_PUT_TCE, OP_H_PUT_TCE_INDIRECT, OP_H_STUFF_TCE, OP_H_GET_TCE,
};

static inline bool op_is_guest(enum op op)
{
	return op >= OP_GUEST;
}

static inline bool op_is_hcall(enum op op)
{
	return op >= OP_H_PUT_TCE;
}

/* ok, an errno, a number, or (hypercalls) an H_* code. */
enum exp_kind { EXP_OK, EXP_ERRNO, EXP_NUM, EXP_HCALL };

struct check {
	char key[16];
	struct val v;
};

struct req {
	unsigned line;
	char *text;		/* the request, tokens joined by one space */
	enum op op;
	struct handle h[2];
	struct val a[MAX_ARGS];
	unsigned na;
	bool has_flags, has_argsz, has_byte, huge;
	struct val flags, argsz;
	unsigned dir;		/* MAP: VFIO_DMA_MAP_FLAG_*; MPROTECT: PROT_* */
	uint64_t iommu_type;
	enum exp_kind exp;
	uint64_t exp_val;	/* errno, number, or an H_* code (a long, two's complement) */
	struct check checks[MAX_CHECKS];
	unsigned nchecks;
	struct req *child;	/* OP_FORK_EXPECT */
	struct val *list;	/* OP_POKE64: nlist values, allocated */
	unsigned nlist;
};

struct result {
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

/* The parse position, for "FILE:LINE: syntax error: WHAT". */
struct parse {
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
};

/* ---------------------------------------------- cli/trace.c, for trace_guest.c */

/* Formats the syntax error into p->err; returns -1. */
int cli__perr(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A decimal or 0x number (unsigned 64-bit); a syntax error otherwise. */
int cli__parse_num(struct parse *p, const char *s, uint64_t *v);
/* A value: number | NAME | NAME+OFF | NAME.shift | NAME.size (NAME a memory area). */
int cli__parse_val(struct parse *p, const char *s, struct val *v);
/* A descriptor: a name of kind @want_kind (-1: container or group) or a raw number. */
int cli__parse_handle(struct parse *p, const char *s, struct handle *h, int want_kind);
/* Defines @name with @kind (or finds it, already of that kind); its index or -1. */
int cli__sym_define(struct parse *p, const char *name, enum sym_kind kind);
/* The index of @name, or -1. */
int cli__sym_find(const char *name);
struct sym *cli__sym(int i);
/* A value at run time. */
uint64_t cli__val(const struct val *v);
/* The descriptor a handle stands for now. */
int cli__fd_of(const struct handle *h);
/* The CPU reads or writes [addr, addr + len) through process_vm_*: 0 or an errno (EFAULT). */
int cli__cpu_rw(uint64_t addr, void *buf, uint64_t len, bool write);

/* ----------------------------------------------- cli/trace_guest.c, for trace.c */

/*
 * Parses a guest-path request tok[0 .. ntok) (without "=> EXPECT") into @r.
 * Returns 1 when tok[0] is not one (trace.c then reports an unknown
 * request), 0 when parsed, -1 on a syntax error (in p->err).
 */
int cli__guest_parse(struct parse *p, char **tok, unsigned ntok, struct req *r);
/* Runs a request cli__guest_parse() made. */
void cli__guest_exec(const struct req *r, struct result *res);
/* Destroys the guest @s holds, if any. */
void cli__guest_free(struct sym *s);
/* H_SUCCESS for 0 ...; NULL for a code without a name. */
const char *cli__hcall_name(long h);
/* The code of an H_* name; false when @s is not one. */
bool cli__hcall_by_name(const char *s, long *h);

#endif
