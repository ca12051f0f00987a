/* SPDX-License-Identifier: MIT */
/*
 * spapr/spapr_priv.h: the objects behind spapr/spapr.h.  For the .c files
 * of spapr/ only.
 *
 * Objects and their locks, in lock order:
 *
 *   spapr_fd_lock (global mutex)  the fd table and the set of open groups.
 *   spapr_vfio_lock (global mutex)  group <-> container attachment: held
 *                                 across SET_CONTAINER / UNSET_CONTAINER
 *                                 and the last close of a group.
 *   container->group_lock (rwlock)  the VFIO core's lock: written to change
 *                                 the group list, the IOMMU type or the
 *                                 driver instance; read by every driver
 *                                 request, MAP and UNMAP included.  Under it
 *                                 the group list does not change, so kill
 *                                 callbacks walk it without a lock.
 *   tce->lock (mutex)             the driver's container mutex: REGISTER,
 *                                 UNREGISTER, TCE_CREATE, TCE_REMOVE,
 *                                 ENABLE, DISABLE, the default window.
 *                                 MAP and UNMAP do not take it.
 *   window->write_lock (mutex)    serialises the writers of one window's
 *                                 entries (MAP, UNMAP, the clear of REMOVE
 *                                 and release), so that entries are written
 *                                 with plain atomic stores instead of two
 *                                 locked exchanges per TCE; the hardware
 *                                 still never sees a torn entry.
 *   then mmreg's mm->lock, then emu's leaf locks.
 *
 * Windows are published in tce->windows[] with RCU: MAP and UNMAP find a
 * window in a read section and take a reference; TCE_REMOVE unpublishes,
 * waits for readers, then marks the window dead under its write_lock and
 * clears it, so a MAP that found it earlier fails with ENXIO instead of
 * writing into a removed window.
 */
#ifndef SPAPRTCE_SPAPR_PRIV_H
#define SPAPRTCE_SPAPR_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"
#include "tce/tce.h"
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
	uint64_t refs;			/* atomic: the fd, plus requests in flight */
};

struct spapr_container;

struct spapr_group {
	struct spapr_obj obj;
	int id;
	struct spapr_group_info info;
	struct spapr_container *container;	/* under spapr_vfio_lock; holds a reference */
};

struct spapr_window {
	uint64_t refs;			/* atomic: the slot, plus MAP/UNMAP in flight */
	struct spapr_tce *tce;
	struct tce_table *table;
	unsigned slot;
	uint64_t start;			/* bus address, bytes */
	uint64_t size;			/* bytes covered: it_size << page_shift */
	unsigned page_shift;
	unsigned levels;
	uint64_t charged;		/* pages charged to locked_vm */
	struct mmreg_mm *mm;		/* a reference: charged here, outlives tce */
	pthread_mutex_t write_lock;
	bool dead;			/* under write_lock: removed, accept no writes */
};

/* The driver instance (the kernel's struct tce_container), from SET_IOMMU to release. */
struct spapr_tce {
	struct spapr_container *c;
	bool v2;
	unsigned ngroups;		/* groups attached to this instance, under group_lock (write) */
	pthread_mutex_t lock;		/* the driver's container mutex */
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
	pthread_rwlock_t group_lock;
	struct spapr_group *groups[SPAPR_MAX_GROUPS];	/* under group_lock (write) */
	unsigned ngroups;
	int iommu_type;			/* 0 until SET_IOMMU */
	struct spapr_tce *tce;		/* under group_lock; NULL until SET_IOMMU */
};

/* fd.c */
extern pthread_mutex_t spapr_vfio_lock;
int spapr__ret(int rc);
/* The object behind @fd with a reference, or NULL. */
struct spapr_obj *spapr__fd_get(int fd);
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
int spapr__container_ioctl(struct spapr_container *c, unsigned long req, void *arg);
int spapr__container_attach(struct spapr_container *c, struct spapr_group *g);
void spapr__container_detach(struct spapr_container *c, struct spapr_group *g);

/* group.c */
int spapr__group_create(int id, struct spapr_group **out);
void spapr__group_release(struct spapr_group *g);
int spapr__group_ioctl(struct spapr_group *g, unsigned long req, void *arg);

/* tce.c: the driver (tce_iommu_*) */
int spapr__tce_open(struct spapr_container *c, bool v2, struct spapr_tce **out);
void spapr__tce_release(struct spapr_tce *tce);
int spapr__tce_ioctl(struct spapr_tce *tce, unsigned long req, void *arg);
int spapr__tce_attach_group(struct spapr_tce *tce, struct spapr_group *g);
void spapr__tce_detach_group(struct spapr_tce *tce, struct spapr_group *g);
int spapr__tce_bind_mm(struct spapr_tce *tce);
bool spapr__tce_foreign(struct spapr_tce *tce);

/* prereg.c */
int spapr__register_memory(struct spapr_tce *tce, void *arg);
int spapr__unregister_memory(struct spapr_tce *tce, void *arg);
void spapr__prereg_release_all(struct spapr_tce *tce);

/* window.c */
int spapr__window_create(struct spapr_tce *tce, unsigned slot, unsigned page_shift,
			 uint64_t window_size, unsigned levels, struct spapr_window **out);
void spapr__window_remove(struct spapr_tce *tce, unsigned slot);
int spapr__window_program(struct spapr_window *w, struct spapr_group *g);
void spapr__window_unprogram(struct spapr_window *w, struct spapr_group *g);
int spapr__default_window(struct spapr_tce *tce);
struct spapr_window *spapr__window_find_get(struct spapr_tce *tce, uint64_t iova);
void spapr__window_put(struct spapr_window *w);
void spapr__window_clear(struct spapr_window *w, uint64_t entry, uint64_t npages);

