/* SPDX-License-Identifier: MIT */
/*
 * dropin/trace.h: the trace recorder (SPAPRTCE_TRACE=FILE, `spaprtce exec
 * --trace FILE`), fed by dropin/log.c at the same points as the log.
 */
#ifndef SPAPRTCE_DROPIN_TRACE_H
#define SPAPRTCE_DROPIN_TRACE_H

#include "dropin/dropin.h"

void dropin__trace_init(void);
bool dropin__tracing(void);
void dropin__trace_open(int group, int fd, int err, const struct dropin_file *f);
void dropin__trace_close(const struct dropin_file *f, bool last, int rc, int err);
void dropin__trace_ioctl(const struct dropin_file *f, unsigned long req, uintptr_t arg,
			 const void *argcopy, int rc, int err);
const char *dropin__errname(int err);
int dropin__trace_fd(void);
/* Moves the layer's own descriptor @fd to a high number (the log's, the trace's). */
int dropin__private_fd(int fd);
/* @fd is the log's or the trace's: the program's close() does not close it. */
bool dropin__is_private_fd(int fd);

#endif
