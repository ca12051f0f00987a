/* SPDX-License-Identifier: MIT */
/*
 * The recorder for programs that call the fd API directly: with
 * SPAPRTCE_TRACE=FILE in the environment, the first spapr_open_container
 * or spapr_open_group installs an observer (observe.c) that writes every
 * call as a `spaprtce replay` trace (docs/replay.md) with the result the
 * program got, so that the run replays PASS.  The drop-in layer
 * (libspaprtce-preload.so) records its programs itself (it also records
 * the real kernel's answers in record mode) and says so by setting
 * SPAPRTCE_TRACE_OWNER to its process id: this recorder then stays off in
 * that process, so a trace is written once.
 *
 * Names: containers c1, c2 ..., groups g1 ... in the order the program
 * opened them (a failed group open is gfailK), device fds d1 ...; a name
 * lives while its fd is open.  Memory: a user address (REGISTER,
 * UNREGISTER, MAP's vaddr) is written as NAME+OFFSET in a `mem` area that
 * stands for the run of adjacent readable mappings of /proc/self/smaps
 * holding it with the same page size (`huge` for 2 MiB pages), defined on
 * first use; beyond 200 areas, or for an address in no mapping, the number
 * itself.  Requests the trace language has no line for (GROUP_GET_STATUS,
 * the device fd's, VFIO_EEH_PE_OP) and device reads, writes and mmaps are
 * comments with their results.
 *
 * Why installed only when no observer is set: a program (or a test) that
 * observes the calls itself keeps its observer; SPAPRTCE_TRACE gives way.
 * Only the process that opened the trace writes to it (a forked child's
 * calls are not the parent's sequence).  One line per call, each written
 * with one write(2) under the recorder's lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spapr/record_fmt.h"
#include "spapr/spapr_priv.h"

#define MAX_NAMES 1024u

struct name {
	int fd;			/* -1: free */
	char kind;		/* 'c', 'g', 'd' */
	unsigned id;
};

static pthread_once_t record_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static int record_fd = -1;
static pid_t record_pid;
static struct name names[MAX_NAMES];
static unsigned counters[3], failed_groups;

static void rec_write(void *ctx, const char *text, size_t n)
{
	(void)ctx;
	if (write(record_fd, text, n) != (ssize_t)n)
		return;	/* a full disk loses lines, never the program's call */
}

static struct spapr_rec rec = { .write = rec_write };

#define out(...) spapr__rec_printf(&rec, __VA_ARGS__)
#define errname spapr__rec_errname
#define expect spapr__rec_expect

/* --------------------------------------------------------------- names */

static void name_add(int fd, char kind)
{
	unsigned k = kind == 'c' ? 0 : kind == 'g' ? 1 : 2;

	for (unsigned i = 0; i < MAX_NAMES; i++)
		if (names[i].fd < 0) {
			names[i] = (struct name){ fd, kind, ++counters[k] };
			return;
		}
}

static struct name *name_find(int fd)
{
	for (unsigned i = 0; i < MAX_NAMES; i++)
		if (names[i].fd == fd && fd >= 0)
			return &names[i];
	return NULL;
}

/* The name of @fd ("c1"), or the number itself for an fd the program never opened here. */
static void name_of(int fd, char *buf, size_t n)
{
	struct name *nm = name_find(fd);

	if (nm)
		snprintf(buf, n, "%c%u", nm->kind, nm->id);
	else
		snprintf(buf, n, "%d", fd);
}

/* ---------------------------------------------------------------- requests */

static void record_ioctl(const struct spapr_call_event *ev)
{
	struct name *nm = name_find(ev->fd), *c;
	char name[32], e[24], target[32];
	const char *t = NULL;

	name_of(ev->fd, name, sizeof(name));
	if (nm && nm->kind == 'g' && ev->request == VFIO_GROUP_GET_DEVICE_FD) {
		if (ev->result >= 0)
			name_add((int)ev->result, 'd');
		out("# %s: VFIO_GROUP_GET_DEVICE_FD => %s (device fds have no replay line)\n", name,
		    expect(ev->result, ev->err, e, sizeof(e)));
		return;
	}
	if (ev->request == VFIO_GROUP_SET_CONTAINER && ev->before_len >= sizeof(int)) {
		c = name_find(*(const int *)ev->before);
		if (c) {
			if (c->kind == 'c')
				snprintf(target, sizeof(target), "c%u", c->id);
			else
				snprintf(target, sizeof(target), "1000000");	/* ours, not a container */
			t = target;
		}
	}
	spapr__rec_ioctl(&rec, name, nm ? nm->kind : '?', ev->request, (uintptr_t)ev->arg, ev->before,
			 ev->before_len, ev->result, ev->err, t);
}