/*
 * drops.c: what cleared or replaced entries held (v2: regions' mapped
 * counts; v1: pins) is given back only after the kill (see drops.c).  Use
 * spapr__drops_old as the tce_old_fn of every map and unmap of a window's
 * table, pass &drops.kill as the kill batch, and end with
 * spapr__drops_flush().  Under the window's write_lock.
 */
#define SPAPR_DROPS 256u

struct spapr_drops {
	struct spapr_window *w;
	struct tce_kill_batch kill;
	unsigned n;
	struct {
		struct mmreg_region *region;	/* v2 */
		struct emu_pin *pin;		/* v1 */
		uint64_t count;
	} v[SPAPR_DROPS];
};

void spapr__drops_init(struct spapr_drops *d, struct spapr_window *w);
void spapr__drops_old(void *ctx, const struct tce_old *old, size_t n);
/*
 * Old shadow entries of tce_table_store (big-endian, 0: none); the caller
 * kills them.  This and the next: in the mmreg read section.
 */
void spapr__drops_uas(struct spapr_drops *d, const uint64_t *old_be, size_t n);
/* @n old entries of consecutive pages from @ua (tce_table_store_run's old_ua). */
void spapr__drops_ua_run(struct spapr_drops *d, uint64_t ua, uint64_t n);
void spapr__drops_flush(struct spapr_drops *d);
int spapr__tce_create(struct spapr_tce *tce, void *arg);
int spapr__tce_remove(struct spapr_tce *tce, void *arg);
int spapr__get_info(struct spapr_tce *tce, void *arg);

/* dma.c */
int spapr__map_dma(struct spapr_tce *tce, void *arg);
int spapr__unmap_dma(struct spapr_tce *tce, void *arg);
int spapr__v1_enable(struct spapr_tce *tce);
int spapr__v1_disable(struct spapr_tce *tce);


/* ------------------------------------------- hcall*.c: the guest path */

/*
 * Locks of the guest path, in order, before every container lock:
 *   guest->lock (rwlock)   written by memslot, table create/destroy,
 *                          attach/detach; read by every hypercall.
 *   table->lock (mutex)    serialises the hypercalls of one LIOBN that
 *                          has no attachment.  With attachments, which
 *                          do not change under guest->lock, their
 *                          windows' write_locks serialise them (every
 *                          hypercall on the table takes them all), and
 *                          table->lock is not taken: one lock pair less
 *                          per call (spapr__hcall_lock).
 * Then every distinct container's group_lock (read), in ascending address
 * order, then every distinct window's write_lock, in ascending address order
 * (att[] is kept sorted), then the mmreg read section.
 */
#define SPAPR_HCALL_MAX_ATTACH 8u
#define SPAPR_HCALL_TCES_PER_PAGE (EMU_PAGE_SIZE / 8)

struct spapr_hcall_attach {
	struct spapr_window *w;		/* a reference */
	struct spapr_container *c;	/* a reference on the container object */
	int group;			/* IOMMU group id */
};

struct spapr_hcall_table {
	uint64_t liobn;
	unsigned page_shift;		/* guest IOMMU page shift */
	uint64_t offset, size;		/* guest entries */
	uint64_t **pages;		/* npages page pointers; each NULL until needed, atomic */
	uint64_t npages;
	uint64_t charged;		/* pages charged to the guest's mm */
	pthread_mutex_t lock;
	unsigned natt;
	struct spapr_hcall_attach att[SPAPR_HCALL_MAX_ATTACH];	/* sorted by w */
};

struct spapr_guest_memslot {
	uint64_t gpa, size, ua;		/* size 0: unused */
};

struct spapr_guest {
	pthread_rwlock_t lock;
	struct mmreg_mm *mm;		/* a reference */
	struct spapr_guest_memslot slots[SPAPR_GUEST_MEMSLOTS];
	struct util_u64map tables;	/* liobn -> struct spapr_hcall_table * */
	/*
	 * The memslots the last hypercall found its TCEs' pages and its
	 * INDIRECT list in, where the next one looks first.  Only hints:
	 * hypercalls under the lock for reading read and write them with
	 * relaxed atomics, and any value will do.
	 */
	unsigned slot_hint, list_slot_hint;
};

/* hcall.c */
/* Pages charged for a guest table of @npages pages of entries (KVM's kvmppc_stt_pages). */
uint64_t spapr__hcall_table_charge(uint64_t npages);
struct spapr_hcall_table *spapr__hcall_table_find(struct spapr_guest *guest, uint64_t liobn);
/* ua of guest physical [gpa, gpa + len) inside one memslot; *hint caches the slot. */
int spapr__hcall_gpa_to_ua(const struct spapr_guest *guest, uint64_t gpa, uint64_t len,
			   uint64_t *ua, unsigned *hint);

/* hcall_attach.c */
void spapr__hcall_detach_all(struct spapr_hcall_table *t);

/* hcall_lock.c: the locks of a hypercall on one table (see the order above). */
struct spapr_hcall_locked {
	struct spapr_hcall_table *tlock;	/* whose lock is held: a table without attachments */
	unsigned n;				/* distinct windows */
	struct spapr_window *w[SPAPR_HCALL_MAX_ATTACH];
	bool live[SPAPR_HCALL_MAX_ATTACH];	/* not removed: may be written */
	unsigned nc;
	struct spapr_container *c[SPAPR_HCALL_MAX_ATTACH];
};
void spapr__hcall_lock(struct spapr_hcall_table *t, struct spapr_hcall_locked *l);
void spapr__hcall_unlock(struct spapr_hcall_locked *l);

#endif
