/* SPDX-License-Identifier: MIT */
/*
 * spapr/spapr_priv.h: the objects behind spapr/spapr.h.  For the .c files
 * of spapr/ only.
 *
 * The lock order is written once, on struct spapr_guest in
 * spapr/guest_priv.h (the guest's lock is the outermost); the container
 * locks are 3 to 7 there.  Functions whose comment says "under X" assert
 * it (util/lock.h).
 *
 * Windows are published in tc->windows[] with RCU: MAP and UNMAP find a
 * window in a read section and take a reference; TCE_REMOVE unpublishes,
 * waits for readers, then marks the window dead under its write_lock and
 * clears it, so a MAP that found it earlier fails with ENXIO instead of
 * writing into a removed window.
 */
#ifndef SPAPRTCE_SPAPR_PRIV_H
#define SPAPRTCE_SPAPR_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"
#include "tce/tce.h"
#include "spapr/ioctl.h"
#include "util/lock.h"
#include "util/u64map.h"

#define SPAPR_WINDOWS 2u
#define SPAPR_MAX_GROUPS 64u

/* ------------------------------------------------------------- platform */

/* What the platform reports about an IOMMU group (a PE); the kernel's table group. */
struct spapr_group_info {
	uint64_t tce32_start;		/* bytes */
	uint64_t tce32_size;		/* bytes */
	uint64_t pgsizes;		/* bit n: 2^n-byte IOMMU pages */
	uint32_t max_dynamic_windows_supported;
	uint32_t max_levels;
	uint64_t slot_start[SPAPR_WINDOWS];	/* bus address of each window slot */
	int node;			/* NUMA node for table memory */
};

/* A window as programmed into a group's window register (TVE). */
struct spapr_window_regs {
	uint64_t table_hpa;
	unsigned levels;
	uint64_t level_size;		/* entries per block */
	uint64_t size;			/* entries */
	unsigned page_shift;
	uint64_t bus_offset;		/* bytes */
};

/*
 * The platform operations, as the kernel's powernv code provides them.
 * group_info returns 0 or -ENODEV; set_window / unset_window 0 or a
 * negative errno; tce_kill never fails.
 */
struct spapr_platform_ops {
	int (*group_info)(int group, struct spapr_group_info *info);
	int (*set_window)(int group, unsigned slot, const struct spapr_window_regs *w);
	int (*unset_window)(int group, unsigned slot);
	void (*tce_kill)(int group, unsigned slot, uint64_t first_entry, uint64_t npages);
};

extern const struct spapr_platform_ops *spapr_platform;

/* -------------------------------------------------------------- objects */

enum spapr_kind {
	SPAPR_KIND_CONTAINER = 1,
	SPAPR_KIND_GROUP,
	SPAPR_KIND_DEVICE,	/* spapr/device*.c */
};

struct spapr_obj {
	enum spapr_kind kind;
	uint64_t refs;			/* atomic: the fd, plus requests in flight (not those holding a container's group_lock, fd.c) */
};

/* A kind's request entry point (fd.c's kinds[]): 0 or more, or a negative errno. */
typedef int spapr_obj_ioctl_fn(struct spapr_obj *obj, unsigned long request, void *arg);

struct spapr_container;

struct spapr_group {
	struct spapr_obj obj;
	int id;
	struct spapr_group_info info;
	struct spapr_container *container;	/* under spapr_vfio_lock; holds a reference */
};

struct spapr_window {
	uint64_t refs;			/* atomic: the slot, plus MAP/UNMAP in flight that did not trylock write_lock */
	struct spapr_tce_container *tc;
	struct tce_table *table;
	unsigned slot;
	uint64_t start;			/* bus address, bytes */
	uint64_t size;			/* bytes covered: it_size << page_shift */
	unsigned page_shift;
	unsigned levels;
	uint64_t charged;		/* pages charged to locked_vm */
	struct mmreg_mm *mm;		/* a reference: charged here, outlives tc */
	struct util_mutex write_lock;	/* 7 in the lock order (struct spapr_guest) */
	bool dead;			/* under write_lock: removed, accept no writes */
	bool unlinked;			/* under write_lock: unprogrammed from every group; kills reach no device */
};

/*
 * The driver instance (the kernel's struct tce_container), from SET_IOMMU to
 * release.  The release tears it down (windows, regions, v1 charge); the
 * memory goes with the last reference: the container's, plus one per guest
 * table attachment (guest_attach.c), whose hypercalls may still write a
 * removed window through it under quirks=kernel (Q15: the drops read v2,
 * mm and v1_pins).
 */
