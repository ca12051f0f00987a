/* SPDX-License-Identifier: MIT */
/*
 * cli/trace_ops.c: the vocabulary of the trace language (docs/replay.md):
 * one table of every request word, container and guest path alike, with
 * its argument spec (struct cli_op in cli/trace.h says how to read it),
 * its usage line, its executor and the checks it has; the check keys; the
 * names of the hypercall return codes.
 *
 * Adding a request is adding a row here and an executor: the parser
 * follows its argument spec, the runner calls the executor through the row, the
 * judge asks the row whether its answer is an H_* code.
 */
#include <string.h>

#include "cli/trace.h"
#include "spapr/spapr.h"

#define INFO (CLI_KEYS_INFO | CLI_KEYS_ANY)
#define ANY CLI_KEYS_ANY

static const struct cli_op ops[] = {
	/* process and memory */
	{ "memlock", "Ln", "memlock BYTES|unlimited CAP", cli__do_memlock, false, ANY },
	{ "mem", "MvHS", "mem NAME SIZE [huge] [shared]", cli__do_mem, false, ANY },
	{ "munmap", "vv", "munmap ADDR SIZE", cli__do_munmap, false, ANY },
	{ "mprotect", "vvP", "mprotect ADDR SIZE ro|none|rw", cli__do_mprotect, false, ANY },
	{ "fill", "vvv", "fill ADDR LEN BYTE", cli__do_fill, false, ANY },
	{ "check", "vvv", "check ADDR LEN BYTE", cli__do_check, false, ANY },
	{ "locked_vm", "", "locked_vm", cli__do_locked_vm, false, ANY },
	{ "pinned", "", "pinned", cli__do_pinned, false, ANY },
	/* descriptors */
	{ "container", "C", "container NAME", cli__do_container, false, ANY },
	{ "group", "Gv", "group NAME N", cli__do_group, false, ANY },
	{ "close", "h", "close X", cli__do_close, false, ANY },
	{ "set_container", "gc", "set_container G C", cli__do_set_container, false, ANY },
	{ "unset_container", "g", "unset_container G", cli__do_unset_container, false, ANY },
	{ "set_iommu", "cI", "set_iommu C v1|v2|N", cli__do_set_iommu, false, ANY },
	{ "check_extension", "cv", "check_extension C N", cli__do_check_extension, false, ANY },
	{ "api_version", "c", "api_version C", cli__do_api_version, false, ANY },
	{ "ioctl", "hv", "ioctl X N", cli__do_ioctl, false, ANY },
	/* the sPAPR requests */
	{ "get_info", "co", "get_info C [argsz=N]", cli__do_get_info, false, INFO },
	{ "register", "cvvo", "register C ADDR SIZE [flags=N argsz=N]", cli__do_register, false, ANY },
	{ "unregister", "cvvo", "unregister C ADDR SIZE [flags=N argsz=N]", cli__do_unregister, false,
	  ANY },
	{ "map", "cvvvDo", "map C VADDR IOVA SIZE r|w|rw|none [flags=N argsz=N]", cli__do_map, false,
	  ANY },
	{ "unmap", "cvvo", "unmap C IOVA SIZE [flags=N argsz=N]", cli__do_unmap, false, ANY },
	{ "create", "cvvvo", "create C SHIFT WINDOW_SIZE LEVELS [flags=N argsz=N]", cli__do_create,
	  false, ANY | (1u << K_START) },
	{ "remove", "cvo", "remove C START [flags=N argsz=N]", cli__do_remove, false, ANY },
	{ "enable", "c", "enable C", cli__do_enable, false, ANY },
	{ "disable", "c", "disable C", cli__do_disable, false, ANY },
	/* devices */
	{ "dma_write", "gvvv", "dma_write G IOVA LEN BYTE", cli__do_dma_write, false, ANY },
	{ "dma_read", "gvvb", "dma_read G IOVA LEN [BYTE]", cli__do_dma_read, false, ANY },
	/* binding */
	{ "fork_expect", "cR", "fork_expect C REQUEST ARGS...", cli__do_fork_expect, false, ANY },
	/* the guest path */
	{ "guest", "U", "guest NAME", cli__do_guest, false, ANY },
	{ "guest_destroy", "V", "guest_destroy V", cli__do_guest_destroy, false, ANY },
	{ "memslot", "Vvvvv", "memslot V SLOT GPA SIZE ADDR", cli__do_memslot, false, ANY },
	{ "tce_table", "Vvvvv", "tce_table V LIOBN SHIFT OFFSET SIZE", cli__do_tce_table, false, ANY },
	{ "tce_table_destroy", "Vv", "tce_table_destroy V LIOBN", cli__do_tce_table_destroy, false,
	  ANY },
	{ "attach", "Vvh", "attach V LIOBN G", cli__do_attach, false, ANY },
	{ "detach", "Vvh", "detach V LIOBN G", cli__do_detach, false, ANY },
	{ "guest_check", "V", "guest_check V", cli__do_guest_check, false, ANY },
	{ "poke64", "v*", "poke64 ADDR VALUE...", cli__do_poke64, false, ANY },
	{ "h_put_tce", "Vvvv", "h_put_tce V LIOBN IOBA TCE", cli__do_h_put_tce, true, ANY },
	{ "h_put_tce_indirect", "Vvvvv", "h_put_tce_indirect V LIOBN IOBA LIST NPAGES",
	  cli__do_h_put_tce_indirect, true, ANY },
	{ "h_stuff_tce", "Vvvvv", "h_stuff_tce V LIOBN IOBA VALUE NPAGES", cli__do_h_stuff_tce, true,
	  ANY },
	{ "h_get_tce", "Vvv", "h_get_tce V LIOBN IOBA", cli__do_h_get_tce, true, ANY | (1u << K_TCE) },
};

const struct cli_op *cli__op_find(const char *name)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].name, name))
			return &ops[i];
	return NULL;
}

const char *const cli__check_keys[K_NKEYS] = {
	[K_DMA32_START] = "dma32_start", [K_DMA32_SIZE] = "dma32_size", [K_FLAGS] = "flags",
	[K_PGSIZES] = "pgsizes", [K_WINDOWS] = "windows", [K_LEVELS] = "levels",
	[K_START] = "start", [K_TCE] = "tce", [K_LOCKED_VM] = "locked_vm", [K_PINNED] = "pinned",
};

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
