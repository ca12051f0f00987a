/* SPDX-License-Identifier: MIT */
/*
 * Region access of the device fd: the config space as vfio-pci virtualises
 * it (drivers/vfio/pci/vfio_pci_config.c) and the BARs by read/write
 * (vfio_pci_rdwr.c).
 *
 * Config space: a virtual copy (vcfg) taken from the function at first
 * open, and a per-bit write mask (wmask).  That one mask expresses what
 * vfio-pci's permission tables do for our functions:
 *   - BARs: writable address bits only, so writing all ones reads back the
 *     size mask with the type bits (the BAR sizing of every PCI driver);
 *     the upper half of a 64-bit BAR likewise; an absent BAR reads 0.
 *   - ROM BAR: no ROM, reads 0 whatever is written (QEMU's probe).
 *   - command: IO, memory, bus master, parity, SERR, INTx disable; the
 *     new value also goes to the function, which acts on bus master and
 *     INTx disable.
 *   - interrupt line: a plain virtual byte; interrupt pin read-only.
 *   - MSI-X message control: enable and mask-all are virtual (the
 *     function's own enable follows SET_IRQS, as the host kernel owns it).
 *   - MSI (vfio_msi_config_read/write, init_pci_cap_msi_perm): the low
 *     byte of the message control, the address and the data are virtual
 *     and writable; a read shows QMASK as msi_qmax (0 until MSI was first
 *     enabled by SET_IRQS: the vectors of that enable); a write of the
 *     control keeps enable clear unless MSI is enabled, caps QSIZE at
 *     msi_qmax, and gives the result to the function.
 *   - everything else read-only.
 * The status register's interrupt bit is read live from the INTx line.
 * Accesses outside the config space fail with EFAULT (vfio_config_do_rw).
 *
 * BARs: accesses are split into naturally aligned pieces of 8, 4, 2 and 1
 * bytes, as vfio_pci_core_do_io_rw does; a transfer running past the BAR's
 * end is cut there, one starting at or past it fails with EINVAL; with
 * memory decode off in the (virtual) command register it fails with EIO
 * (__vfio_pci_memory_enabled, checked once per call here); the MSI-X table
 * reads as all ones and drops writes (vfio-pci keeps it for itself).
 *
 * BAR mmaps are not revoked: the kernel zaps them across a reset and while
 * memory decode is off (vfio_pci_zap_and_down_write_memory_lock), and its
 * fault handler maps them back, or raises SIGBUS while decode is off.  Ours
 * are the function's memfd mapped into the program, which we cannot follow
 * once handed out (the program may munmap and reuse the range), so they
 * stay valid: across a reset that is what the program sees anyway (the
 * kernel's refault is invisible but for a wait); with decode off, where the
 * kernel would raise SIGBUS, the access reaches the function's memory.
 *
 * EEH: every access that passed those checks asks the function's PE first
 * (emu_pe_access, docs/eeh.md): a frozen PE, or an injected error that
 * matches, answers a read with all ones and drops a write, as the host
 * bridge does for a frozen PE's MMIO and config cycles.  BAR accesses are
 * matched by the bus address the BAR is programmed with in vcfg, config
 * accesses by their offset.  mmap'ed BARs are plain memory and not stopped.
 */
#include <errno.h>
#include <string.h>

#include "spapr/device_priv.h"

#define COMMAND_WMASK 0x0547u		/* IO, MEM, MASTER, PARITY, SERR, INTX_DISABLE */
#define CHUNK 256u

static void put_mask(uint8_t *m, unsigned off, unsigned size, uint32_t v)
{
	emu_dev_cfg_put(m, off, size, v);
}

void spapr__vcfg_init(struct spapr_vdev *v)
{
	struct emu_dev *d = v->dev;

	for (unsigned off = 0; off < EMU_DEV_CFG_SIZE; off += 4)
		emu_dev_cfg_put(v->vcfg, off, 4, emu_dev_cfg_read(d, off, 4));
	memset(v->wmask, 0, sizeof(v->wmask));
	for (unsigned i = 0; i < EMU_DEV_BARS; i++) {
		uint64_t size = d->bar[i].size;
		unsigned off = EMU_PCI_BASE_ADDRESS_0 + 4 * i;

		if (!size)
			continue;
		put_mask(v->wmask, off, 4, (uint32_t)~(size - 1) & ~0xfu);
		if (d->bar[i].flags & EMU_DEV_BAR_MEM64) {
			put_mask(v->wmask, off + 4, 4, (uint32_t)(~(size - 1) >> 32));
			i++;
		}
	}
	emu_dev_cfg_put(v->vcfg, EMU_PCI_ROM_ADDRESS, 4, 0);
	put_mask(v->wmask, EMU_PCI_COMMAND, 2, COMMAND_WMASK);
	put_mask(v->wmask, EMU_PCI_INTERRUPT_LINE, 1, 0xff);
	if (d->msix_cap)
		put_mask(v->wmask, d->msix_cap + EMU_PCI_MSIX_FLAGS, 2,
			 EMU_PCI_MSIX_FLAGS_ENABLE | EMU_PCI_MSIX_FLAGS_MASKALL);
	if (d->msi_cap) {
		put_mask(v->wmask, d->msi_cap + EMU_PCI_MSI_FLAGS, 1, 0xff);
		put_mask(v->wmask, d->msi_cap + EMU_PCI_MSI_ADDRESS_LO, 4, 0xffffffffu);
		put_mask(v->wmask, d->msi_cap + EMU_PCI_MSI_ADDRESS_HI, 4, 0xffffffffu);
		put_mask(v->wmask, d->msi_cap + EMU_PCI_MSI_DATA_64, 2, 0xffff);
	}
}

