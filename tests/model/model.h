/* SPDX-License-Identifier: MIT */
/*
 * tests/model/model.h: a reference model of the observable behaviour of the
 * emulated VFIO sPAPR TCE v2 container, for differential fuzzing.
 *
 * Concepts
 *   The model is written from docs/kernel.md (with the quirk answers of
 *   docs/quirks.md) and docs/spapr.md + errors.md,
 *   as plainly as possible: fixed arrays, linear scans, one sorted array of
 *   mapped entries per window.  It shares no code with mmreg/, tce/ or
 *   spapr/ and includes none of their headers.
 *
 *   mem        A piece of process memory the harness created (mmap), with a
 *              protection per system page (rw, ro, none, unmapped).  Memory
 *              outside every mem counts as unmapped.
 *   region     A preregistered range of the process (one mm): ua, entries,
 *              used (containers holding it).  Its mapped count is not
 *              stored: it is the number of live entries of every window of
 *              every container that point into it (computed by a scan).
 *   container  A VFIO container: fd open or not, the groups attached, and
 *              the driver instance (after SET_IOMMU): bound, enabled,
 *              default window pending, two window slots, held regions.
 *   window     Slot 0 at bus address 0, slot 1 at 1 << 59: page shift,
 *              it_size entries (max(W >> p, 512), Q9), the pages
 *              charged (docs/tce.md, "Geometry", with s = 12), and the mapped entries.
 *   group      IOMMU group 0 ... MODEL_GROUPS-1: open or not, attached to
 *              a container or not.  A device of the group sees the windows
 *              of its container's driver instance.
 *
 * Every request returns a struct model_res: ret (what the call returns: 0,
 * a positive value, or -1) and err (the errno when ret is -1, else 0).
 * DMA is the exception, as emu_dma_read/write return a negative errno:
 * model_dma returns that value directly.
 *
 * Units: addresses and sizes in bytes; locked_vm and region entries in
 * system pages of 4 KiB (MODEL_PAGE_SHIFT).
 *
 * v1 containers (type 2): one group, ENABLE/DISABLE, only the default
 * window, MAP pins each page (writable memory only, as emu_mem_pin) and
 * UNMAP or release unpins; no mapped counts.
 *
 * quirks=kernel (m->kernel, docs/quirks.md): the kernel's answers where
 * the harness can reach them: Q1 (+1 for a misaligned iova), Q2 (only the
 * first entry checked; pages past the window checked but not written),
 * Q3 (UNREGISTER of a mapped region: 0 and an orphan), Q5 (a partial pin
 * count as REGISTER's result), Q10 (a group leaving clears every window),
 * Q12 (the hypercalls in KVM's order, model.c, "Q12": TCE by TCE,
 * a failure leaving the TCEs before it applied, INDIRECT mapping
 * permission-less TCEs with counts no clear gives back), Q13 (size 0:
 * ENOMEM).  The others need fault injection, races or huge pages, which
 * the harness does not use.
 *
 * Not modelled (the harness does not issue them): requests of a second
 * process on an unbound container, fault
 * injection, hugetlb-backed regions (every region's pageshift is 12).  The hypercall
 * path (docs/hcall.md) is at the end.
 */
#ifndef SPAPRTCE_TESTS_MODEL_H
#define SPAPRTCE_TESTS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_PAGE_SHIFT 12u
#define MODEL_PAGE_SIZE (1ull << MODEL_PAGE_SHIFT)
#define MODEL_GROUPS 4		/* the default machine: IOMMU groups 0 ... 3 */
#define MODEL_CONTAINERS 16	/* container objects alive at once */
#define MODEL_REGIONS 64
#define MODEL_MEMS 4
#define MODEL_SLOTS 2
#define MODEL_SLOT1_START (1ull << 59)
#define MODEL_TCE32_SIZE (2ull << 30)
#define MODEL_PGSIZES ((1ull << 12) | (1ull << 16) | (1ull << 21) | (1ull << 30))

enum model_prot { MODEL_UNMAPPED = 0, MODEL_NONE, MODEL_RO, MODEL_RW };

/* Permission bits of an entry (TCE_PCI_READ, TCE_PCI_WRITE): the device may read / write memory. */
#define MODEL_READ 0x1u
#define MODEL_WRITE 0x2u

struct model_res {
	long ret;
	int err;
};