static void record(void *ctx, const struct spapr_call_event *ev)
{
	char name[32], e[24];
	struct name *nm;

	(void)ctx;
	if (getpid() != record_pid)
		return;
	pthread_mutex_lock(&record_lock);
	switch (ev->call) {
	case SPAPR_CALL_OPEN_CONTAINER:
		if (ev->result >= 0) {
			name_add(ev->fd, 'c');
			name_of(ev->fd, name, sizeof(name));
			out("container %s => ok\n", name);
		} else {
			out("# spapr_open_container failed: %s\n", errname(ev->err));
		}
		break;
	case SPAPR_CALL_OPEN_GROUP:
		if (ev->result >= 0) {
			name_add(ev->fd, 'g');
			name_of(ev->fd, name, sizeof(name));
		} else {
			snprintf(name, sizeof(name), "gfail%u", ++failed_groups);
		}
		out("group %s %d => %s\n", name, ev->group, ev->result >= 0 ? "ok" : errname(ev->err));
		break;
	case SPAPR_CALL_IOCTL:
		record_ioctl(ev);
		break;
	case SPAPR_CALL_CLOSE:
		nm = name_find(ev->fd);
		name_of(ev->fd, name, sizeof(name));
		if (nm && nm->kind == 'd')
			out("# close %s => %s\n", name, expect(ev->result, ev->err, e, sizeof(e)));
		else if (nm || ev->result < 0)
			out("close %s => %s\n", name, expect(ev->result, ev->err, e, sizeof(e)));
		if (nm && ev->result == 0)
			nm->fd = -1;
		break;
	case SPAPR_CALL_PREAD:
	case SPAPR_CALL_PWRITE:
	case SPAPR_CALL_MMAP:
		name_of(ev->fd, name, sizeof(name));
		out("# %s %s len 0x%zx offset 0x%llx => %s\n",
		    ev->call == SPAPR_CALL_PREAD ? "pread" : ev->call == SPAPR_CALL_PWRITE ? "pwrite" : "mmap",
		    name, ev->len, (unsigned long long)ev->off, expect(ev->result, ev->err, e, sizeof(e)));
		break;
	}
	pthread_mutex_unlock(&record_lock);
}

static const struct spapr_observer recorder = { record, NULL };

static void record_open(void)
{
	const char *path = getenv("SPAPRTCE_TRACE"), *owner = getenv("SPAPRTCE_TRACE_OWNER");
	const struct spapr_observer *none = NULL;
	int fd, hi;

	if (!path || !*path || (owner && atoi(owner) == (int)getpid()))
		return;
	if (__atomic_load_n(&spapr__observer, __ATOMIC_ACQUIRE))
		return;	/* the program observes the calls itself */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "libspaprtce: cannot open SPAPRTCE_TRACE=%s: %s; no trace\n", path, strerror(errno));
		return;
	}
	/* At a high number, out of the way of a program that dup2s onto low ones. */
	hi = fcntl(fd, F_DUPFD_CLOEXEC, 900);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	for (unsigned i = 0; i < MAX_NAMES; i++)
		names[i].fd = -1;
	record_fd = fd;
	record_pid = getpid();
	out("# recorded by libspaprtce (pid %d): the program's spapr_* calls and their results\n",
	    (int)record_pid);
	if (!__atomic_compare_exchange_n(&spapr__observer, &none, &recorder, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		close(record_fd);
		record_fd = -1;
	}
}

void spapr__record_start(void)
{
	pthread_once(&record_once, record_open);
}
