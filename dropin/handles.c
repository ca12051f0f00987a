/* SPDX-License-Identifier: MIT */
/*
 * Handles: which program descriptors are ours, and the kernel's open-file
 * semantics for them.
 *
 * The library names a container, group or device by the descriptor it
 * created (a memfd).  The program may dup that descriptor (dup, dup2,
 * dup3, fcntl F_DUPFD) and close the copies in any order; the kernel keeps
 * one open file with a reference per descriptor and releases it at the last
 * close.  So the layer keeps one struct dropin_file per library handle with
 * a reference count of program descriptors, and a table from descriptor
 * number to handle.  Every ioctl through any of the descriptors goes to the
 * library with the handle's own descriptor.
 *
 * When the program closes the library's descriptor itself while dups
 * remain, that descriptor must stay open (the library looks it up by
 * number): it is kept, hidden -- the program no longer sees it as its own,
 * and the layer really closes it (through spapr_close) at the last close.
 *
 * The table is an array indexed by descriptor (DROPIN_MAX_FD entries of
 * which only the touched pages cost memory), read without a lock so that a
 * close() or read() of a descriptor that is not ours costs one load; it is
 * written under a mutex.  Counting is under the same mutex.
 *
 * Fork: the child inherits the table with the descriptors, so its dups and
 * closes count the same way (its copy of the counts); the library answers
 * the child's requests on inherited handles as docs/processes.md says
 * (EPERM, the parent's objects never released in the child).  Exec: the
 * table is gone; descriptors inherited without O_CLOEXEC are the library's
 * memfds, which the new program's layer does not know (ioctl on them passes
 * to the kernel: ENOTTY).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "dropin/dropin.h"

static struct dropin_file *table[DROPIN_MAX_FD];
pthread_mutex_t dropin__table_lock = PTHREAD_MUTEX_INITIALIZER;	/* fork: dropin/fork.c */
static unsigned next_id[4];

const char *dropin__kind_name(enum dropin_kind kind)
{
	switch (kind) {
	case DROPIN_CONTAINER:
		return "container";
	case DROPIN_GROUP:
		return "group";
	case DROPIN_DEVICE:
		return "device";
	}
	return "?";
}

struct dropin_file *dropin__file(int fd)
{
	if (fd < 0 || fd >= DROPIN_MAX_FD)
		return NULL;
	return __atomic_load_n(&table[fd], __ATOMIC_ACQUIRE);
}

int dropin__file_new(enum dropin_kind kind, int spapr_fd, int group)
{
	struct dropin_file *f;

	if (spapr_fd < 0 || spapr_fd >= DROPIN_MAX_FD)
		return -EMFILE;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->kind = kind;
	f->spapr_fd = spapr_fd;
	f->refs = 1;
	f->group = group;
	f->spapr_fd_visible = true;
	pthread_mutex_lock(&dropin__table_lock);
	f->id = ++next_id[kind];
	__atomic_store_n(&table[spapr_fd], f, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&dropin__table_lock);
	return 0;
}

void dropin__file_dup(struct dropin_file *f, int newfd)
{
	if (newfd < 0 || newfd >= DROPIN_MAX_FD)
		return;
	pthread_mutex_lock(&dropin__table_lock);
	f->refs++;
	__atomic_store_n(&table[newfd], f, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&dropin__table_lock);
}

struct dropin_file *dropin__file_forget(int fd, bool *keep_real)
{
	struct dropin_file *f;

	*keep_real = false;
	if (fd < 0 || fd >= DROPIN_MAX_FD)
		return NULL;
	pthread_mutex_lock(&dropin__table_lock);
	f = table[fd];
	if (!f) {
		pthread_mutex_unlock(&dropin__table_lock);
		return NULL;
	}
	__atomic_store_n(&table[fd], NULL, __ATOMIC_RELEASE);
	if (fd == f->spapr_fd)
		f->spapr_fd_visible = false;
	if (--f->refs) {
		*keep_real = fd == f->spapr_fd;
		f = NULL;
	}
	pthread_mutex_unlock(&dropin__table_lock);
	return f;
}

void dropin__file_free(struct dropin_file *f)
{
	free(f);
}