struct model_entry {
	uint64_t entry;		/* absolute TCE number: bus address >> page shift */
	uint64_t ua;		/* user address of the IOMMU page */
	unsigned perm;		/* MODEL_READ, or MODEL_READ | MODEL_WRITE; 0: Q12's entry (kernel mode) */
	bool kvm;		/* Q17, quirks=kernel: a hypercall mapped it into a v1 window */
};

struct model_window {
	bool present;
	unsigned page_shift;
	uint64_t start;		/* bus address */
	uint64_t it_size;	/* entries */
	uint64_t charged;	/* pages of locked_vm */
	uint64_t gen;		/* unique per window created (guest attachments name it) */
	struct model_entry *e;	/* sorted by entry */
	size_t n, cap;
	/* quirks=kernel, Q12: which leaf blocks of a multi-level table exist (model.c, "Q12") */
	unsigned levels, leaf_bits;	/* log2 of a leaf block's entries */
	uint64_t *leaves;		/* leaf block indexes ever written, unsorted */
	size_t nleaves, capleaves;
};

struct model_region {
	bool live;
	uint64_t ua;
	uint64_t entries;
	unsigned used;
	uint64_t leaked;	/* quirks=kernel: mapped counts no entry holds (Q12, Q15, Q17) */
};

struct model_container {
	bool exists;		/* fd open, or a group still attached */
	bool fd_open;
	unsigned ngroups;
	int type;		/* 0 before SET_IOMMU (no driver instance), 2 (v1), 7 (v2) */
	bool bound;		/* the instance is bound to the process's mm */
	bool enabled;		/* v2: a REGISTER succeeded; v1: ENABLE */
	uint64_t v1_locked;	/* v1: pages charged by ENABLE */
	bool pending;		/* default window pending */
	struct model_window win[MODEL_SLOTS];
	bool held[MODEL_REGIONS];	/* regions this instance holds a unit of used on */
};

struct model_group {
	bool open;
	int container;		/* index, or -1 */
};

struct model_mem {
	bool exists;
	uint64_t base, size;
	unsigned char *prot;	/* enum model_prot per system page */
};

/* ------------------------------------------------- the guest hypercall path */

#define MODEL_H_SUCCESS 0
#define MODEL_H_PARAMETER (-4)
#define MODEL_H_TOO_HARD 9999
#define MODEL_GSLOTS 32u	/* memory slots of a guest */
#define MODEL_GTABLES 8	/* guest TCE tables alive at once (the harness stays below) */
#define MODEL_GATT 8		/* attachments per table */
#define MODEL_LIST_MAX 512u	/* H_PUT_TCE_INDIRECT */
#define MODEL_DEAD 32		/* removed windows still attached */

struct model_gslot {
	uint64_t gpa, size, ua;	/* size 0: unused */
};

/* A group's window bound to a guest table: the window is m->c[c].win[slot]
 * while its gen matches, else dead (removed and uncharged; dead[] counts them). */
struct model_gatt {
	int group, c;
	unsigned slot;
	uint64_t gen;
	unsigned shift;		/* the window's page shift (it is looked at even when dead) */
	bool v1;		/* the window of a v1 container */
	unsigned refs;		/* attaches of the group less its detaches */
	uint64_t seq;		/* Q12: when its window joined the table (KVM's list order) */
};

struct model_gtce {
	uint64_t idx;		/* entry - offset */
	uint64_t val;		/* never 0 (absent entries read 0) */
};

struct model_gtable {
	bool live;
	uint64_t liobn;
	unsigned shift;
	uint64_t offset, size;	/* guest entries */
	uint64_t charged;	/* pages */
	unsigned natt;
	uint64_t seq;		/* Q12: the last seq given to a window joining */
	struct model_gatt att[MODEL_GATT];
	struct model_gtce *e;	/* unsorted */
	size_t n, cap;
};

struct model_dead {
	uint64_t gen, charged;	/* gen 0: unused */
	/* Q15, quirks=kernel: hypercalls still write the removed window (emptied at its removal). */
	struct model_window win;
	bool v1;
};

struct model_guest {
	bool exists;
	uint64_t stt_header;	/* bytes of a table's descriptor header (an implementation constant) */
	struct model_gslot slot[MODEL_GSLOTS];
	struct model_gtable t[MODEL_GTABLES];
	struct model_dead dead[MODEL_DEAD];
};

