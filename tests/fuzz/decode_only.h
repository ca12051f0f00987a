/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/decode_only.h: the decode-only variant of a fuzz target, the
 * baseline of its speed (tests/fuzz/speed.sh, `make fuzz-speed`).
 *
 * Built with -DFZ_DECODE_ONLY, a target keeps its harness, its input
 * decoding (with the model, which is the decoder's state: which container
 * is the n-th open one, which windows exist) and its trace, but calls no
 * library entry point: each is replaced below by a constant, and the
 * harness compares nothing and runs no post-request check.  What the real
 * target costs beyond this variant is the library and the checks on it.
 *
 * Included at the end of tests/fuzz/harness.h, i.e. after the library's
 * headers, in the targets only (harness.c defines FZ_HARNESS_IMPL).
 */
#ifndef SPAPRTCE_TESTS_FUZZ_DECODE_ONLY_H
#define SPAPRTCE_TESTS_FUZZ_DECODE_ONLY_H

static inline long fz_nop(void)
{
	return 0;
}

static char fz_nop_guest;

/* The container and group fds a target stores: never used in this variant. */
#define spapr_open_container() 3
#define spapr_open_group(...) 4
#define spapr_ioctl(...) fz_nop()
#define spapr_close(...) fz_nop()
#define spapr_mm_set_memlock(...) fz_nop()
#define emu_dma_write(...) ((int)fz_nop())
#define spapr_guest_create(out) (*(out) = (struct spapr_guest *)(void *)&fz_nop_guest, 0)
#define spapr_guest_destroy(...) ((void)0)
#define spapr_guest_set_memslot(...) fz_nop()
#define spapr_guest_create_tce_table(...) fz_nop()
#define spapr_guest_destroy_tce_table(...) fz_nop()
#define spapr_guest_attach_group(...) fz_nop()
#define spapr_guest_detach_group(...) fz_nop()
#define spapr_h_put_tce(...) fz_nop()
#define spapr_h_put_tce_indirect(...) fz_nop()
#define spapr_h_stuff_tce(...) fz_nop()
#define spapr_h_get_tce(...) fz_nop()
/* The parent's side of a fork_expect request; fz_waitpid reports an exit 0. */
#define fork() 1

#endif
