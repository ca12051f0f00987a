/* SPDX-License-Identifier: MIT */
/*
 * The public spapr_guest_* calls that can fail: each is its body (guest.c,
 * guest_attach.c, guest_check.c: 0 or a negative errno, as everywhere
 * inside the layers) and the one conversion to -1 and errno at the public
 * boundary (spapr__ret, fd.c).  The hypercalls return H_* codes and never
 * set errno; spapr_guest_destroy cannot fail.
 *
 * A NULL guest is a closed VM fd: EBADF, as KVM's ioctls on one; a NULL
 * out-pointer is a bad address: EFAULT.  The hypercalls' answers to NULL
 * are in spapr/hcall.c.
 *
 * A guest made by the parent of a forked child is the parent's: in the
 * child every call on it is EIO, as KVM answers a VM's ioctls from another
 * mm (kvm_vm_ioctl), its hypercalls H_HARDWARE, and spapr_guest_destroy
 * leaves it alone.  None of them takes its locks, which a thread of the
 * parent may have held at fork().
 */
#include <errno.h>

#include "spapr/guest_priv.h"

bool spapr__guest_foreign(const struct spapr_guest *guest)
{
	return !mmreg_mm_is_current(guest->mm);
}

#define GUEST_CALL(guest, body)                                                                   \
	spapr__ret(!(guest) ? -EBADF : spapr__guest_foreign(guest) ? -EIO : (body))

int spapr_guest_create(struct spapr_guest **out)
{
	if (!out)
		return spapr__ret(-EFAULT);	/* KVM_CREATE_VM's result cannot be stored */
	return spapr__ret(spapr__guest_create(out));
}

int spapr_guest_set_memslot(struct spapr_guest *guest, unsigned slot, uint64_t gpa,
			    uint64_t size, void *ua)
{
	return GUEST_CALL(guest, spapr__guest_set_memslot(guest, slot, gpa, size, ua));
}

int spapr_guest_create_tce_table(struct spapr_guest *guest, uint64_t liobn, unsigned page_shift,
				 uint64_t offset, uint64_t size)
{
	return GUEST_CALL(guest, spapr__guest_create_tce_table(guest, liobn, page_shift, offset, size));
}

int spapr_guest_destroy_tce_table(struct spapr_guest *guest, uint64_t liobn)
{
	return GUEST_CALL(guest, spapr__guest_destroy_tce_table(guest, liobn));
}

int spapr_guest_attach_group(struct spapr_guest *guest, uint64_t liobn, int group_fd)
{
	return GUEST_CALL(guest, spapr__guest_attach_group(guest, liobn, group_fd));
}

int spapr_guest_detach_group(struct spapr_guest *guest, uint64_t liobn, int group_fd)
{
	return GUEST_CALL(guest, spapr__guest_detach_group(guest, liobn, group_fd));
}

int spapr_guest_check(struct spapr_guest *guest)
{
	return GUEST_CALL(guest, spapr__guest_check(guest));
}
