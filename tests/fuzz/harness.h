/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/harness.h: what the fuzz targets share (tests/fuzz/harness.c).
 *
 * Every target runs an input the same way: fz_begin() checks that the
 * state is clean and starts the trace; the target decodes requests from
 * the input (fz_u8, fz_u16), runs each against the model and the library,
 * and records it: fz_req() writes the request in the `spaprtce replay`
 * language, fz_done() (errno results) or fz_hdone() (H_* codes) appends the
 * model's expectation, compares, and runs the post-request checks (the
 * target's callback, which starts with fz_check_state()).  On a difference
 * fz_diverge() prints the trace, the divergence named by the trace line
 * `spaprtce replay` reports it at, and aborts.  fz_end() checks that the
 * cleanup left nothing and writes the trace to $SPAPRTCE_FUZZ_TRACE.
 *
 * Memory areas: fz_mem_map() maps one between PROT_NONE guard pages, named
 * PREFIX<i> in the trace (PREFIX<i>+0x1000 is its first usable byte), and
 * fills each page with a pattern byte.  A page's `fill` line is written
 * only when the trace first depends on its content (fz_mem_show): a byte a
 * device read expects, a page a request writes into.  A target that shows
 * all its memory up front gets one `fill` line per run of equal pages.
 *
 * Names: everything here starts with fz_; the corpus suite includes every
 * target and this file into one translation unit.
 */
#ifndef SPAPRTCE_TESTS_FUZZ_HARNESS_H
#define SPAPRTCE_TESTS_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/model/model.h"

#define FZ_MAX_MEMS 4

/* ------------------------------------------------------------- input */

struct fz_in {
	const uint8_t *p;
	size_t n, i;
};

/* The next byte of the input (0 past its end). */
uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
/* A pseudo-random number, seeded from the input by fz_begin(). */
uint64_t fz_rnd(void);

/* ------------------------------------------------------------- an input */

/*
 * Starts an input of @target: diverges unless locked_vm, pins and table
 * memory are 0; empties the trace; seeds fz_rnd(); memory areas will be
 * named @mem_prefix<i>.  @post_checks runs after every recorded request.
 */
void fz_begin(const char *target, const uint8_t *data, size_t size, const char *mem_prefix,
	      void (*post_checks)(void));
/* After the cleanup: nothing charged, pinned or allocated; the invariant
 * checkers; writes the trace file.  The memory areas' mappings are kept
 * for the next input (refilled, read-write again). */
void fz_end(void);

/*
 * The machine's quirks mode of each input (docs/quirks.md): -1 (default)
 * takes it from the input, the low bit of its last byte (1: quirks=kernel),
 * so that a fuzzing engine explores both; 0 or 1 force fixed or kernel
 * (tests/check_fuzz_corpus.c replays every input both ways).  The
 * environment's SPAPRTCE_FUZZ_QUIRKS=fixed|kernel forces it too.  fz_begin
 * applies it to the library and says it in the trace; fz_kernel is the
 * mode of the current input, for the target's model (struct model.kernel).
 */
extern int fz_quirks_mode;
extern bool fz_kernel;

/*
 * quirks=kernel: Q3's orphans stay registered for the life of the process.
 * Frees them in the library and the model, as a process exit would, so that
 * the next input starts clean; the trace's final checks then say so in a
 * comment (`spaprtce replay` cannot reap them).  Call after the cleanup.
 */
void fz_reap_orphans(struct model *m);

/* ------------------------------------------------------------- the trace */

