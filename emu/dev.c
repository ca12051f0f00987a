/* SPDX-License-Identifier: MIT */
/*
 * The device side shared by every model: which model sits in which group
 * (the devG= configuration), device instances and their lifetime, RAM BARs,
 * config and BAR access, interrupts and DMA on behalf of a model.
 *
 * Why instances live only while opened: a function's state matters only to
 * the driver that has it; vfio-pci resets a device when its last user goes,
 * so a fresh instance at the next first open is what a user sees anyway,
 * and an idle machine holds no memfd per group.
 *
 * Why RAM BARs are memfds: the VFIO side hands out mmaps of a BAR marked
 * mmap-able, and the mapping must be the very memory the model reads, as a
 * real BAR mapping reaches the device's memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu/dev.h"
#include "emu/phb_priv.h"
#include "util/fail.h"
#include "util/lock.h"

#define DEFAULT_MODEL "dma-engine"
#define MSI_HW_BITS (EMU_PCI_MSI_FLAGS_ENABLE | EMU_PCI_MSI_FLAGS_QSIZE)

/* Protects specs, staged and devs. */
static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static char *specs[EMU_MAX_GROUPS];	/* NULL: the default */
static char *staged[EMU_MAX_GROUPS];
static struct emu_dev *devs[EMU_MAX_GROUPS];

/*
 * Held across fork() (util/lock.h): after the machine lock, before the
 * endpoints.  A device's own lock is not: the child reaches a device only
 * through a group, and the groups open at fork() stay the parent's
 * (spapr/fd.c), so the child never takes an inherited device's lock.
 */
UTIL_FORK_LOCK(dev_fork, .rank = UTIL_RANK_EMU_DEV, .name = "emu dev_lock", .mutex = &dev_lock)

/* ------------------------------------------------------- configuration */

/* The model named by the start of @spec (up to ':' or the end); *params after it. */
static const struct emu_dev_model *spec_model(const char *spec, const char **params)
{
	size_t n = strcspn(spec, ":");

	*params = spec[n] ? spec + n + 1 : spec + n;
	for (unsigned i = 0; emu__dev_models[i]; i++)
		if (strlen(emu__dev_models[i]->name) == n && !strncmp(emu__dev_models[i]->name, spec, n))
			return emu__dev_models[i];
	return NULL;
}

int emu__dev_spec_check(const char *spec)
{
	const struct emu_dev_model *m;
	const char *params;

	if (!strcmp(spec, "none"))
		return 0;
	m = spec_model(spec, &params);
	if (!m) {
		fprintf(stderr, "device \"%s\": unknown model\n", spec);
		return -EINVAL;
	}
	return m->check_params(params);
}

/* Replaces *@slot (a spec table entry) with a copy of @spec.  0 or -ENOMEM. */
static int spec_store(char **slot, const char *spec)
{
	char *s;

	if (util_should_fail("emu_dev_spec"))
		return -ENOMEM;
	s = strdup(spec);
	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&dev_lock);
	free(*slot);
	*slot = s;
	pthread_mutex_unlock(&dev_lock);
	return 0;
}

int emu__dev_spec_stage(unsigned g, const char *spec)
{
	if (g >= EMU_MAX_GROUPS)
		return -EINVAL;
	return spec_store(&staged[g], spec);
}

void emu__dev_spec_commit(void)
{
	pthread_mutex_lock(&dev_lock);
	for (unsigned g = 0; g < EMU_MAX_GROUPS; g++) {
		if (!staged[g])
			continue;
		free(specs[g]);
		specs[g] = staged[g];
		staged[g] = NULL;
	}
	pthread_mutex_unlock(&dev_lock);
}

void emu__dev_spec_discard(void)
{
	pthread_mutex_lock(&dev_lock);
	for (unsigned g = 0; g < EMU_MAX_GROUPS; g++) {
		free(staged[g]);
		staged[g] = NULL;
	}
	pthread_mutex_unlock(&dev_lock);
}

void emu__dev_spec_reset(void)
{
	emu__dev_spec_discard();
	pthread_mutex_lock(&dev_lock);
	for (unsigned g = 0; g < EMU_MAX_GROUPS; g++) {
		free(specs[g]);
		specs[g] = NULL;
	}
	pthread_mutex_unlock(&dev_lock);
}

int emu_dev_configure(int group, const char *spec)
{
	int rc;

	if (group < 0 || (unsigned)group >= EMU_MAX_GROUPS || !spec)
		return -EINVAL;
	if (__atomic_load_n(&emu__machine.started, __ATOMIC_ACQUIRE))
		return -EBUSY;
	rc = emu__dev_spec_check(spec);
	return rc ? rc : spec_store(&specs[group], spec);
}

