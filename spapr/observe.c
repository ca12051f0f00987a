/* SPDX-License-Identifier: MIT */
/*
 * The observer of the fd API (spapr_set_observer, spapr/spapr.h): each
 * public fd call reports itself, after it returned, to the one observer
 * installed, if any.
 *
 * Why after the call and outside every lock: the observer formats and
 * writes (a trace file, a log); doing that under the library's locks would
 * put file I/O inside the lock order and serialise unrelated requests.
 * The price is that two threads' reports may come in another order than
 * their calls took effect, as two threads' strace lines may.
 *
 * Why the argument is copied before the call, only when observed: a
 * request's argument is also where the answer is written, and a recorder
 * wants both what was asked and what came back.  The copy goes through the
 * library's safe copy (uaccess.c), so a bad pointer is reported, never
 * dereferenced; piece by piece, so a struct that ends on an unreadable
 * page gives what could be read.  Without an observer nothing of this
 * runs: the calls pay one acquire load of the slot and a branch.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <string.h>

#include "spapr/spapr_priv.h"

const struct spapr_observer *spapr__observer;

const struct spapr_observer *spapr_set_observer(const struct spapr_observer *o)
{
	return __atomic_exchange_n(&spapr__observer, o, __ATOMIC_ACQ_REL);
}

void spapr__observe(const struct spapr_observer *o, struct spapr_call_event *ev)
{
	int saved = errno;

	ev->err = ev->result < 0 ? saved : 0;
	o->fn(o->ctx, ev);
	errno = saved;
}

/* The requests whose argument is a value, not a pointer (vfio_fops_unl_ioctl's). */
static bool value_arg(unsigned long request)
{
	return request == VFIO_CHECK_EXTENSION || request == VFIO_SET_IOMMU ||
	       request == VFIO_GET_API_VERSION;
}

size_t spapr__observe_copy(void *dst, const void *arg, size_t n, unsigned long request)
{
	size_t got = 0;

	if (!arg || value_arg(request))
		return 0;
	while (got < n) {
		size_t piece = 4096 - (((uintptr_t)arg + got) & 4095);

		if (piece > n - got)
			piece = n - got;
		if (spapr__copy_in((char *)dst + got, (const char *)arg + got, piece))
			break;
		got += piece;
	}
	return got;
}