void fz_tr_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Starts the line of the next request (its part before "=>"). */
void fz_req(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appends to it. */
void fz_req_more(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Appends the check " KEY=WANT" after the expectation: when the request
 * succeeds as the model says, the 64-bit value at @got (the library's,
 * read after the call) must equal @want, compared before the post-request
 * checks run.
 */
void fz_req_check(const char *key, uint64_t want, const void *got);
/* The request cannot be written in the replay language: record it as a
 * comment (only for requests that change nothing). */
void fz_req_comment(void);
/* Prints the trace, the divergence marked in a comment, and aborts. */
void fz_diverge(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

const char *fz_errname(int e);
/* ok, an errno name, or the number. */
const char *fz_res_str(struct model_res r);
/* H_SUCCESS ... or the number. */
const char *fz_hname(long h);
/* A device access's result (0 or -errno) as ok or an errno name. */
const char *fz_dma_str(int rc);
/* A library result (rc < 0: -1 and errno) as a model_res. */
struct model_res fz_real(long rc);

/* Records the request with the model's result, compares, runs the checks. */
void fz_done(struct model_res want, struct model_res got);
/* The same for a hypercall's H_* code. */
void fz_hdone(long want, long got);

/* ------------------------------------------------------ system calls */

/* waitpid(@pid, @status, 0), retried while a signal interrupts it. */
int fz_waitpid(int pid, int *status);
/* How many interrupted system calls the harness retried (tests read it). */
extern unsigned long fz_eintr_retries;

/* ---------------------------------------------------------------- checks */

/*
 * Checks that cost what the input changed.  After every request the harness
 * compares its result, locked_vm and the pinned pages with the model
 * (fz_done, fz_check_state).  The targets' structural checks -- window
 * geometry, spapr_guest_check, the sampled device reads and H_GET_TCE -- run
 * only after a request that may have changed the state: one that is not
 * read-only (fz_req_reads) and that succeeded, or any in quirks=kernel mode,
 * where some failures keep part of their work (Q2, Q5, Q12).  After a
 * request that changed nothing they would check the state the previous
 * check saw: a failed request leaves the state exactly as it was, and when
 * the library breaks that rule, the damage is still there at the next check.
 * The layers' invariant checkers and tce_table_check on every table run at
 * fz_checkpoint (the targets take it before their cleanup, on the state all
 * the input's requests left) and after the cleanup (fz_end).
 *
 * fz_req_reads: the request being built only reads (GET_INFO, H_GET_TCE...).
 * fz_changed: whether the request just recorded may have changed the state
 * (true during a checkpoint).  The targets' post-request callbacks run their
 * structural checks only then.
 * fz_defer_checks(true): the requests that follow are a fixed set-up (a
 * target's prologue, the same in every input): only their results and
 * counters are compared, and what they build is checked with the rest
 * (fz_defer_checks(false) ends it).
 * fz_checkpoint: the post-request callback as after a change, with
 * fz_checkpoint_running() true (the targets then check every table), and
 * the invariant checkers.
 */
void fz_req_reads(void);
bool fz_changed(void);
void fz_defer_checks(bool on);
void fz_checkpoint(void);
bool fz_checkpoint_running(void);

/*
 * A request from a forked child (fuzz_container's foreign requests) forks
 * the whole ASan process: milliseconds.  fz_input_hash (FNV-1a of the
 * input, mixed) decides: an input may fork only when
 * fz_input_hash % fz_fork_one_in == 0
 * (FZ_FORK_ONE_IN; tests/check_fuzz_corpus.c sets 1: every seed's foreign
 * request forks).  A deterministic function of the input, so that a crash
 * reproduces from the input alone.
 */
#define FZ_FORK_ONE_IN 8u
extern uint64_t fz_input_hash;
extern unsigned fz_fork_one_in;

/* locked_vm and pinned pages against @m (a `locked_vm => N` or `pinned => N`
 * line when the model's value changes), after every request; then, at a
 * checkpoint (fz_checkpoint) and at the end of the input (fz_end), the
 * invariant checkers mmreg_mm_check, emu_mem_check, emu_machine_check.  Why
 * not after every change: each reads whole structures (every registered and
 * every pinned page), and after one request in 8 they were still a sixth of
 * fuzz_hcall's time under ASan; the differential comparisons with the model
 * still run after every request. */
void fz_check_state(const struct model *m);
/* A device read of @len (<= 32) bytes at @iova by group @id: the model's
 * result, and the bytes at the model's ua. */
void fz_check_dma_read(const struct model *m, int id, uint64_t iova, unsigned len);

/*
 * The groups a target's sampled device reads go through: at a checkpoint
 * (@all) every open group attached to a container, otherwise one of them
 * per container, drawn with fz_rnd().  The groups of one container see the
 * same windows, each through its own host bridge: every bridge's
 * programming is still read at the checkpoint of every input, and after a
 * change through a random one of them (the reads were a twentieth of
 * fuzz_hcall's time, two of its three groups sharing c0).  Sets @pick[id].
 */
void fz_sample_groups(const struct model *m, bool all, bool pick[MODEL_GROUPS]);

/* ---------------------------------------------------------------- memory */

/*
 * Maps memory area @i of @pages pages between two guard pages (or takes
 * the mapping an earlier input of the same size left, made read-write
 * again), fills page k with @pattern(i, k), adds it to @m; records `mem`
 * and the guard pages' `mprotect ... none`.  Returns the first usable byte.
 */
uint8_t *fz_mem_map(struct model *m, int i, uint64_t pages, uint8_t (*pattern)(int i, uint64_t pg));
/* The first usable byte of area @i, and its usable pages. */
uint64_t fz_mem_base(int i);
uint64_t fz_mem_pages(int i);
/* Records the `fill` lines of the pages of [ua, ua + len) not shown yet. */
void fz_mem_show(uint64_t ua, uint64_t len);
/* @ua as PREFIX<i>+OFF when in an area (guard pages included), else hex. */
const char *fz_addr(uint64_t ua);

/*
 * FZ_CHECKS: 0 in the decode-only variant of a target (-DFZ_DECODE_ONLY,
 * tests/fuzz/decode_only.h), where the library is never called and a
 * target must skip its own comparisons too.
 */
#ifdef FZ_DECODE_ONLY
#define FZ_CHECKS 0
#ifndef FZ_HARNESS_IMPL
#include "tests/fuzz/decode_only.h"
#endif
#else
#define FZ_CHECKS 1
#endif

#endif
