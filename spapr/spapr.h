/* SPDX-License-Identifier: MIT */
/*
 * spapr/spapr.h: the public face of spapr-tce, the emulated /dev/vfio.
 *
 * Concepts
 *   container  What open("/dev/vfio/vfio") gives: a VFIO container, which
 *              becomes an sPAPR TCE IOMMU (v1, type 2, or v2, type 7) with
 *              VFIO_SET_IOMMU once a group is attached.  A v2 container
 *              holds references on preregistered regions of its process's mm
 *              (REGISTER_MEMORY), up to two DMA windows (slot 0 at bus address
 *              0, the lazily created 32-bit default window or a TCE_CREATE'd
 *              one; slot 1 at 1 << 59), and maps user memory into them
 *              (MAP_DMA) only within registered regions.
 *   group      What open("/dev/vfio/<n>") gives: an IOMMU group of the
 *              emulated machine (a partitionable endpoint of the host bridge).
 *              Every window of a container is programmed into every group
 *              attached to it; devices of the group DMA through them
 *              (emu/emu.h).
 *   mm         The process's preregistration registry and locked_vm
 *              (mmreg/): locked_vm is charged against an emulated
 *              RLIMIT_MEMLOCK unless the process has the emulated
 *              CAP_IPC_LOCK; both default to the real process's values.  A
 *              container is bound to the first process that registers
 *              memory, creates or removes a window, or enables it (v1).
 *              From any other process (a forked child included) every
 *              request that reaches the sPAPR driver fails with EPERM,
 *              before its own checks.  GET_API_VERSION, CHECK_EXTENSION and
 *              SET_IOMMU are the VFIO core's and have no such check; nor
 *              have group requests.
 *
 * One process, one copy (a limit of the emulation): in the kernel a
 * container fd inherited over fork(), or passed over a UNIX socket
 * (SCM_RIGHTS), is one open file, one container, whichever process uses it;
 * the first binding request of any of them binds it and the others then
 * get EPERM.  Here a handle's state lives in the process's memory:
 *   - fork() of a bound container: the child's requests get EPERM, as in
 *     the kernel;
 *   - fork() of a container not bound yet: each process has its own copy
 *     (groups, windows, regions, mappings, and the emulated machine), binds
 *     it on its own and never sees the other's requests, so neither gets
 *     the EPERM the kernel would give the later one;
 *   - a descriptor received over a socket is a plain eventfd in the
 *     receiving process: spapr_ioctl() answers EBADF (the drop-in layer
 *     passes it to the kernel's ioctl, docs/dropin.md).
 *
 * Handles are real file descriptors of the process (they never collide
 * with its other descriptors); close them with spapr_close(), not close(2).
 * spapr_ioctl() takes the request numbers and structs of <linux/vfio.h> and
 * behaves like ioctl(2): 0 (or the documented positive value) on success,
 * -1 with errno on failure, errno as the kernel's (docs/errors.md).
 *
 * Units: locked_vm in system pages (4 KiB on x86); limits and addresses in
 * bytes.
 *
 * Threads: every call may be made from any thread.  MAP_DMA and UNMAP_DMA
 * do not take the container's mutex (as in the kernel); the other
 * container requests do.  The lock order is written once, on struct
 * spapr_guest in the source's spapr/guest_priv.h (docs/spapr.md).
 */
#ifndef SPAPRTCE_SPAPR_H
#define SPAPRTCE_SPAPR_H

#include <stdint.h>

/*
 * SPAPRTCE_API marks what the shared library exports: it is built with
 * -fvisibility=hidden, so a function without it is internal.  Every public
 * header defines it the same way (guarded), so that each stands alone.
 */
#ifndef SPAPRTCE_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define SPAPRTCE_API __attribute__((visibility("default")))
#else
#define SPAPRTCE_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Like open("/dev/vfio/vfio", O_RDWR): a new container fd, or -1 (ENOMEM, EMFILE). */
SPAPRTCE_API int spapr_open_container(void);

