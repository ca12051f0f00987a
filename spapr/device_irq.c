/* SPDX-License-Identifier: MIT */
/*
 * Interrupts of the device fd: VFIO_DEVICE_GET_IRQ_INFO and
 * VFIO_DEVICE_SET_IRQS, as drivers/vfio/pci/vfio_pci_core.c and
 * vfio_pci_intrs.c implement them (vfio_set_irqs_validate_and_prepare, the
 * per-index handlers), and the sink that turns the function's interrupts
 * into eventfd signals.
 *
 * Indexes: INTx (1 vector when the function has an interrupt pin; mask,
 * unmask, trigger), MSI (the vectors the capability offers, 1 << QMASK, 0
 * without one: then every SET_IRQS on it fails validation as the
 * kernel's does), MSI-X (the table size); MSI and MSI-X take trigger only,
 * as the kernel has no MSI masking (vfio_pci_set_irqs_ioctl: ENOTTY);
 * error and request (1 each: the emulated bus reports errors as a PCIe
 * port would).  One of INTx, MSI and MSI-X is enabled at a time
 * (vfio-pci's irq_type): enabling another is EINVAL.
 *
 * MSI and MSI-X share the vector code (vfio_pci_set_msi_trigger,
 * vfio_msi_enable, vfio_msi_set_block): enabling with eventfds for
 * [start, start + count) enables start + count vectors and turns the
 * function's own enable on (the host kernel's pci_alloc_irq_vectors; for
 * MSI also QSIZE, and msi_qmax, the log2 that the virtual config space
 * shows from then on, vfio_msi_config_read); a later eventfd set is a
 * block on the enabled vectors, all or nothing; DATA_NONE with count 0
 * disables.
 *
 * INTx is level-triggered and automasked: the first assertion masks it and
 * signals the trigger eventfd; UNMASK signals again at once if the line is
 * still asserted (vfio_pci_intx_unmask_handler does the same instead of
 * taking the interrupt again), else unmasks.
 *
 * Why an unmask eventfd is polled: the kernel waits on it with a virqfd;
 * we have no thread, so its count is read (and consumed) whenever the
 * function raises INTx or an unmask could matter, which is when it changes
 * anything a user can see.
 *
 * Eventfds given to us are dup()ed: like the kernel's eventfd context
 * reference, ours stays valid when the caller closes theirs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spapr/device_priv.h"
#include "util/fail.h"

#define ACTION_MASK VFIO_IRQ_SET_ACTION_TYPE_MASK
#define DATA_MASK VFIO_IRQ_SET_DATA_TYPE_MASK

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) != sizeof(one))
		return;	/* a full eventfd counter: the consumer is far behind, nothing to add */
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Our own reference to the eventfd @fd: EBADF (not open), EINVAL (not an eventfd). */
static int eventfd_get(int fd, int *out)
{
	char path[64], link[64];
	struct spapr_obj *obj;
	ssize_t n;

	if (fd < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -EBADF;
	link[n] = 0;
	obj = spapr__fd_get(fd);	/* our own handles are eventfds too, but not the caller's */
	if (obj) {
		spapr__obj_put(obj);
		return -EINVAL;
	}
	if (strcmp(link, "anon_inode:[eventfd]"))
		return -EINVAL;
	if (util_should_fail("spapr_eventfd_dup"))
		return -EMFILE;
	*out = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return *out < 0 ? -errno : 0;
}

/*
 * Points *@slot (one of v's eventfds) at our own reference to @fd, or at
 * none for a negative @fd; the old one is closed.  0, or eventfd_get's
 * error with *@slot unchanged.
 */
static int replace_eventfd(struct spapr_vdev *v, int *slot, int32_t fd)
{
	int nfd = -1, rc;

	if (fd >= 0) {
		rc = eventfd_get(fd, &nfd);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&v->irq_lock);
	close_fd(slot);
	*slot = nfd;
	pthread_mutex_unlock(&v->irq_lock);
	return 0;
}

void spapr__irq_init(struct spapr_vdev *v)
{
	v->irq_type = SPAPR_DEV_NO_IRQ;
	v->intx_fd = v->intx_unmask_fd = v->err_fd = v->req_fd = -1;
	for (unsigned i = 0; i < EMU_DEV_MAX_VECTORS; i++)
		v->vec_fd[i] = -1;
}

static unsigned irq_count(const struct spapr_vdev *v, unsigned index)
{
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return v->dev->cfg[EMU_PCI_INTERRUPT_PIN] ? 1 : 0;
	case VFIO_PCI_MSI_IRQ_INDEX:
		/* vfio_pci_get_irq_count: 1 << QMASK of the function's own capability */
		return v->dev->msi_cap ? v->dev->msi_vectors : 0;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		return v->dev->msix_vectors;
	default:
		return 1;	/* error, request */
	}
}

