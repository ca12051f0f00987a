/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz.h: what every fuzz target of tests/fuzz/ provides.
 *
 * A target is one .c file defining LLVMFuzzerTestOneInput (libFuzzer's and
 * AFL++'s entry point, also called by tests/check_fuzz_corpus.c without an
 * engine).  Each input runs from a clean state (nothing open, locked_vm 0,
 * nothing pinned) and must leave it clean.  On any difference with the
 * reference model (tests/model/) the target prints the requests so far as
 * a `spaprtce replay` trace, the divergence marked in a comment, and
 * aborts.  With SPAPRTCE_FUZZ_TRACE=path in the environment, the trace of
 * every input is also written to path (overwritten per input).
 */
#ifndef SPAPRTCE_TESTS_FUZZ_H
#define SPAPRTCE_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