struct spapr_tce_container {
	uint64_t refs;			/* atomic */
	struct spapr_container *c;
	bool v2;
	unsigned ngroups;		/* groups attached to this instance, under group_lock (write) */
	struct util_mutex lock;		/* the driver's container mutex: 6 in the lock order */
	struct mmreg_mm *mm;		/* bound mm (a reference), or NULL; atomic */
	bool enabled;			/* atomic read by MAP/UNMAP */
	bool def_window_pending;	/* under lock */
	struct spapr_window *windows[SPAPR_WINDOWS];	/* RCU-published, written under lock */
	struct util_u64map prereg;	/* region pointer -> 1, under lock */
	uint64_t v1_locked_pages;	/* v1: charged at ENABLE */
	struct emu_pin **v1_pins;	/* v1: the pin of each entry of window 0, under its write_lock */
	uint64_t v1_npins;
};

struct spapr_container {
	struct spapr_obj obj;
	struct util_rwlock group_lock;	/* 5 in the lock order (struct spapr_guest) */
	struct spapr_group *groups[SPAPR_MAX_GROUPS];	/* under group_lock (write) */
	unsigned ngroups;
	int iommu_type;			/* 0 until SET_IOMMU */
	struct spapr_tce_container *tc;		/* under group_lock; NULL until SET_IOMMU */
};

/*
 * The container's group_lock, either side, which the kill callback needs
 * to walk its groups; a container without groups (its release) needs none.
 */
#define spapr_assert_groups_held(c)                                                            \
	((c)->ngroups ? util_rwlock_assert_held(&(c)->group_lock) : (void)0)

/* fd.c */
extern struct util_mutex spapr_vfio_lock;
int spapr__ret(int rc);
/* The object behind @fd with a reference, or NULL. */
struct spapr_obj *spapr__fd_get(int fd);
/* The same with the reason: 0, -EBADF, -EPERM (a handle inherited from the parent). */
int spapr__fd_get_rc(int fd, struct spapr_obj **out);

/* ------------------------------------------------- the observer (observe.c) */

extern const struct spapr_observer *spapr__observer;

/* The observer, or NULL: the one load a call pays when nobody observes. */
static inline const struct spapr_observer *spapr__observing(void)
{
	return __atomic_load_n(&spapr__observer, __ATOMIC_ACQUIRE);
}
/* Reports @ev (err taken from errno when result < 0); keeps errno. */
void spapr__observe(const struct spapr_observer *o, struct spapr_call_event *ev);
/* Copies up to @n bytes of ioctl argument @arg as far as readable; the bytes copied (0: a value argument). */
size_t spapr__observe_copy(void *dst, const void *arg, size_t n, unsigned long request);
/* SPAPRTCE_TRACE for callers of the fd API (record.c): starts the recorder once, when asked. */
void spapr__record_start(void);
void spapr__obj_put(struct spapr_obj *obj);

/* device*.c: the VFIO device fd (spapr/device_priv.h); spapr__fd_install is fd.c's. */
struct spapr_device;
int spapr__fd_install(struct spapr_obj *obj);
int spapr__device_get_fd(struct spapr_group *g, void *arg);
int spapr__device_ioctl(struct spapr_device *dev, unsigned long req, void *arg);
void spapr__device_release(struct spapr_device *dev);
bool spapr__device_group_busy(struct spapr_group *g);

/* uaccess.c: copies of caller memory that fail with -EFAULT like copy_from_user. */
int spapr__copy_in(void *dst, const void *user, uint64_t len);
int spapr__copy_out(void *user, const void *src, uint64_t len);

/* container.c */
int spapr__container_create(struct spapr_container **out);
void spapr__container_release(struct spapr_container *c);
spapr_obj_ioctl_fn spapr__container_ioctl;
bool spapr__container_hold(struct spapr_obj *obj, unsigned long request);
spapr_obj_ioctl_fn spapr__container_held_ioctl;
int spapr__container_attach(struct spapr_container *c, struct spapr_group *g);
void spapr__container_detach(struct spapr_container *c, struct spapr_group *g);

/* group.c */
int spapr__group_create(int id, struct spapr_group **out);
void spapr__group_release(struct spapr_group *g);
spapr_obj_ioctl_fn spapr__group_ioctl;