/* The spec of @g (under dev_lock). */
static const char *spec_of(unsigned g)
{
	return specs[g] ? specs[g] : DEFAULT_MODEL;
}

static int dev_create(unsigned g, struct emu_dev **out);
static void dev_destroy(struct emu_dev *d);

int emu_dev_info(int group, struct emu_dev_info *info)
{
	struct emu__endpoint *ep;
	const struct emu_dev_model *m;
	struct emu_dev *d, *scratch = NULL;
	const char *params;
	int rc = emu__endpoint(group, &ep);

	if (rc)
		return rc;
	pthread_mutex_lock(&dev_lock);
	m = spec_model(spec_of((unsigned)group), &params);
	d = devs[group];
	/* Not open: the model lays its BARs out in a scratch instance. */
	if (m && !d) {
		rc = dev_create((unsigned)group, &scratch);
		d = scratch;
	}
	if (!m || rc) {
		pthread_mutex_unlock(&dev_lock);
		return m ? rc : -ENOENT;
	}
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "0000:00:%02x.0", (unsigned)group + 1);
	snprintf(info->model, sizeof(info->model), "%s", m->name);
	info->vendor = m->vendor;
	info->device = m->device;
	info->subsystem_vendor = m->subsystem_vendor;
	info->subsystem_device = m->subsystem_device;
	info->class_code = m->class_code;
	info->revision = m->revision;
	for (unsigned i = 0; i < EMU_DEV_BARS && i < EMU_DEV_INFO_BARS; i++) {
		unsigned f = d->bar[i].flags;

		info->bar_size[i] = d->bar[i].size;
		if (!d->bar[i].size)
			continue;
		info->bar_flags[i] = (f & EMU_DEV_BAR_MEM64 ? EMU_DEV_INFO_BAR_MEM64 : 0) |
				     (f & EMU_DEV_BAR_PREFETCH ? EMU_DEV_INFO_BAR_PREFETCH : 0) |
				     (f & EMU_DEV_BAR_RAM ? EMU_DEV_INFO_BAR_RAM : 0);
	}
	pthread_mutex_unlock(&dev_lock);
	if (scratch)
		dev_destroy(scratch);
	return 0;
}

/* ----------------------------------------------------------- lifetime */

static void bars_free(struct emu_dev *d)
{
	for (unsigned i = 0; i < EMU_DEV_BARS; i++) {
		struct emu_dev_bar *b = &d->bar[i];

		if (b->ram)
			munmap(b->ram, b->size);
		if (b->ram_fd >= 0)
			close(b->ram_fd);
		b->ram = NULL;
		b->ram_fd = -1;
	}
}

static int bars_alloc(struct emu_dev *d)
{
	for (unsigned i = 0; i < EMU_DEV_BARS; i++) {
		struct emu_dev_bar *b = &d->bar[i];

		if (!b->size || !(b->flags & EMU_DEV_BAR_RAM))
			continue;
		if (util_should_fail("emu_dev_ram"))
			goto err_free;
		b->ram_fd = memfd_create("spaprtce-bar", MFD_CLOEXEC);
		if (b->ram_fd < 0)
			goto err_free;
		if (ftruncate(b->ram_fd, (off_t)b->size))
			goto err_free;
		b->ram = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, b->ram_fd, 0);
		if (b->ram == MAP_FAILED) {
			b->ram = NULL;
			goto err_free;
		}
	}
	return 0;

err_free:
	bars_free(d);
	return -ENOMEM;
}

/* Writes the BAR type bits of every BAR into cfg. */
static void bars_cfg(struct emu_dev *d)
{
	for (unsigned i = 0; i < EMU_DEV_BARS; i++) {
		uint32_t v = 0;

		if (!d->bar[i].size)
			continue;
		if (d->bar[i].flags & EMU_DEV_BAR_MEM64)
			v |= EMU_PCI_BAR_MEM_TYPE_64;
		if (d->bar[i].flags & EMU_DEV_BAR_PREFETCH)
			v |= EMU_PCI_BAR_MEM_PREFETCH;
		emu_dev_cfg_put(d->cfg, EMU_PCI_BASE_ADDRESS_0 + 4 * i, 4, v);
	}
}