struct model {
	bool kernel;		/* the machine's quirks=kernel (docs/quirks.md); set after model_init */
	struct model_guest guest;	/* one guest at most */
	uint64_t locked_vm;	/* pages */
	uint64_t limit_pages;	/* RLIMIT_MEMLOCK / 4 KiB */
	bool cap_ipc_lock;
	struct model_mem mem[MODEL_MEMS];
	struct model_region reg[MODEL_REGIONS];
	struct model_container c[MODEL_CONTAINERS];
	struct model_group g[MODEL_GROUPS];
};

/* ---------------------------------------------------------------- state */

void model_init(struct model *m);
/* Frees the model's memory (not the harness's mems). */
void model_fini(struct model *m);
/* True when nothing is open, registered, charged. */
bool model_is_clean(const struct model *m);
/*
 * quirks=kernel: the regions nobody holds (Q3's orphans) stay registered
 * for the life of the process.  Forgets region @r as process exit would
 * (uncharged, unpinned); the harness does the same to the library to start
 * the next input clean.  Returns the index of the next orphan from @r, or -1.
 */
int model_next_orphan(const struct model *m, int r);
void model_reap_orphan(struct model *m, int r);

/* spapr_mm_set_memlock: EINVAL if cap is not 0 or 1. */
struct model_res model_memlock(struct model *m, uint64_t limit_bytes, int cap);
uint64_t model_locked_vm(const struct model *m);
/* Frames pinned: the pages of every live region, and those v1 entries map. */
uint64_t model_pinned(const struct model *m);

/* Process memory the harness maps, protects and unmaps. */
void model_mem_add(struct model *m, unsigned idx, uint64_t base, uint64_t size);
void model_mem_remove(struct model *m, unsigned idx);
void model_mem_protect(struct model *m, uint64_t ua, uint64_t size, enum model_prot prot);

/* ----------------------------------------------------- fds and groups */

/* A new container; returns its index in m->c (or -1 when the model is full). */
int model_open_container(struct model *m);
/* Group open: ENOENT (no such group), EBUSY (open already). */
struct model_res model_open_group(struct model *m, int id);
struct model_res model_close_container(struct model *m, int c);
struct model_res model_close_group(struct model *m, int id);

/* What the SET_CONTAINER argument names. */
enum model_fdkind { MODEL_FD_CONTAINER, MODEL_FD_GROUP, MODEL_FD_NEGATIVE, MODEL_FD_NOT_OURS };
struct model_res model_set_container(struct model *m, int id, enum model_fdkind kind, int c);
struct model_res model_unset_container(struct model *m, int id);

/* True when releasing container @c's driver instance now would leave a region
 * registered with no owner (its last owner is @c and another container's
 * TCEs still point into it): the kernel's EBUSY-at-release leak (tce_iommu_release). */
bool model_release_would_orphan(const struct model *m, int c);
/* True when releasing container @c would happen on closing its fd / group @id. */
bool model_close_container_releases(const struct model *m, int c);
bool model_detach_releases(const struct model *m, int id);

/* --------------------------------------------------- container requests */

struct model_res model_set_iommu(struct model *m, int c, unsigned long type);
struct model_res model_check_extension(const struct model *m, int c, unsigned long ext);

struct model_info {
	uint32_t flags, start, size;
	uint64_t pgsizes;
	uint32_t max_windows, levels;
};
struct model_res model_get_info(const struct model *m, int c, uint32_t argsz,
				struct model_info *out);

struct model_res model_register(struct model *m, int c, uint32_t argsz, uint32_t flags,
				uint64_t vaddr, uint64_t size);
struct model_res model_unregister(struct model *m, int c, uint32_t argsz, uint32_t flags,
				  uint64_t vaddr, uint64_t size);
struct model_res model_map(struct model *m, int c, uint32_t argsz, uint32_t flags,
			   uint64_t vaddr, uint64_t iova, uint64_t size);
struct model_res model_unmap(struct model *m, int c, uint32_t argsz, uint32_t flags,
			     uint64_t iova, uint64_t size);
/* TCE_CREATE: *start set on success. */
struct model_res model_create(struct model *m, int c, uint32_t argsz, uint32_t flags,
			      uint32_t page_shift, uint64_t window_size, uint32_t levels,
			      uint64_t *start);
struct model_res model_remove(struct model *m, int c, uint32_t argsz, uint32_t flags,
			      uint64_t start);

/*
 * Container request @req (a VFIO_* number) with a NULL argument: the copy
 * of the struct fails (EFAULT) after the checks that precede it (no
 * driver: EINVAL; UNREGISTER never bound, MAP/UNMAP not enabled: EPERM;
 * REGISTER, TCE_CREATE, TCE_REMOVE bind the mm first).  Any other request
 * number: EINVAL without a driver, else ENOTTY.
 */