/* Whether [pos, pos + count) touches the 2-byte field at @field (0: none). */
static bool touches(uint64_t pos, size_t count, unsigned field)
{
	return field && pos < field + 2 && pos + count > field;
}

uint64_t spapr__region_size(const struct spapr_vdev *v, unsigned index)
{
	if (index <= VFIO_PCI_BAR5_REGION_INDEX)
		return v->dev->bar[index].size;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX)
		return EMU_DEV_CFG_SIZE;
	return 0;	/* no ROM, no VGA */
}

bool spapr__bar_mmappable(const struct spapr_vdev *v, unsigned index)
{
	const struct emu_dev_bar *b;

	if (index > VFIO_PCI_BAR5_REGION_INDEX)
		return false;
	b = &v->dev->bar[index];
	return b->size >= EMU_PAGE_SIZE && (b->flags & EMU_DEV_BAR_RAM);
}

/* A stopped access: a read is all ones, a write is dropped. */
static long stopped(void *ubuf, size_t count, bool write)
{
	uint8_t ones[CHUNK];
	size_t done;
	int rc;

	if (write)
		return (long)count;
	memset(ones, 0xff, sizeof(ones));
	for (done = 0; done < count; done += CHUNK) {
		rc = spapr__copy_out((uint8_t *)ubuf + done, ones,
				     count - done < CHUNK ? count - done : CHUNK);
		if (rc)
			return rc;
	}
	return (long)count;
}

/* The bus address BAR @bar is programmed with in the virtual config space. */
static uint64_t bar_address(struct spapr_vdev *v, unsigned bar)
{
	unsigned off = EMU_PCI_BASE_ADDRESS_0 + 4 * bar;
	uint64_t a;

	pthread_mutex_lock(&v->lock);
	a = emu_dev_cfg_get(v->vcfg, off, 4) & ~0xfull;
	if ((v->dev->bar[bar].flags & EMU_DEV_BAR_MEM64) && bar + 1 < EMU_DEV_BARS)
		a |= (uint64_t)emu_dev_cfg_get(v->vcfg, off + 4, 4) << 32;
	pthread_mutex_unlock(&v->lock);
	return a;
}

static long config_rw(struct spapr_vdev *v, uint64_t pos, void *ubuf, size_t count, bool write)
{
	unsigned msi_flags = v->dev->msi_cap ? v->dev->msi_cap + EMU_PCI_MSI_FLAGS : 0;
	uint8_t buf[EMU_DEV_CFG_SIZE];
	int rc;

	if (!count)
		return 0;	/* vfio_pci_config_rw's loop does not run */
	if (pos >= EMU_DEV_CFG_SIZE || count > EMU_DEV_CFG_SIZE - pos)
		return -EFAULT;
	if (write) {
		rc = spapr__copy_in(buf, ubuf, count);
		if (rc)
			return rc;
	}
	if (!emu_pe_access(v->group, write ? EMU_PE_STORE_CFG : EMU_PE_LOAD_CFG, pos))
		return stopped(ubuf, count, write);
	pthread_mutex_lock(&v->lock);
	if (write) {
		for (size_t i = 0; i < count; i++) {
			unsigned o = (unsigned)pos + (unsigned)i;

			v->vcfg[o] = (uint8_t)((v->vcfg[o] & ~v->wmask[o]) | (buf[i] & v->wmask[o]));
		}
		if (touches(pos, count, EMU_PCI_COMMAND))
			emu_dev_cfg_write(v->dev, EMU_PCI_COMMAND, 2,
					  emu_dev_cfg_get(v->vcfg, EMU_PCI_COMMAND, 2));
		if (touches(pos, count, msi_flags))
			spapr__msi_flags_written(v);
	} else {
		memcpy(buf, v->vcfg + pos, count);
		if (touches(pos, count, msi_flags)) {
			uint16_t vf = (uint16_t)emu_dev_cfg_get(v->vcfg, msi_flags, 2);
			uint8_t f[2];

			emu_dev_cfg_put(f, 0, 2, spapr__msi_flags_read(v, vf));
			for (unsigned i = 0; i < 2; i++)
				if (msi_flags + i >= pos && msi_flags + i < pos + count)
					buf[msi_flags + i - pos] = f[i];
		}
		if (pos <= EMU_PCI_STATUS && pos + count > EMU_PCI_STATUS) {
			buf[EMU_PCI_STATUS - pos] &= (uint8_t)~EMU_PCI_STATUS_INTERRUPT;
			if (__atomic_load_n(&v->dev->intx_level, __ATOMIC_ACQUIRE))
				buf[EMU_PCI_STATUS - pos] |= EMU_PCI_STATUS_INTERRUPT;
		}
	}
	pthread_mutex_unlock(&v->lock);
	if (!write) {
		rc = spapr__copy_out(ubuf, buf, count);
		if (rc)
			return rc;
	}
	return (long)count;
}