/*
 * Like open("/dev/vfio/<iommu_group>"): the group's fd, or -1 with ENOENT
 * (no such group on the emulated machine), EBUSY (the group is already
 * open), ENOMEM, EMFILE.
 */
SPAPRTCE_API int spapr_open_group(int iommu_group);

/* Like ioctl(2) on a container or group fd; EBADF for anything else. */
SPAPRTCE_API int spapr_ioctl(int fd, unsigned long request, ...);

/*
 * Like close(2).  The last close of a container releases it (clears every
 * TCE, frees every window, drops every region it registered, uncharges);
 * the last close of a group detaches it from its container.  EBADF for an
 * fd that is not ours.
 */
SPAPRTCE_API int spapr_close(int fd);

/* locked_vm of the calling process, in system pages (0 when its mm cannot be created). */
SPAPRTCE_API uint64_t spapr_mm_locked_vm(void);

/*
 * Sets the calling process's emulated RLIMIT_MEMLOCK (bytes; UINT64_MAX for
 * unlimited) and CAP_IPC_LOCK (0 or 1).  Applies to later charges only:
 * locked_vm is never changed.  Returns 0, or -1 with errno ENOMEM (the mm
 * could not be created) or EINVAL (cap_ipc_lock not 0 or 1).
 */
SPAPRTCE_API int spapr_mm_set_memlock(uint64_t limit_bytes, int cap_ipc_lock);

/* ================================================ the guest hypercall path */
/*
 * What KVM's in-kernel TCE acceleration does for a POWER guest (book3s_64_vio.c),
 * on top of the containers above.  docs/hcall.md has the full story.
 *
 * Objects
 *   guest      A VM (struct spapr_guest *, an object pointer: KVM's VM fd).
 *              Holds up to SPAPR_GUEST_MEMSLOTS memory slots, each mapping
 *              guest physical addresses [gpa, gpa + size) to the process's
 *              memory [ua, ua + size), and guest TCE tables.
 *   guest TCE table
 *              Named by its LIOBN (KVM's TCE table fd): the guest-visible
 *              table of one DMA window, entries offset ... offset + size - 1
 *              of 2^page_shift-byte guest IOMMU pages, holding the raw TCE
 *              values the guest put.  Its pages (512 entries each) are
 *              allocated on first non-zero store; a never-written entry reads
 *              0.  Its size (8 bytes per entry in pages, plus the descriptor)
 *              is charged to locked_vm when it is created.
 *   attachment A VFIO group's hardware window bound to a guest table (KVM's
 *              KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE).  Hypercalls then write the
 *              window's entries too, through preregistered memory only,
 *              2^(guest page shift - hardware page shift) hardware entries
 *              ("subpages") per guest TCE.  The attachment holds a reference
 *              on the window (and the container); the hardware entries it
 *              writes belong to the window, cleared when the window is
 *              removed, never by detaching.
 *
 * Units: gpa, ua, ioba, sizes of memslots in bytes; table offset and size in
 * guest IOMMU pages (2^page_shift bytes); npages of a hypercall in guest
 * IOMMU pages.
 *
 * Errors: the spapr_guest_* calls return 0 or -1 with errno; the
 * hypercalls return an H_* code (never set errno).
 *
 * Threads: hypercalls may run concurrently with each other and with every
 * container request; the other guest calls serialise on the guest's lock.
 * A guest must not be used after (or during) spapr_guest_destroy().
 * Lock order: written once, on struct spapr_guest in the source's
 * spapr/guest_priv.h (docs/hcall.md).
 */

/* Hypercall return codes (PAPR). */
#define H_SUCCESS 0
#define H_HARDWARE (-1)
#define H_PARAMETER (-4)
#define H_TOO_HARD 9999

#define SPAPR_GUEST_MEMSLOTS 32u
/* H_PUT_TCE_INDIRECT: most entries in one list (one 4 KiB page). */
#define SPAPR_TCE_LIST_MAX 512u

struct spapr_guest;

/*
 * Creates a guest bound to the calling process's mm.  0, or -1 with EFAULT
 * (@out is NULL), ENOMEM.
 *
 * Every spapr_guest_* call below taking a guest answers -1 with EBADF for
 * a NULL @guest (a closed VM fd to KVM); spapr_guest_destroy ignores it.
 */