int spapr__irq_info(struct spapr_vdev *v, void *arg)
{
	struct vfio_irq_info info;
	size_t minsz = offsetof(struct vfio_irq_info, count) + sizeof(info.count);
	int rc = spapr__copy_in(&info, arg, minsz);

	if (rc)
		return rc;
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	info.flags = VFIO_IRQ_INFO_EVENTFD;
	info.count = irq_count(v, info.index);
	if (info.index == VFIO_PCI_INTX_IRQ_INDEX)
		info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else
		info.flags |= VFIO_IRQ_INFO_NORESIZE;
	return spapr__copy_out(arg, &info, minsz);
}

/* ---------------------------------------------------------------- INTx */

/* Under irq_lock: unmask (vfio_pci_intx_unmask): re-signal if the line is still up. */
static void intx_unmask(struct spapr_vdev *v)
{
	if (!v->intx_masked)
		return;
	if (__atomic_load_n(&v->dev->intx_level, __ATOMIC_ACQUIRE))
		signal_fd(v->intx_fd);
	else
		v->intx_masked = false;
}

/* Under irq_lock: consumes a pending signal of the unmask eventfd. */
static void intx_poll_unmask(struct spapr_vdev *v)
{
	struct pollfd p = { .fd = v->intx_unmask_fd, .events = POLLIN };
	uint64_t n;

	if (v->intx_unmask_fd < 0 || poll(&p, 1, 0) != 1)
		return;
	if (read(v->intx_unmask_fd, &n, sizeof(n)) == sizeof(n) && n)
		intx_unmask(v);
}

/* Under irq_lock: the line went up (vfio_intx_handler). */
static void intx_raise(struct spapr_vdev *v)
{
	intx_poll_unmask(v);
	if (v->intx_masked)
		return;
	v->intx_masked = true;
	signal_fd(v->intx_fd);
}

void spapr__irq_sink(void *ctx, enum emu_dev_irq_kind kind, unsigned vector)
{
	struct spapr_vdev *v = ctx;

	pthread_mutex_lock(&v->irq_lock);
	if (kind == EMU_DEV_IRQ_MSIX || kind == EMU_DEV_IRQ_MSI) {
		int index = kind == EMU_DEV_IRQ_MSI ? VFIO_PCI_MSI_IRQ_INDEX : VFIO_PCI_MSIX_IRQ_INDEX;

		if (v->irq_type == index && vector < v->num_ctx)
			signal_fd(v->vec_fd[vector]);
	} else if (v->irq_type == VFIO_PCI_INTX_IRQ_INDEX) {
		intx_raise(v);
	}
	pthread_mutex_unlock(&v->irq_lock);
}

/* Under v->lock. */
static void intx_disable(struct spapr_vdev *v)
{
	pthread_mutex_lock(&v->irq_lock);
	close_fd(&v->intx_fd);
	close_fd(&v->intx_unmask_fd);
	v->intx_masked = false;
	v->irq_type = SPAPR_DEV_NO_IRQ;
	pthread_mutex_unlock(&v->irq_lock);
}

static int intx_mask(struct spapr_vdev *v, unsigned start, unsigned count, uint32_t flags,
		     const uint8_t *data)
{
	if (v->irq_type != VFIO_PCI_INTX_IRQ_INDEX || start != 0 || count != 1)
		return -EINVAL;
	if (flags & VFIO_IRQ_SET_DATA_EVENTFD)
		return -ENOTTY;	/* as the kernel: masking by eventfd is not implemented */
	pthread_mutex_lock(&v->irq_lock);
	if ((flags & VFIO_IRQ_SET_DATA_NONE) || data[0])
		v->intx_masked = true;
	pthread_mutex_unlock(&v->irq_lock);
	return 0;
}