struct model_res model_null_arg(struct model *m, int c, unsigned long req);

/* VFIO_IOMMU_ENABLE / DISABLE (v1 only: ENABLE charges the 32-bit window,
 * EBUSY when enabled; DISABLE uncharges, never fails; v2: ENOTTY). */
struct model_res model_enable(struct model *m, int c);
struct model_res model_disable(struct model *m, int c);

/*
 * Container request @req made from another process (a forked child) on
 * container @c: EPERM once the container is bound, before dispatch, except
 * CHECK_EXTENSION (@ext: 1 for types 2 and 7, else 0) and, without a
 * driver, the VFIO core's EINVAL.  Returns ret -2 when the model cannot
 * say (an unbound driver: the child's request would run normally on the
 * child's copy).
 */
struct model_res model_foreign(const struct model *m, int c, unsigned long req, unsigned long ext);

/* ---------------------------------------------------------- the device */

/*
 * What emu_dma_read/write(@id, @iova, buf, @len) returns: 0, -EFAULT (no
 * window, no translation), -EACCES (permission), -ENODEV (no such group),
 * -EINVAL (iova + len beyond 2^64).  Pages in order; the first failing
 * page gives the result.
 */
int model_dma(const struct model *m, int id, uint64_t iova, uint64_t len, bool write);
/* Translation of one bus address for group @id: 0 with *ua (of the byte)
 * and *perm, or -EFAULT. */
int model_translate(const struct model *m, int id, uint64_t iova, uint64_t *ua, unsigned *perm);

/* ----------------------------------------------------------- helpers */

/* docs/tce.md's charged size (s = 12): pages charged for a table; 0 or -EINVAL (geometry). */
int model_table_pages(unsigned page_shift, uint64_t window_size, unsigned levels,
		      uint64_t *pages);
/* Number of live TCEs that point into region @r (its mapped - 1). */
uint64_t model_region_mapped(const struct model *m, int r);
/* Total entries mapped in every window of every container. */
uint64_t model_total_mapped(const struct model *m);

/* ------------------------------------------------- the guest hypercall path */

/*
 * docs/hcall.md.  One guest: model_guest_create (with the size of the
 * library's table header, which KVM's kvmppc_stt_pages charges too),
 * destroy, memslots, tables by LIOBN, attachments of a group's window.
 * For attach/detach @id is the group, or -1 for an fd that is not open
 * (EBADF), -2 for an open fd that is not a group (EINVAL).  The hypercalls
 * return MODEL_H_* codes; INDIRECT reads the list from process memory
 * (big-endian values) at the memslot translation of @list.
 */
struct model_res model_guest_create(struct model *m, uint64_t stt_header);
void model_guest_destroy(struct model *m);
struct model_res model_guest_set_memslot(struct model *m, unsigned slot, uint64_t gpa,
					 uint64_t size, uint64_t ua);
struct model_res model_guest_create_table(struct model *m, uint64_t liobn, unsigned shift,
					  uint64_t offset, uint64_t size);
struct model_res model_guest_destroy_table(struct model *m, uint64_t liobn);
struct model_res model_guest_attach(struct model *m, uint64_t liobn, int id);
struct model_res model_guest_detach(struct model *m, uint64_t liobn, int id);
long model_h_put_tce(struct model *m, uint64_t liobn, uint64_t ioba, uint64_t tce);
long model_h_put_tce_indirect(struct model *m, uint64_t liobn, uint64_t ioba, uint64_t list,
			      uint64_t npages);
long model_h_stuff_tce(struct model *m, uint64_t liobn, uint64_t ioba, uint64_t value,
		       uint64_t npages);
long model_h_get_tce(const struct model *m, uint64_t liobn, uint64_t ioba, uint64_t *out);
/* The table of @liobn or NULL. */
const struct model_gtable *model_guest_table(const struct model *m, uint64_t liobn);
/* The live window of attachment @a, or NULL when dead. */
const struct model_window *model_gatt_window(const struct model *m, const struct model_gatt *a);
/* True when two distinct tables write one live window (spapr_guest_check
 * then legitimately sees the other table's entries). */
bool model_guest_windows_shared(const struct model *m);
/* What spapr_guest_check's last invariant says, on the model: every stored
 * non-zero guest TCE agrees with every live attached window. */
bool model_guest_consistent(const struct model *m);

#endif