SPAPRTCE_API int spapr_guest_create(struct spapr_guest **out);

/*
 * Destroys @guest: every guest TCE table is destroyed as by
 * spapr_guest_destroy_tce_table().  Never fails.  NULL is ignored.
 */
SPAPRTCE_API void spapr_guest_destroy(struct spapr_guest *guest);

/*
 * Sets memory slot @slot to guest physical [gpa, gpa + size) at user address
 * @ua (KVM_SET_USER_MEMORY_REGION); size 0 deletes the slot.  Later
 * hypercalls translate through it; entries already written are not touched.
 * Returns 0 or -1 with EINVAL (slot >= SPAPR_GUEST_MEMSLOTS; gpa, size or
 * ua not 4 KiB aligned; gpa + size or ua + size beyond 2^64; overlaps
 * another slot's guest range).  Unchanged on failure.
 */
SPAPRTCE_API int spapr_guest_set_memslot(struct spapr_guest *guest, unsigned slot, uint64_t gpa,
					 uint64_t size, void *ua);

/*
 * Creates the guest TCE table @liobn (KVM_CREATE_SPAPR_TCE_64): guest IOMMU
 * pages of 2^page_shift bytes, entries [offset, offset + size).  Charges
 * what KVM charges (kvmppc_stt_pages): the entry pages (512 entries each)
 * plus the kernel's descriptor, 120 bytes and 8 per entry page, in pages.
 * Returns 0 or -1 with EINVAL (size 0; page_shift < 12 or > 34;
 * offset + size beyond 2^64 >> page_shift, or wrapping past 2^64, which
 * KVM accepts: quirk Q16 in docs/kernel.md), ENOMEM (the charge would pass
 * RLIMIT_MEMLOCK; allocation), EBUSY (@liobn exists), in that order of
 * checks.  Unchanged on failure.
 */
SPAPRTCE_API int spapr_guest_create_tce_table(struct spapr_guest *guest, uint64_t liobn,
					      unsigned page_shift, uint64_t offset, uint64_t size);

/*
 * Destroys the guest TCE table @liobn: detaches every hardware window
 * (dropping the references; their entries stay), frees its pages,
 * uncharges.  Returns 0 or -1 with ENOENT (no such table).
 */
SPAPRTCE_API int spapr_guest_destroy_tce_table(struct spapr_guest *guest, uint64_t liobn);

/*
 * Attaches the hardware window of group @group_fd's container that backs
 * guest table @liobn (kvm_spapr_tce_attach_iommu_group): hardware page
 * shift <= the guest's, the same bus start address, and a window at least
 * as large, among the windows that exist: a pending default window is not
 * created (EINVAL; an UNMAP_DMA of nothing creates it).  v1 and v2
 * containers alike.  Attaching a group already attached to @liobn takes
 * another reference (0); each needs its detach.  Returns 0 or -1 with
 * EBADF (@group_fd is not open), EINVAL (@group_fd is not a group; @liobn
 * unknown; the group has no container bound to this guest's process; no
 * window fits), ENOSPC (8 windows attached already), ENOMEM.  Unchanged on
 * failure.
 */
SPAPRTCE_API int spapr_guest_attach_group(struct spapr_guest *guest, uint64_t liobn, int group_fd);

/*
 * Detaches group @group_fd from guest table @liobn (one reference of it:
 * the window is released with the last).  Returns 0 or -1 with EBADF
 * (@group_fd not open), EINVAL (not a group; @liobn unknown), ENOENT (not
 * attached).
 */
SPAPRTCE_API int spapr_guest_detach_group(struct spapr_guest *guest, uint64_t liobn, int group_fd);

/*
 * Debug invariant checker (docs/hcall.md lists the invariants).  Returns 0
 * or -1 with EUCLEAN and a message on stderr.  Assumes that nothing but
 * this guest writes the attached windows' entries inside its tables.
 */
SPAPRTCE_API int spapr_guest_check(struct spapr_guest *guest);

