/* SPDX-License-Identifier: MIT */
/*
 * cli/trace_sym.c: what a trace's names stand for while it runs
 * (cli/trace.h, "Symbols"): the value of an argument, the descriptor or
 * group number of a handle, the CPU's own access to memory, and the
 * release of everything the trace made.
 *
 * The parser defines symbols (cli/trace_parse.c); the executors fill them
 * in; cli__syms_release() undoes them, in the order a real process's exit
 * would: guests first, as KVM's VM goes before QEMU closes its VFIO
 * descriptors (their attachments hold windows), then groups, so that
 * containers release with nothing attached, then memory, then the
 * hugetlbfs pool the trace raised.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cli/trace.h"
#include "emu/mem.h"
#include "spapr/spapr.h"

int cli__sym_find(const struct cli_trace *t, const char *name)
{
	for (unsigned i = 0; i < t->nsyms; i++)
		if (!strcmp(t->syms[i].name, name))
			return (int)i;
	return -1;
}

uint64_t cli__val(const struct cli_trace *t, const struct cli_val *v)
{
	const struct cli_sym *s = v->sym >= 0 ? &t->syms[v->sym] : NULL;

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

int cli__fd_of(const struct cli_trace *t, const struct cli_handle *h)
{
	return h->sym >= 0 ? t->syms[h->sym].fd : (int)h->raw;
}

int cli__group_of(const struct cli_trace *t, const struct cli_handle *h)
{
	return h->sym >= 0 ? t->syms[h->sym].group : (int)h->raw;
}

/* Through process_vm_* so that a bad address is EFAULT, not a crash of the program. */
int cli__cpu_rw(uint64_t addr, void *buf, uint64_t len, bool write)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = write ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0) :
			    process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

	if (n < 0)
		return errno;
	return (uint64_t)n == len ? 0 : EFAULT;
}

void cli__mem_free(struct cli_sym *s)
{
	if (s->addr)
		munmap(s->addr, s->size);
	s->addr = NULL;
}

void cli__guest_free(struct cli_sym *s)
{
	spapr_guest_destroy(s->guest);
	s->guest = NULL;
}

void cli__syms_release(struct cli_trace *t)
{
	for (unsigned i = 0; i < t->nsyms; i++)
		if (t->syms[i].kind == SYM_GUEST)
			cli__guest_free(&t->syms[i]);
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < t->nsyms; i++)
			if (t->syms[i].fd >= 0 && t->syms[i].kind == (pass ? SYM_CONTAINER : SYM_GROUP)) {
				spapr_close(t->syms[i].fd);
				t->syms[i].fd = -1;
			}
	for (unsigned i = 0; i < t->nsyms; i++)
		if (t->syms[i].kind == SYM_MEM)
			cli__mem_free(&t->syms[i]);
	emu_mem_hugetlb_restore(CLI_HUGE_SHIFT, t->huge_prev);
	t->huge_prev = -1;
}