static int dev_create(unsigned g, struct emu_dev **out)
{
	const struct emu_dev_model *m;
	const char *params;
	struct emu_dev *d;
	int rc;

	m = spec_model(spec_of(g), &params);
	if (!m)
		return -ENOENT;
	if (util_should_fail("emu_dev_alloc"))
		return -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->model = m;
	d->group = (int)g;
	d->devfn = (g + 1) << 3;
	snprintf(d->name, sizeof(d->name), "0000:00:%02x.0", g + 1);
	for (unsigned i = 0; i < EMU_DEV_BARS; i++)
		d->bar[i].ram_fd = -1;
	emu_dev_cfg_put(d->cfg, EMU_PCI_VENDOR_ID, 2, m->vendor);
	emu_dev_cfg_put(d->cfg, EMU_PCI_DEVICE_ID, 2, m->device);
	emu_dev_cfg_put(d->cfg, EMU_PCI_REVISION_ID, 1, m->revision);
	emu_dev_cfg_put(d->cfg, EMU_PCI_CLASS_PROG, 3, m->class_code);
	emu_dev_cfg_put(d->cfg, EMU_PCI_SUBSYSTEM_VENDOR_ID, 2, m->subsystem_vendor);
	emu_dev_cfg_put(d->cfg, EMU_PCI_SUBSYSTEM_ID, 2, m->subsystem_device);
	pthread_mutex_init(&d->lock, NULL);
	rc = m->create(d, params);
	if (rc)
		goto err_free;
	rc = bars_alloc(d);
	if (rc)
		goto err_destroy;
	bars_cfg(d);
	*out = d;
	return 0;

err_destroy:
	m->destroy(d);
err_free:
	pthread_mutex_destroy(&d->lock);
	free(d);
	return rc;
}