/*
 * The hypercalls (docs/kernel.md, "Hypercalls"; quirks Q2 and Q12).  Each
 * returns H_SUCCESS, H_PARAMETER (bad ioba range, npages, list alignment, R
 * or W in H_STUFF_TCE's value), H_TOO_HARD (unknown LIOBN; a TCE that cannot
 * be translated through the memslots and preregistered regions; a dying
 * region; an allocation; a list that cannot be read) or H_HARDWARE (an
 * internal inconsistency, never expected).  Whatever the code, a call that
 * does not return H_SUCCESS changed nothing: no hardware entry, guest
 * entry, mapped count or charge.  Under quirks=kernel (Q12) they are KVM's
 * instead: a failure keeps the TCEs before it applied and the counts of
 * the failing one's entries taken, INDIRECT's second pass answers
 * H_PARAMETER for a TCE whose gpa is in no memslot and maps a TCE without
 * R and W (a counted entry without permission bits), and a guest page of
 * values that cannot be allocated loses the value.
 * A TCE with R or W is H_TOO_HARD when any window attached to the table,
 * removed ones included, finds no registered region for it (as
 * kvmppc_tce_validate), and whenever a live v1 window is attached (v1
 * memory is never registered).  A NULL @guest is H_TOO_HARD (no table, as
 * for an unknown LIOBN); H_GET_TCE with a NULL @tce_out is H_PARAMETER.
 */
SPAPRTCE_API long spapr_h_put_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
				  uint64_t tce);
/* @tce_list: gpa of a 4 KiB-aligned list of @npages big-endian TCEs (at most 512), read once. */
SPAPRTCE_API long spapr_h_put_tce_indirect(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
					   uint64_t tce_list, uint64_t npages);
SPAPRTCE_API long spapr_h_stuff_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
				    uint64_t tce_value, uint64_t npages);
/* *tce_out: the stored guest TCE (0 when never written); untouched on error. */
SPAPRTCE_API long spapr_h_get_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
				  uint64_t *tce_out);

#ifdef __cplusplus
}
#endif

/* ---------------------------------------------------------- device fds */

/*
 * A device fd comes from VFIO_GROUP_GET_DEVICE_FD on a group fd (the name
 * is the PCI address of the group's device, "0000:00:0X.0" with X = group
 * + 1; emu_dev_info tells it).  spapr_ioctl serves the vfio-pci device
 * requests on it and spapr_close closes it; docs/devices.md lists them.
 * The calls below are the rest of the device file: a file offset is a
 * region index << 40 plus a position in the region (what
 * VFIO_DEVICE_GET_REGION_INFO reports).  All return as their libc
 * namesakes do, -1 (MAP_FAILED) with errno.
 */
#include <sys/types.h>

/*
 * The fault region: region SPAPR_FAULT_REGION_INDEX of every device fd, our
 * extension after the VFIO nested-fault-region design (docs/devices.md).
 * GET_REGION_INFO gives it a VFIO_REGION_INFO_CAP_TYPE capability (type
 * SPAPR_REGION_TYPE_NESTED, subtype SPAPR_REGION_SUBTYPE_NESTED_DMA_FAULT)
 * and a SPAPR_REGION_INFO_CAP_DMA_FAULT capability (a u32 version, 1).
 * Header (u32 unless said): consumer (the only field written), record
 * size, number of records, ring offset, producer, version, u64 overflow;
 * records of 32 bytes: u64 seq, u64 iova, u64 tce, u32 access (0 read,
 * 1 write), u32 reason (enum emu_fault_reason).
 */
#define SPAPR_FAULT_REGION_INDEX 9u
#define SPAPR_REGION_TYPE_NESTED 2u
#define SPAPR_REGION_SUBTYPE_NESTED_DMA_FAULT 1u
#define SPAPR_REGION_INFO_CAP_DMA_FAULT 6u
#define SPAPR_FAULT_CONSUMER 0x00u
#define SPAPR_FAULT_RECORD_SIZE_OFF 0x04u
#define SPAPR_FAULT_NB_RECORDS 0x08u
#define SPAPR_FAULT_OFFSET 0x0cu
#define SPAPR_FAULT_PRODUCER 0x10u
#define SPAPR_FAULT_VERSION 0x14u
#define SPAPR_FAULT_OVERFLOW 0x18u
#define SPAPR_FAULT_HDR_SIZE 0x20u
#define SPAPR_FAULT_RING_OFFSET 0x1000u
#define SPAPR_FAULT_RECORD_SIZE 32u

