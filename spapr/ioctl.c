/* SPDX-License-Identifier: MIT */
/*
 * The request dispatcher: one row per request, the copy-in and the argsz
 * and flags checks done here once (spapr/ioctl.h says why and in which
 * order).  The tables themselves live with the objects they are about:
 * container.c (the VFIO core's container requests), tce_container.c (the
 * driver's), group.c (the group's).
 *
 * The buffer is on the stack and zeroed beyond what is copied in, so a
 * handler that fills an output struct (GET_INFO, GET_STATUS) never sends
 * back stack garbage; rows whose handler uses nothing beyond min_size
 * (SPAPR_IOCTL_NO_TAIL: MAP_DMA, UNMAP_DMA) skip that.
 */
#include <errno.h>
#include <string.h>

#include "spapr/spapr_priv.h"

const struct spapr_ioctl_op *spapr__ioctl_find(const struct spapr_ioctl_op *ops, size_t n,
					       unsigned long request)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].request == request)
			return &ops[i];
	return NULL;
}

/*
 * Zeroes what the copy-in will not fill, by a call to libc's memset (its
 * vector stores).  Through a volatile pointer, so that the compiler cannot
 * expand it inline: it makes a bounded memset `rep stos`, whose start-up
 * alone cost a sixth of a one-page MAP_DMA.
 */
static void *(*volatile buf_zero_fn)(void *, int, size_t) = memset;

static void buf_zero(void *p, size_t n)
{
	buf_zero_fn(p, 0, n);
}

int spapr__ioctl_run(const struct spapr_ioctl_op *op, void *obj, void *arg)
{
	unsigned char buf[SPAPR_IOCTL_BUF_MAX] __attribute__((aligned(8)));
	struct spapr_ioctl_req rq = { .obj = obj, .arg = arg };
	uint32_t head[2];	/* argsz, flags */
	int rc;

	if (op->before) {
		rc = op->before(&rq);
		if (rc)
			return rc;
	}
	if (op->min_size) {
		if (!(op->checks & SPAPR_IOCTL_NO_TAIL))
			buf_zero(buf + op->min_size, sizeof(buf) - op->min_size);
		else if (op->min_size < sizeof(head))
			buf_zero(buf + op->min_size, sizeof(head) - op->min_size);	/* head is read whole */
		rc = spapr__copy_in(buf, arg, op->min_size);
		if (rc)
			return rc;
		rq.buf = buf;
		memcpy(head, buf, sizeof(head));	/* zero beyond min_size */
		if (op->checks & SPAPR_IOCTL_ARGSZ) {
			rq.argsz = head[0];
			if (rq.argsz < op->min_size)
				return -EINVAL;
		}
		if ((op->checks & SPAPR_IOCTL_FLAGS) && (head[1] & ~op->flags_ok))
			return -EINVAL;
	}
	return op->handler(&rq);
}

int spapr__ioctl_dispatch(const struct spapr_ioctl_op *ops, size_t n, unsigned on,
			  unsigned long request, void *obj, void *arg)
{
	const struct spapr_ioctl_op *op = spapr__ioctl_find(ops, n, request);

	if (!op || !(op->accept & on))
		return -ENOTTY;
	return spapr__ioctl_run(op, obj, arg);
}