/* tce_container.c: the driver (tce_iommu_*) and its request table */
int spapr__tce_container_open(struct spapr_container *c, bool v2, struct spapr_tce_container **out);
void spapr__tce_container_release(struct spapr_tce_container *tc);
void spapr__tce_container_get(struct spapr_tce_container *tc);
void spapr__tce_container_put(struct spapr_tce_container *tc);
int spapr__tce_container_ioctl(struct spapr_tce_container *tc, unsigned long request, void *arg);
int spapr__tce_container_attach_group(struct spapr_tce_container *tc, struct spapr_group *g);
void spapr__tce_container_detach_group(struct spapr_tce_container *tc, struct spapr_group *g);
int spapr__tce_container_bind_mm(struct spapr_tce_container *tc);
bool spapr__tce_container_foreign(struct spapr_tce_container *tc);
const struct spapr_group_info *spapr__tce_container_info(struct spapr_tce_container *tc);

/* The driver's request handlers (rows of tce_container.c's table), named after their request. */
spapr_ioctl_fn spapr__ioctl_map_dma;		/* dma.c */
spapr_ioctl_fn spapr__ioctl_unmap_dma;
spapr_ioctl_fn spapr__ioctl_register_memory;	/* prereg.c */
spapr_ioctl_fn spapr__ioctl_unregister_memory;
spapr_ioctl_fn spapr__ioctl_tce_create;		/* window_req.c */
spapr_ioctl_fn spapr__ioctl_tce_remove;
spapr_ioctl_fn spapr__ioctl_enable;		/* v1.c */
spapr_ioctl_fn spapr__ioctl_disable;
spapr_ioctl_fn spapr__ioctl_eeh_pe_op;		/* eeh.c */
spapr_ioctl_fn spapr__eeh_before;

/* eeh.c: CHECK_EXTENSION(VFIO_EEH), 1 when the machine has EEH. */
int spapr__eeh_extension(void);

/* prereg.c */
void spapr__prereg_release_all(struct spapr_tce_container *tc);

/* v1.c */
void spapr__v1_disable(struct spapr_tce_container *tc);
int spapr__v1_map_pages(struct spapr_tce_container *tc, struct spapr_window *w, uint64_t first,
			uint64_t npages, uint64_t vaddr, enum tce_dir dir);

/* window.c */
int spapr__window_create(struct spapr_tce_container *tc, unsigned slot, unsigned page_shift,
			 uint64_t window_size, unsigned levels, struct spapr_window **out);
void spapr__window_remove(struct spapr_tce_container *tc, unsigned slot);
int spapr__window_program(struct spapr_window *w, struct spapr_group *g);
void spapr__window_unprogram(struct spapr_window *w, struct spapr_group *g);
int spapr__default_window(struct spapr_tce_container *tc);
struct spapr_window *spapr__window_find_get(struct spapr_tce_container *tc, uint64_t iova);
struct spapr_window *spapr__window_find_trylock(struct spapr_tce_container *tc, uint64_t iova, bool *busy);
void spapr__window_put(struct spapr_window *w);
void spapr__window_clear(struct spapr_window *w, uint64_t entry, uint64_t npages);

/*
 * drops.c: what cleared or replaced entries held (v2: regions' mapped
 * counts; v1: pins) is given back only after the kill (see drops.c).  Use
 * spapr__drops_old as the tce_old_fn of every operation on a window's table
 * (xchg, map, unmap, store, store_run), pass &drops.kill as the kill batch
 * where the operation takes one, and end with spapr__drops_flush().  Under
 * the window's write_lock.
 */
#define SPAPR_DROPS 256u

struct spapr_drops {
	struct spapr_window *w;
	/*
	 * The writer is a hypercall (KVM's kvmppc_tce_iommu_mapped_dec), not
	 * the driver (tce_iommu_clear): it matters only for the entries a
	 * hypercall mapped into a v1 window under quirks=kernel (Q17).
	 */
	bool kvm;
	struct tce_kill_batch kill;
	unsigned n;
	struct {
		struct mmreg_region *region;	/* v2 */
		struct emu_pin *pin;		/* v1 */
		uint64_t count;
	} v[SPAPR_DROPS];
};

void spapr__drops_init(struct spapr_drops *d, struct spapr_window *w);
void spapr__drops_old(void *ctx, const struct tce_old_run *run, size_t n);
void spapr__drops_flush(struct spapr_drops *d);

#endif