static int intx_unmask_req(struct spapr_vdev *v, unsigned start, unsigned count, uint32_t flags,
			   const uint8_t *data)
{
	int32_t fd;

	if (v->irq_type != VFIO_PCI_INTX_IRQ_INDEX || start != 0 || count != 1)
		return -EINVAL;
	if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		memcpy(&fd, data, sizeof(fd));
		return replace_eventfd(v, &v->intx_unmask_fd, fd);
	}
	pthread_mutex_lock(&v->irq_lock);
	if ((flags & VFIO_IRQ_SET_DATA_NONE) || data[0])
		intx_unmask(v);
	pthread_mutex_unlock(&v->irq_lock);
	return 0;
}

/* vfio_intx_set_signal: a new trigger (fd >= 0) or none (fd < 0). */
static int intx_set_signal(struct spapr_vdev *v, int32_t fd)
{
	return replace_eventfd(v, &v->intx_fd, fd);
}

static int intx_trigger(struct spapr_vdev *v, unsigned start, unsigned count, uint32_t flags,
			const uint8_t *data)
{
	bool intx = v->irq_type == VFIO_PCI_INTX_IRQ_INDEX;
	int32_t fd;
	int rc;

	if (intx && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
		intx_disable(v);
		return 0;
	}
	if (!(intx || v->irq_type == SPAPR_DEV_NO_IRQ) || start != 0 || count != 1)
		return -EINVAL;
	if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		memcpy(&fd, data, sizeof(fd));
		if (intx)
			return intx_set_signal(v, fd);
		rc = intx_set_signal(v, fd);
		if (rc)
			return rc;
		pthread_mutex_lock(&v->irq_lock);
		v->irq_type = VFIO_PCI_INTX_IRQ_INDEX;
		v->intx_masked = false;
		/* A line already up is taken at once, as a level interrupt would be. */
		if (__atomic_load_n(&v->dev->intx_level, __ATOMIC_ACQUIRE))
			intx_raise(v);
		pthread_mutex_unlock(&v->irq_lock);
		return 0;
	}
	if (!intx)
		return -EINVAL;
	pthread_mutex_lock(&v->irq_lock);
	if ((flags & VFIO_IRQ_SET_DATA_NONE) || data[0])
		signal_fd(v->intx_fd);	/* loopback: vfio_send_intx_eventfd */
	pthread_mutex_unlock(&v->irq_lock);
	return 0;
}

/* ---------------------------------------------------------- MSI, MSI-X */

/* The function's own enable bits for @index: MSI-X enable, or MSI enable and QSIZE. */
static void msi_hw(struct spapr_vdev *v, unsigned index, unsigned nvec)
{
	struct emu_dev *d = v->dev;

	if (index == VFIO_PCI_MSIX_IRQ_INDEX) {
		emu_dev_cfg_write(d, d->msix_cap + EMU_PCI_MSIX_FLAGS, 2,
				  nvec ? EMU_PCI_MSIX_FLAGS_ENABLE : 0);
		return;
	}
	emu_dev_cfg_write(d, d->msi_cap + EMU_PCI_MSI_FLAGS, 2,
			  nvec ? EMU_PCI_MSI_FLAGS_ENABLE | v->msi_qmax << 4 : 0);
}

/* Under v->lock: every vector off, the function's enable cleared (vfio_msi_disable). */
static void msi_disable(struct spapr_vdev *v, unsigned index)
{
	pthread_mutex_lock(&v->irq_lock);
	for (unsigned i = 0; i < v->num_ctx; i++)
		close_fd(&v->vec_fd[i]);
	v->num_ctx = 0;
	v->irq_type = SPAPR_DEV_NO_IRQ;
	pthread_mutex_unlock(&v->irq_lock);
	msi_hw(v, index, 0);
}

/* vfio_msi_set_block: all or nothing for vectors [start, start + count). */
static int msi_set_block(struct spapr_vdev *v, unsigned start, unsigned count, const int32_t *fds)
{
	int nfd[EMU_DEV_MAX_VECTORS];
	unsigned i;
	int rc;

	if (start >= v->num_ctx || count > v->num_ctx - start)
		return -EINVAL;
	for (i = 0; i < count; i++) {
		nfd[i] = -1;
		if (fds[i] < 0)
			continue;
		rc = eventfd_get(fds[i], &nfd[i]);
		if (rc)
			goto err_close;
	}
	pthread_mutex_lock(&v->irq_lock);
	for (i = 0; i < count; i++) {
		close_fd(&v->vec_fd[start + i]);
		v->vec_fd[start + i] = nfd[i];
	}
	pthread_mutex_unlock(&v->irq_lock);
	return 0;

err_close:
	while (i-- > 0)
		close_fd(&nfd[i]);
	return rc;
}

