/* SPDX-License-Identifier: MIT */
/*
 * spapr/ioctl.h: request dispatch by table, for the .c files of spapr/.
 *
 * Concepts
 *   row      One request a kind of fd accepts (struct spapr_ioctl_op): its
 *            number, how much of its struct the caller must provide (the
 *            kernel's minsz, offsetofend of the last mandatory field), which
 *            flags it allows, which objects accept it (a container's IOMMU
 *            type, a group, ...), an optional check that the kernel makes
 *            before copying the struct in, and its handler.
 *   table    The rows of one kind of fd (or of one layer of it: a
 *            container's VFIO-core requests, its driver's requests).  A new
 *            request, or a new kind of fd, is new rows and one call of
 *            spapr__ioctl_dispatch; nothing else changes.
 *   request  struct spapr_ioctl_req: what a handler gets.  The object the
 *            table is about, the caller's argument as passed, the struct
 *            copied in (min_size bytes, the rest zero unless the row says
 *            SPAPR_IOCTL_NO_TAIL), its argsz.
 *
 * The checks run once, here, in the kernel's order for every VFIO request:
 * the row's `before` check, the copy-in (EFAULT), argsz < min_size
 * (EINVAL, rows with SPAPR_IOCTL_ARGSZ), flags outside flags_ok (EINVAL,
 * rows with SPAPR_IOCTL_FLAGS), then the handler.  A request without a row,
 * or whose row does not accept the object, is ENOTTY.  Everything returns 0
 * (or a positive value) or a negative errno; spapr_ioctl turns it into -1
 * and errno once, at the public boundary (fd.c).
 *
 * The idea is iommufd's (drivers/iommu/iommufd/main.c: the IOCTL_OP rows of
 * iommufd_ioctl_ops, with the size and min_size of each command's struct,
 * and iommufd_fops_ioctl, which checks and copies once before the command's
 * execute function).  VFIO's own requests are not extensible the way
 * iommufd's are: the struct is copied up to min_size only and argsz is only
 * checked against it, as vfio_iommu_spapr_tce.c does.
 */
#ifndef SPAPRTCE_SPAPR_IOCTL_H
#define SPAPRTCE_SPAPR_IOCTL_H

#include <stddef.h>
#include <stdint.h>

/* Who accepts a row (struct spapr_ioctl_op.accept): bits. */
#define SPAPR_ON_CONTAINER 0x1u		/* a container, whatever its driver (the VFIO core) */
#define SPAPR_ON_V1 0x2u		/* a container whose driver is sPAPR TCE v1 (type 2) */
#define SPAPR_ON_V2 0x4u		/* a container whose driver is sPAPR TCE v2 (type 7) */
#define SPAPR_ON_GROUP 0x8u		/* a group fd */
#define SPAPR_ON_DEVICE 0x10u		/* a device fd */

/* Checks of the struct (struct spapr_ioctl_op.checks): bits. */
#define SPAPR_IOCTL_ARGSZ 0x1u		/* begins with u32 argsz: argsz >= min_size */
#define SPAPR_IOCTL_FLAGS 0x2u		/* then u32 flags: none outside flags_ok */
/*
 * The handler reads the struct up to min_size only and sends nothing back
 * (MAP_DMA, UNMAP_DMA): the buffer beyond min_size is not zeroed.
 */
#define SPAPR_IOCTL_NO_TAIL 0x4u

/* The largest struct a row may copy in. */
#define SPAPR_IOCTL_BUF_MAX 256u

struct spapr_ioctl_req {
	void *obj;			/* what the table is about (the dispatcher's @obj) */
	void *arg;			/* the caller's argument: a pointer, or a value */
	void *buf;			/* min_size bytes copied from arg, zero beyond; NULL if none */
	uint32_t argsz;			/* rows with SPAPR_IOCTL_ARGSZ: the caller's */
};

typedef int spapr_ioctl_fn(struct spapr_ioctl_req *rq);

struct spapr_ioctl_op {
	unsigned long request;		/* the <linux/vfio.h> number */
	uint32_t min_size;		/* bytes copied in; 0: @arg is a value or unused */
	uint32_t flags_ok;		/* with SPAPR_IOCTL_FLAGS */
	unsigned checks;		/* SPAPR_IOCTL_* */
	unsigned accept;		/* SPAPR_ON_* */
	spapr_ioctl_fn *before;		/* checks the kernel makes before the copy-in, or NULL */
	spapr_ioctl_fn *handler;
};

#define SPAPR_OFFSETOFEND(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* min_size of a request struct: up to @last; the struct must fit the buffer (else a build error). */
#define SPAPR_IOCTL_MINSZ(type, last)                                                          \
	((uint32_t)(SPAPR_OFFSETOFEND(type, last) +                                            \
		    0 * sizeof(char[sizeof(type) <= SPAPR_IOCTL_BUF_MAX ? 1 : -1])))

#define SPAPR_IOCTL_TABLE(ops) (ops), (sizeof(ops) / sizeof((ops)[0]))

/* The row of @request in @ops, or NULL. */
const struct spapr_ioctl_op *spapr__ioctl_find(const struct spapr_ioctl_op *ops, size_t n,
					       unsigned long request);
/* Runs @op on @obj: the checks above, then the handler. */
int spapr__ioctl_run(const struct spapr_ioctl_op *op, void *obj, void *arg);
/* Finds and runs: -ENOTTY without a row, or when the row does not accept @on. */
int spapr__ioctl_dispatch(const struct spapr_ioctl_op *ops, size_t n, unsigned on,
			  unsigned long request, void *obj, void *arg);

#endif
