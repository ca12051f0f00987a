/* SPDX-License-Identifier: MIT */
/*
 * spapr/record_fmt.h: the lines of a recorded `spaprtce replay` trace
 * (docs/replay.md), shared by the library's recorder for direct callers
 * (spapr/record.c) and the drop-in layer's (dropin/trace.c), which
 * compiles spapr/record_fmt.c into itself: one formatter, two recorders.
 *
 * Concepts
 *   rec     A recorder's output (a write function) and its memory areas:
 *           a user address becomes NAME+OFFSET in a `mem` area, the run of
 *           adjacent readable mappings of /proc/self/smaps around it with
 *           its page size (REGISTER pins page by page and splits a mapping
 *           into changing pieces; the run stays), defined on first use.
 *   name    The caller names its handles ("c1", "g2", "d1") and says each
 *           one's kind ('c' container, 'g' group, 'd' device).
 * The caller serialises the calls on one rec; the functions read
 * /proc/self/smaps with stdio (the drop-in layer calls them inside its
 * guard, so they reach libc itself).
 */
#ifndef SPAPRTCE_SPAPR_RECORD_FMT_H
#define SPAPRTCE_SPAPR_RECORD_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPAPR_REC_AREAS 200u

struct spapr_rec {
	void (*write)(void *ctx, const char *s, size_t n);
	void *ctx;
	struct {
		uintptr_t start, end;
		bool huge;
	} areas[SPAPR_REC_AREAS];
	unsigned nareas;
};

/* One line (or part of one) through r->write; cut at 640 bytes. */
void spapr__rec_printf(struct spapr_rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "EBUSY" for EBUSY ("E?" when unknown). */
const char *spapr__rec_errname(int err);
/* "ok", the errno's name, or the positive result as a number (into @buf). */
const char *spapr__rec_expect(long rc, int err, char *buf, size_t n);
/*
 * The line of one ioctl on handle @name of kind @kind: @arg as the program
 * passed it (a value for CHECK_EXTENSION and SET_IOMMU, else the pointer,
 * read after the call for what came back), @before its first @before_len
 * bytes before the call (0 when unreadable), @result and @err the call's,
 * @target the name of SET_CONTAINER's container (NULL: not one of ours; the
 * descriptor number is written, or 1000000 for a handle of another kind).
 */
void spapr__rec_ioctl(struct spapr_rec *r, const char *name, char kind, unsigned long req, uintptr_t arg,
		      const void *before, size_t before_len, long result, int err, const char *target);

#endif