/* ceil(log2(@n)), the kernel's fls(n * 2 - 1) - 1. */
static unsigned log2_up(unsigned n)
{
	unsigned l = 0;

	while ((1u << l) < n)
		l++;
	return l;
}

/* vfio_pci_set_msi_trigger, for @index MSI or MSI-X. */
static int msi_trigger(struct spapr_vdev *v, unsigned index, unsigned start, unsigned count,
		       uint32_t flags, const uint8_t *data)
{
	bool on = v->irq_type == (int)index;
	int rc;

	if (on && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
		msi_disable(v, index);
		return 0;
	}
	if (!(on || v->irq_type == SPAPR_DEV_NO_IRQ))
		return -EINVAL;
	if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		if (on)
			return msi_set_block(v, start, count, (const int32_t *)data);
		/*
		 * vfio_msi_enable(start + count): pci_alloc_irq_vectors of 0
		 * vectors is ERANGE; validate() kept start + count within the
		 * index's count, so any other number is had in full.
		 */
		if (!start && !count)
			return -ERANGE;
		pthread_mutex_lock(&v->irq_lock);
		v->num_ctx = start + count;
		v->irq_type = (int)index;
		pthread_mutex_unlock(&v->irq_lock);
		if (index == VFIO_PCI_MSI_IRQ_INDEX)
			v->msi_qmax = log2_up(start + count);
		msi_hw(v, index, start + count);
		rc = msi_set_block(v, start, count, (const int32_t *)data);
		if (rc)
			msi_disable(v, index);
		return rc;
	}
	if (!on || start + count > v->num_ctx)
		return -EINVAL;
	pthread_mutex_lock(&v->irq_lock);
	for (unsigned i = start; i < start + count; i++)
		if ((flags & VFIO_IRQ_SET_DATA_NONE) || data[i - start])
			signal_fd(v->vec_fd[i]);
	pthread_mutex_unlock(&v->irq_lock);
	return 0;
}

uint16_t spapr__msi_flags_read(const struct spapr_vdev *v, uint16_t flags)
{
	return (uint16_t)((flags & ~EMU_PCI_MSI_FLAGS_QMASK) | v->msi_qmax << 1);
}

void spapr__msi_flags_written(struct spapr_vdev *v)
{
	unsigned off = v->dev->msi_cap + EMU_PCI_MSI_FLAGS;
	uint16_t f = (uint16_t)emu_dev_cfg_get(v->vcfg, off, 2);

	if (v->irq_type != VFIO_PCI_MSI_IRQ_INDEX)
		f &= (uint16_t)~EMU_PCI_MSI_FLAGS_ENABLE;	/* MSI is enabled by SET_IRQS */
	if ((unsigned)(f & EMU_PCI_MSI_FLAGS_QSIZE) >> 4 > v->msi_qmax)
		f = (uint16_t)((f & ~EMU_PCI_MSI_FLAGS_QSIZE) | v->msi_qmax << 4);
	emu_dev_cfg_put(v->vcfg, off, 2, f);
	emu_dev_cfg_write(v->dev, off, 2, f);
}

/* ---------------------------------------------------------- error, request */

/* vfio_pci_set_ctx_trigger_single. */
static int trigger_single(struct spapr_vdev *v, int *ctx, unsigned count, uint32_t flags,
			  const uint8_t *data)
{
	int32_t fd;

	if (flags & VFIO_IRQ_SET_DATA_NONE) {
		if (*ctx < 0)
			return -EINVAL;
		pthread_mutex_lock(&v->irq_lock);
		if (count)
			signal_fd(*ctx);
		else
			close_fd(ctx);
		pthread_mutex_unlock(&v->irq_lock);
		return 0;
	}
	if (!count)
		return -EINVAL;
	if (flags & VFIO_IRQ_SET_DATA_BOOL) {
		pthread_mutex_lock(&v->irq_lock);
		if (data[0])
			signal_fd(*ctx);
		pthread_mutex_unlock(&v->irq_lock);
		return 0;
	}
	memcpy(&fd, data, sizeof(fd));
	if (fd < -1)
		return 0;	/* other negative fds change nothing */
	return replace_eventfd(v, ctx, fd);
}