/* The piece size at @off with @left bytes to go. */
static unsigned piece(uint64_t off, size_t left)
{
	if (left >= 8 && !(off & 7))
		return 8;
	if (left >= 4 && !(off & 3))
		return 4;
	if (left >= 2 && !(off & 1))
		return 2;
	return 1;
}

/* [*x_start, *x_end): the MSI-X table when BAR @bar holds it, else empty. */
static void msix_table(const struct emu_dev *d, unsigned bar, uint64_t *x_start, uint64_t *x_end)
{
	uint32_t t;

	*x_start = *x_end = 0;
	if (!d->msix_cap)
		return;
	t = emu_dev_cfg_get(d->cfg, d->msix_cap + EMU_PCI_MSIX_TABLE, 4);
	if ((t & 7) != bar)
		return;
	*x_start = t & ~7u;
	*x_end = *x_start + 16ull * d->msix_vectors;
}

/* Memory decode on in the virtual command register (__vfio_pci_memory_enabled). */
static bool memory_enabled(struct spapr_vdev *v)
{
	bool on;

	pthread_mutex_lock(&v->lock);
	on = (emu_dev_cfg_get(v->vcfg, EMU_PCI_COMMAND, 2) & EMU_PCI_COMMAND_MEMORY) != 0;
	pthread_mutex_unlock(&v->lock);
	return on;
}

static long bar_rw(struct spapr_vdev *v, unsigned bar, uint64_t pos, uint8_t *ubuf, size_t count,
		   bool write)
{
	uint64_t end = v->dev->bar[bar].size, x_start, x_end;
	uint8_t buf[CHUNK];
	size_t done = 0;
	int rc;

	if (pos >= end)
		return -EINVAL;
	if (count > end - pos)
		count = (size_t)(end - pos);
	if (!memory_enabled(v))
		return -EIO;	/* every BAR of our functions is a memory BAR */
	if (!emu_pe_access(v->group, write ? EMU_PE_STORE_MEM : EMU_PE_LOAD_MEM,
			   bar_address(v, bar) + pos))
		return stopped(ubuf, count, write);
	msix_table(v->dev, bar, &x_start, &x_end);
	while (done < count) {
		size_t n = count - done < CHUNK ? count - done : CHUNK, k = 0;

		if (write) {
			rc = spapr__copy_in(buf, ubuf + done, n);
			if (rc)
				return rc;
		}
		while (k < n) {
			uint64_t off = pos + done + k;
			unsigned sz = piece(off, n - k);
			uint64_t val = 0;

			while (off < x_start && off + sz > x_start)
				sz >>= 1;	/* stop at the table, as vfio-pci does */
			if (off >= x_start && off < x_end) {
				if (!write)
					buf[k] = 0xff;
				k++;
				continue;
			}
			if (write) {
				memcpy(&val, buf + k, sz);
				emu_dev_bar_write(v->dev, bar, off, sz, val);
			} else {
				val = emu_dev_bar_read(v->dev, bar, off, sz);
				memcpy(buf + k, &val, sz);
			}
			k += sz;
		}
		if (!write) {
			rc = spapr__copy_out(ubuf + done, buf, n);
			if (rc)
				return rc;
		}
		done += n;
	}
	return (long)count;
}

long spapr__device_region_rw(struct spapr_vdev *v, unsigned index, uint64_t pos, void *ubuf,
			     size_t count, bool write)
{
	if (!count)
		return 0;	/* vfio_pci_core_read/write: nothing to do, whatever the offset */
	if (index == SPAPR_FAULT_REGION_INDEX)
		return spapr__fault_region_rw(v, pos, ubuf, count, write);
	if (index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX)
		return config_rw(v, pos, ubuf, count, write);
	if (index <= VFIO_PCI_BAR5_REGION_INDEX)
		return bar_rw(v, index, pos, ubuf, count, write);
	return -EINVAL;	/* no ROM, no VGA */
}