/*
 * Reads @n bytes of a region at @off.  Returns the bytes read (cut at a
 * BAR's end), or -1 with EBADF (not open), EINVAL (not a device fd; off
 * negative; no such region; a BAR position at or past its end; the ROM and
 * VGA regions, which do not exist), EFAULT (config space position outside
 * it; @buf not writable).
 */
SPAPRTCE_API ssize_t spapr_pread(int fd, void *buf, size_t n, off_t off);
/* Writes likewise; the errnos of spapr_pread (EFAULT: @buf not readable). */
SPAPRTCE_API ssize_t spapr_pwrite(int fd, const void *buf, size_t n, off_t off);
/*
 * Maps an mmap-able BAR (VFIO_REGION_INFO_FLAG_MMAP) of device fd @fd:
 * @off = index << 40 plus a page-aligned position.  Returns the mapping
 * (shared with the device: its memory, as a BAR mapping is), or MAP_FAILED
 * with EBADF (not open), ENODEV (a container or group fd), EINVAL (offset
 * not page aligned, @len 0, not a BAR or not mmap-able, the range past the
 * BAR's page-rounded end, no MAP_SHARED), or mmap(2)'s own errnos.  The
 * mapping outlives the fd, as a real one does.
 */
SPAPRTCE_API void *spapr_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

/* ------------------------------------------------------------ observer */

/*
 * An observer hears of every call of the fd API -- spapr_open_container,
 * spapr_open_group, spapr_ioctl, spapr_close, spapr_pread, spapr_pwrite,
 * spapr_mmap -- after it returned, in the calling thread, with its
 * arguments and result: what a request log or a trace recorder needs
 * (SPAPRTCE_TRACE uses it for programs that call these functions directly,
 * docs/replay.md).  Without an observer a call costs one pointer load and
 * a branch more.
 */
enum spapr_call {
	SPAPR_CALL_OPEN_CONTAINER,
	SPAPR_CALL_OPEN_GROUP,
	SPAPR_CALL_IOCTL,
	SPAPR_CALL_CLOSE,
	SPAPR_CALL_PREAD,
	SPAPR_CALL_PWRITE,
	SPAPR_CALL_MMAP,
};

struct spapr_call_event {
	enum spapr_call call;
	int fd;			/* the fd called on; the opens: the new fd, -1 on failure */
	int group;		/* OPEN_GROUP: the group asked for */
	unsigned long request;	/* IOCTL: the request */
	void *arg;		/* IOCTL: the argument as passed, now holding what the call wrote back */
	const void *before;	/* IOCTL with a pointer argument: its first before_len bytes before the call */
	size_t before_len;	/* (as far as they were readable: 0 when none were); otherwise 0 */
	size_t len;		/* PREAD, PWRITE, MMAP: the length */
	long long off;		/* PREAD, PWRITE, MMAP: the file offset */
	long result;		/* the return value (MMAP: 0, or -1 for MAP_FAILED) */
	int err;		/* the errno of a failed call, else 0 */
};

struct spapr_observer {
	/* Called after each call; must not call the fd API itself.  errno is kept for the caller. */
	void (*fn)(void *ctx, const struct spapr_call_event *ev);
	void *ctx;
};

/*
 * spapr_set_observer - installs @o (NULL: none), which must stay valid
 * until replaced; returns the observer it replaces.  One observer at a
 * time: one that wants to chain keeps the previous one and calls it.  A
 * call already running when the observer changes may report to the old
 * one.  Never fails.
 */
SPAPRTCE_API const struct spapr_observer *spapr_set_observer(const struct spapr_observer *o);

#endif