/* ------------------------------------------------------------ SET_IRQS */

/* vfio_set_irqs_validate_and_prepare.  *size: bytes of data that follow. */
static int validate(const struct vfio_irq_set *hdr, unsigned max, size_t *size)
{
	size_t minsz = offsetof(struct vfio_irq_set, count) + sizeof(hdr->count), each;

	if (hdr->argsz < minsz || hdr->index >= VFIO_PCI_NUM_IRQS ||
	    hdr->count >= UINT32_MAX - hdr->start || (hdr->flags & ~(DATA_MASK | ACTION_MASK)) ||
	    hdr->start >= max || hdr->start + hdr->count > max)
		return -EINVAL;
	switch (hdr->flags & DATA_MASK) {
	case VFIO_IRQ_SET_DATA_NONE: each = 0; break;
	case VFIO_IRQ_SET_DATA_BOOL: each = sizeof(uint8_t); break;
	case VFIO_IRQ_SET_DATA_EVENTFD: each = sizeof(int32_t); break;
	default: return -EINVAL;
	}
	*size = 0;
	if (each) {
		if (hdr->argsz - minsz < (uint64_t)hdr->count * each)
			return -EINVAL;
		*size = (size_t)hdr->count * each;
	}
	return 0;
}

static int dispatch(struct spapr_vdev *v, const struct vfio_irq_set *h, const uint8_t *data)
{
	uint32_t action = h->flags & ACTION_MASK;

	switch (h->index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_MASK)
			return intx_mask(v, h->start, h->count, h->flags, data);
		if (action == VFIO_IRQ_SET_ACTION_UNMASK)
			return intx_unmask_req(v, h->start, h->count, h->flags, data);
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return intx_trigger(v, h->start, h->count, h->flags, data);
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return msi_trigger(v, h->index, h->start, h->count, h->flags, data);
		break;	/* no MSI masking: ENOTTY */
	case VFIO_PCI_ERR_IRQ_INDEX:
	case VFIO_PCI_REQ_IRQ_INDEX:
		if (action != VFIO_IRQ_SET_ACTION_TRIGGER)
			break;
		if (h->start != 0 || h->count > 1)
			return -EINVAL;
		return trigger_single(v, h->index == VFIO_PCI_ERR_IRQ_INDEX ? &v->err_fd : &v->req_fd,
				      h->count, h->flags, data);
	default:
		break;
	}
	return -ENOTTY;
}

int spapr__set_irqs(struct spapr_vdev *v, void *arg)
{
	struct vfio_irq_set hdr;
	size_t minsz = offsetof(struct vfio_irq_set, count) + sizeof(hdr.count), size;
	uint8_t *data = NULL;
	int rc = spapr__copy_in(&hdr, arg, minsz);

	if (rc)
		return rc;
	rc = validate(&hdr, irq_count(v, hdr.index < VFIO_PCI_NUM_IRQS ? hdr.index : 0), &size);
	if (rc)
		return rc;
	if (size) {
		if (util_should_fail("spapr_irq_data"))
			return -ENOMEM;
		data = malloc(size);
		if (!data)
			return -ENOMEM;
		rc = spapr__copy_in(data, (uint8_t *)arg + minsz, size);
		if (rc)
			goto out_free;
	}
	pthread_mutex_lock(&v->lock);
	rc = dispatch(v, &hdr, data);
	pthread_mutex_unlock(&v->lock);
out_free:
	free(data);
	return rc;
}

void spapr__irq_release(struct spapr_vdev *v)
{
	pthread_mutex_lock(&v->lock);
	if (v->irq_type == VFIO_PCI_INTX_IRQ_INDEX)
		intx_disable(v);
	else if (v->irq_type != SPAPR_DEV_NO_IRQ)
		msi_disable(v, (unsigned)v->irq_type);
	pthread_mutex_lock(&v->irq_lock);
	close_fd(&v->intx_unmask_fd);
	close_fd(&v->err_fd);
	close_fd(&v->req_fd);
	pthread_mutex_unlock(&v->irq_lock);
	pthread_mutex_unlock(&v->lock);
}