/* Frees an instance nobody can reach any more.  Never fails. */
static void dev_destroy(struct emu_dev *d)
{
	d->model->destroy(d);
	bars_free(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int emu_dev_open(int group, struct emu_dev **out)
{
	struct emu__endpoint *ep;
	int rc = emu__endpoint(group, &ep);

	if (rc)
		return rc;
	pthread_mutex_lock(&dev_lock);
	if (!devs[group]) {
		rc = dev_create((unsigned)group, &devs[group]);
		if (rc)
			goto out_unlock;
	}
	devs[group]->opens++;
	*out = devs[group];
out_unlock:
	pthread_mutex_unlock(&dev_lock);
	return rc;
}

void emu_dev_close(struct emu_dev *d)
{
	pthread_mutex_lock(&dev_lock);
	if (--d->opens) {
		pthread_mutex_unlock(&dev_lock);
		return;
	}
	devs[d->group] = NULL;
	pthread_mutex_unlock(&dev_lock);
	dev_destroy(d);
}

/* -------------------------------------------------------------- access */

void emu_dev_set_sink(struct emu_dev *d, emu_dev_sink_fn *fn, void *ctx)
{
	pthread_mutex_lock(&d->lock);
	d->sink = fn;
	d->sink_ctx = ctx;
	pthread_mutex_unlock(&d->lock);
}

void emu_dev_reset(struct emu_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->model->reset(d);
	__atomic_store_n(&d->intx_level, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&d->lock);
}

uint32_t emu_dev_cfg_read(struct emu_dev *d, unsigned off, unsigned size)
{
	uint32_t v;

	pthread_mutex_lock(&d->lock);
	v = emu_dev_cfg_get(d->cfg, off, size);
	pthread_mutex_unlock(&d->lock);
	return v;
}

/* Writes the bytes of [off, off + size) that fall in [at, at + n) and @mask. */
static void cfg_merge(struct emu_dev *d, unsigned off, unsigned size, uint32_t val, unsigned at,
		      unsigned n, uint32_t mask)
{
	for (unsigned i = 0; i < size; i++) {
		unsigned o = off + i;
		uint8_t m;

		if (o < at || o >= at + n)
			continue;
		m = (uint8_t)(mask >> (8 * (o - at)));
		d->cfg[o] = (uint8_t)((d->cfg[o] & ~m) | ((val >> (8 * i)) & m));
	}
}

void emu_dev_cfg_write(struct emu_dev *d, unsigned off, unsigned size, uint32_t val)
{
	pthread_mutex_lock(&d->lock);
	cfg_merge(d, off, size, val, EMU_PCI_COMMAND, 2,
		  EMU_PCI_COMMAND_IO | EMU_PCI_COMMAND_MEMORY | EMU_PCI_COMMAND_MASTER |
			  EMU_PCI_COMMAND_INTX_DISABLE);
	if (d->msix_cap)
		cfg_merge(d, off, size, val, d->msix_cap + EMU_PCI_MSIX_FLAGS, 2,
			  EMU_PCI_MSIX_FLAGS_ENABLE | EMU_PCI_MSIX_FLAGS_MASKALL);
	if (d->msi_cap)
		cfg_merge(d, off, size, val, d->msi_cap + EMU_PCI_MSI_FLAGS, 2,
			  MSI_HW_BITS);
	if ((emu_dev_cfg_get(d->cfg, EMU_PCI_COMMAND, 2) & EMU_PCI_COMMAND_INTX_DISABLE))
		__atomic_store_n(&d->intx_level, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&d->lock);
}

/* The command register and the MSI-X and MSI control bits an EEH reset clears and CONFIGURE restores.  Under d->lock. */
static void set_ctls(struct emu_dev *d, const struct emu__dev_saved *v)
{
	unsigned msix = d->msix_cap + EMU_PCI_MSIX_FLAGS, msi = d->msi_cap + EMU_PCI_MSI_FLAGS;

	cfg_merge(d, EMU_PCI_COMMAND, 2, v->command, EMU_PCI_COMMAND, 2, 0xffff);
	if (d->msix_cap)
		cfg_merge(d, msix, 2, v->msix_ctl, msix, 2,
			  EMU_PCI_MSIX_FLAGS_ENABLE | EMU_PCI_MSIX_FLAGS_MASKALL);
	if (d->msi_cap)
		cfg_merge(d, msi, 2, v->msi_ctl, msi, 2, MSI_HW_BITS);
}

/*
 * A PE reset (emu/pe.c): the function loses its state and its command
 * register, MSI-X control and MSI control (enable, QSIZE), as after a hot
 * or fundamental reset; what it lost is saved for the restore (the kernel
 * saves the config space when it probes the device and
 * eeh_pe_restore_bars writes it back).  Under the
 * device table lock, so the device cannot go away meanwhile.
 */
void emu__dev_eeh_reset(int group, struct emu__dev_saved *saved)
{
	struct emu_dev *d;
	unsigned msix, msi;

	pthread_mutex_lock(&dev_lock);
	d = devs[group];
	if (d) {
		pthread_mutex_lock(&d->lock);
		msix = d->msix_cap + EMU_PCI_MSIX_FLAGS;
		msi = d->msi_cap + EMU_PCI_MSI_FLAGS;
		saved->valid = true;
		saved->command = (uint16_t)emu_dev_cfg_get(d->cfg, EMU_PCI_COMMAND, 2);
		saved->msix_ctl = d->msix_cap ? (uint16_t)emu_dev_cfg_get(d->cfg, msix, 2) : 0;
		saved->msi_ctl = d->msi_cap ? (uint16_t)emu_dev_cfg_get(d->cfg, msi, 2) : 0;
		d->model->reset(d);
		__atomic_store_n(&d->intx_level, false, __ATOMIC_RELEASE);
		set_ctls(d, &(struct emu__dev_saved){ 0 });	/* decoding, mastering, MSI-X, MSI off */
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_unlock(&dev_lock);
}

void emu__dev_eeh_restore(int group, const struct emu__dev_saved *saved)
{
	struct emu_dev *d;

	pthread_mutex_lock(&dev_lock);
	d = devs[group];
	if (d) {
		pthread_mutex_lock(&d->lock);
		set_ctls(d, saved);
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_unlock(&dev_lock);
}

uint64_t emu_dev_bar_read(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	pthread_mutex_lock(&d->lock);
	if (d->bar[bar].ram)
		memcpy(&v, d->bar[bar].ram + off, size);	/* little-endian host */
	else
		v = d->model->bar_read(d, bar, off, size);
	pthread_mutex_unlock(&d->lock);
	return v;
}

void emu_dev_bar_write(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size, uint64_t val)
{
	pthread_mutex_lock(&d->lock);
	if (d->bar[bar].ram)
		memcpy(d->bar[bar].ram + off, &val, size);
	else
		d->model->bar_write(d, bar, off, size, val);
	pthread_mutex_unlock(&d->lock);
}

/* ------------------------------------------------------ for the models */

bool emu__dev_msix_enabled(const struct emu_dev *d)
{
	uint32_t f;

	if (!d->msix_cap)
		return false;
	f = emu_dev_cfg_get(d->cfg, d->msix_cap + EMU_PCI_MSIX_FLAGS, 2);
	return (f & EMU_PCI_MSIX_FLAGS_ENABLE) != 0;
}

bool emu__dev_msi_enabled(const struct emu_dev *d)
{
	if (!d->msi_cap)
		return false;
	return (emu_dev_cfg_get(d->cfg, d->msi_cap + EMU_PCI_MSI_FLAGS, 2) & EMU_PCI_MSI_FLAGS_ENABLE) != 0;
}

void emu_dev_interrupt(struct emu_dev *d, unsigned vector)
{
	if (emu__dev_msix_enabled(d)) {
		uint32_t f = emu_dev_cfg_get(d->cfg, d->msix_cap + EMU_PCI_MSIX_FLAGS, 2);

		/* A masked function holds its messages; we drop them (no PBA kept). */
		if (!(f & EMU_PCI_MSIX_FLAGS_MASKALL) && vector < d->msix_vectors && d->sink)
			d->sink(d->sink_ctx, EMU_DEV_IRQ_MSIX, vector);
		return;
	}
	if (emu__dev_msi_enabled(d)) {
		uint32_t f = emu_dev_cfg_get(d->cfg, d->msi_cap + EMU_PCI_MSI_FLAGS, 2);
		unsigned enabled = 1u << ((f & EMU_PCI_MSI_FLAGS_QSIZE) >> 4);

		/* Fewer vectors enabled than the function uses: they share the first. */
		if (d->sink)
			d->sink(d->sink_ctx, EMU_DEV_IRQ_MSI, vector < enabled ? vector : 0);
		return;
	}
	if (!d->cfg[EMU_PCI_INTERRUPT_PIN] ||
	    (emu_dev_cfg_get(d->cfg, EMU_PCI_COMMAND, 2) & EMU_PCI_COMMAND_INTX_DISABLE))
		return;
	__atomic_store_n(&d->intx_level, true, __ATOMIC_RELEASE);
	if (d->sink)
		d->sink(d->sink_ctx, EMU_DEV_IRQ_INTX, 0);
}

void emu_dev_intx_deassert(struct emu_dev *d)
{
	__atomic_store_n(&d->intx_level, false, __ATOMIC_RELEASE);
}

static bool master(const struct emu_dev *d)
{
	return (emu_dev_cfg_get(d->cfg, EMU_PCI_COMMAND, 2) & EMU_PCI_COMMAND_MASTER) != 0;
}

int emu_dev_dma_read(struct emu_dev *d, uint64_t iova, void *buf, size_t len)
{
	return master(d) ? emu_dma_read(d->group, iova, buf, len) : -EIO;
}

int emu_dev_dma_write(struct emu_dev *d, uint64_t iova, const void *buf, size_t len)
{
	return master(d) ? emu_dma_write(d->group, iova, buf, len) : -EIO;
}

void emu_dev_add_cap(struct emu_dev *d, unsigned off, uint8_t id, const void *body, unsigned len)
{
	d->cfg[off] = id;
	d->cfg[off + 1] = d->cfg[EMU_PCI_CAPABILITY_LIST];
	memcpy(&d->cfg[off + 2], body, len - 2);
	d->cfg[EMU_PCI_CAPABILITY_LIST] = (uint8_t)off;
	d->cfg[EMU_PCI_STATUS] |= EMU_PCI_STATUS_CAP_LIST;
}

void emu_dev_add_msi(struct emu_dev *d, unsigned off, unsigned vectors)
{
	uint8_t body[EMU_PCI_MSI_CAP_LEN_64 - 2];
	unsigned log2 = 0;

	while ((1u << log2) < vectors)
		log2++;
	memset(body, 0, sizeof(body));
	emu_dev_cfg_put(body, 0, 2, EMU_PCI_MSI_FLAGS_64BIT | log2 << 1);
	emu_dev_add_cap(d, off, EMU_PCI_CAP_ID_MSI, body, EMU_PCI_MSI_CAP_LEN_64);
	d->msi_cap = off;
	d->msi_vectors = 1u << log2;
}

void emu_dev_add_msix(struct emu_dev *d, unsigned off, unsigned vectors, unsigned bar,
		      uint32_t table_off, uint32_t pba_off)
{
	uint8_t body[10];

	emu_dev_cfg_put(body, 0, 2, (vectors - 1) & EMU_PCI_MSIX_FLAGS_QSIZE);
	emu_dev_cfg_put(body, 2, 4, table_off | bar);
	emu_dev_cfg_put(body, 6, 4, pba_off | bar);
	emu_dev_add_cap(d, off, EMU_PCI_CAP_ID_MSIX, body, 12);
	d->msix_cap = off;
	d->msix_vectors = vectors;
}
