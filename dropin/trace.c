/* SPDX-License-Identifier: MIT */
/*
 * The trace recorder: a program's requests written as a `spaprtce replay`
 * trace (docs/replay.md) with the results it got, so that the run becomes
 * a regression trace that replays PASS.
 *
 * Names: the container with handle id N is `cN`, the group `gN` (dups
 * share the name).  The lines themselves, memory areas included, come from
 * the formatter the library's own recorder uses (spapr/record_fmt.c,
 * compiled into the layer), so a request reads the same whoever recorded
 * it; this file knows the layer's handles, its guard and its record mode.
 *
 * Requests the replay language has no line for (GROUP_GET_STATUS, the device
 * fd's requests, VFIO_EEH_PE_OP) are written as comments with their result,
 * as is a failed open of the container.  The recorder writes only in the
 * process that opened the trace (a forked child's requests are not the
 * parent's sequence), one line per request, under a lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dropin/trace.h"
#include "spapr/record_fmt.h"

static int trace_fd = -1;
static pid_t trace_pid;
pthread_mutex_t dropin__trace_lock = PTHREAD_MUTEX_INITIALIZER;	/* fork: dropin/fork.c */
static unsigned failed_groups;

int dropin__trace_fd(void)
{
	return trace_fd;
}

bool dropin__tracing(void)
{
	return trace_fd >= 0 && trace_pid == getpid();
}

/* The formatter's output: the real write(2), inside the guard. */
static void rec_write(void *ctx, const char *text, size_t n)
{
	(void)ctx;
	dropin__enter();
	dropin_real.write(trace_fd, text, n);
	dropin__leave();
}

static struct spapr_rec rec = { .write = rec_write };

#define out(...) spapr__rec_printf(&rec, __VA_ARGS__)

void dropin__trace_init(void)
{
	const char *path = getenv("SPAPRTCE_TRACE");

	if (!path || !*path)
		return;
	/* This process's trace is the layer's: the library's own recorder (spapr/record.c) stays off. */
	{
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("SPAPRTCE_TRACE_OWNER", pid, 1);
	}
	dropin__enter();
	trace_fd = dropin__private_fd(dropin_real.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	dropin__leave();
	if (trace_fd < 0) {
		static const char msg[] = "libspaprtce-preload: cannot open SPAPRTCE_TRACE; no trace\n";

		dropin_real.write(2, msg, sizeof(msg) - 1);
		return;
	}
	trace_pid = getpid();
	out("# recorded by libspaprtce-preload (pid %d): the program's requests and their results\n",
	    (int)trace_pid);
}

static const char *expect(int rc, int err, char *buf, size_t n)
{
	return spapr__rec_expect(rc, err, buf, n);
}

/* ---------------------------------------------------------------- requests */

static void name_of(const struct dropin_file *f, char *buf, size_t n)
{
	snprintf(buf, n, "%c%u", f->kind == DROPIN_CONTAINER ? 'c' : f->kind == DROPIN_GROUP ? 'g' : 'd',
		 f->id);
}

void dropin__trace_open(int group, int fd, int err, const struct dropin_file *f)
{
	char name[32], e[16];

	if (!dropin__tracing())
		return;
	pthread_mutex_lock(&dropin__trace_lock);
	if (group < 0) {
		if (fd >= 0 && f) {
			name_of(f, name, sizeof(name));
			out("container %s => ok\n", name);
		} else {
			out("# open(\"/dev/vfio/vfio\") failed: %s\n", dropin__errname(err));
		}
	} else {
		if (fd >= 0 && f)
			name_of(f, name, sizeof(name));
		else
			snprintf(name, sizeof(name), "gfail%u", ++failed_groups);
		out("group %s %d => %s\n", name, group, expect(fd >= 0 ? 0 : -1, err, e, sizeof(e)));
	}
	pthread_mutex_unlock(&dropin__trace_lock);
}

void dropin__trace_close(const struct dropin_file *f, bool last, int rc, int err)
{
	char name[32], e[16];

	if (!dropin__tracing() || f->kind == DROPIN_DEVICE)
		return;
	name_of(f, name, sizeof(name));
	pthread_mutex_lock(&dropin__trace_lock);
	if (last)
		out("close %s => %s\n", name, expect(rc, err, e, sizeof(e)));
	else
		out("# a dup of %s closed; it stays open\n", name);
	pthread_mutex_unlock(&dropin__trace_lock);
}

void dropin__trace_ioctl(const struct dropin_file *f, unsigned long req, uintptr_t arg,
			 const void *argcopy, int rc, int err)
{
	char name[32], target[32];
	const char *t = NULL;
	char kind = f->kind == DROPIN_CONTAINER ? 'c' : f->kind == DROPIN_GROUP ? 'g' : 'd';

	if (!dropin__tracing())
		return;
	name_of(f, name, sizeof(name));
	if (req == VFIO_GROUP_SET_CONTAINER) {
		const struct dropin_file *c = dropin__file(*(const int *)argcopy);

		if (c) {
			if (c->kind == DROPIN_CONTAINER)
				name_of(c, target, sizeof(target));
			else
				snprintf(target, sizeof(target), "1000000");	/* ours, not a container */
			t = target;
		}
	}
	pthread_mutex_lock(&dropin__trace_lock);
	/* The memory areas are read from /proc/self/smaps with stdio: inside the guard. */
	dropin__enter();
	spapr__rec_ioctl(&rec, name, kind, req, arg, argcopy, arg && kind != 'd' ? 64 : 0, rc, err, t);
	dropin__leave();
	pthread_mutex_unlock(&dropin__trace_lock);
}
