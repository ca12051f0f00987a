/* SPDX-License-Identifier: MIT */
/*
 * Model "dma-engine": a test device that copies memory when told to, so a
 * client can make a device DMA through nothing but its device fd.
 *
 * BAR0 (4 KiB, 32-bit memory, registers, little-endian; emu/dev_dma.h
 * names them): SRC, DST, LEN, DIR, CTRL, DOORBELL, STATUS, counters.
 * BAR2 (64 KiB, 64-bit prefetchable, RAM): the device's local buffer.
 * BAR4 (4 KiB, RAM): the MSI-X table (2 vectors) at 0 and its PBA at 0x800.
 * INTx pin A; MSI-X or MSI vector 0 on completion, vector 1 on error.
 *
 * Why the transfer runs inside the doorbell write: it keeps the device's
 * state machine trivially consistent (a reset or a second doorbell waits on
 * the device lock until the transfer is over, as a device that completes
 * its work before answering the next bus cycle), and the DMA itself still
 * goes page by page through the walker, the TCE cache and the fault log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/dev.h"
#include "emu/dev_dma.h"
#include "util/fail.h"

struct dmae {
	uint64_t src, dst;
	uint32_t len, dir, ctrl, status;
	uint64_t completed, bytes;
};

static int dmae_check_params(const char *params)
{
	if (*params) {
		fprintf(stderr, "dma-engine: takes no parameters (\"%s\")\n", params);
		return -EINVAL;
	}
	return 0;
}

static int dmae_create(struct emu_dev *d, const char *params)
{
	struct dmae *e;

	if (dmae_check_params(params))
		return -EINVAL;
	if (util_should_fail("emu_dmae_alloc"))
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	d->priv = e;
	d->bar[0].size = EMU_DMAE_BAR0_SIZE;
	d->bar[2].size = EMU_DMAE_LOCAL_SIZE;
	d->bar[2].flags = EMU_DEV_BAR_RAM | EMU_DEV_BAR_MEM64 | EMU_DEV_BAR_PREFETCH;
	d->bar[4].size = EMU_DMAE_MSIX_BAR_SIZE;
	d->bar[4].flags = EMU_DEV_BAR_RAM;
	d->cfg[EMU_PCI_INTERRUPT_PIN] = 1;
	/* the list: 0x34 -> MSI-X at 0x40 -> MSI at 0x50 (each add goes first) */
	emu_dev_add_msi(d, EMU_DMAE_MSI_CAP, EMU_DMAE_VECTORS);
	emu_dev_add_msix(d, EMU_DMAE_MSIX_CAP, EMU_DMAE_VECTORS, 4, 0, EMU_DMAE_PBA);
	return 0;
}

static void dmae_destroy(struct emu_dev *d)
{
	free(d->priv);
	d->priv = NULL;
}

static void dmae_reset(struct emu_dev *d)
{
	memset(d->priv, 0, sizeof(struct dmae));
}

static uint64_t dmae_read(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size)
{
	struct dmae *e = d->priv;
	uint64_t v;

	(void)bar;
	switch (off & ~7ull) {
	case EMU_DMAE_ID: v = EMU_DMAE_ID_VALUE | (uint64_t)EMU_DMAE_VERSION_VALUE << 32; break;
	case EMU_DMAE_SRC: v = e->src; break;
	case EMU_DMAE_DST: v = e->dst; break;
	case EMU_DMAE_LEN: v = e->len | (uint64_t)e->dir << 32; break;
	case EMU_DMAE_CTRL: v = e->ctrl; break;		/* DOORBELL reads 0 */
	case EMU_DMAE_STATUS: v = e->status; break;
	case EMU_DMAE_COMPLETED: v = e->completed; break;
	case EMU_DMAE_BYTES: v = e->bytes; break;
	default: v = 0; break;
	}
	v >>= 8 * (off & 7);
	return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

/* Stores @size bytes of @val at byte @off of the 64-bit register *@reg. */
static void put(uint64_t *reg, uint64_t off, unsigned size, uint64_t val)
{
	unsigned shift = 8 * (unsigned)(off & 7);
	uint64_t mask = size == 8 ? ~0ull : ((1ull << (8 * size)) - 1) << shift;

	*reg = (*reg & ~mask) | ((val << shift) & mask);
}

static uint32_t errcode(int rc)
{
	switch (rc) {
	case -EFAULT: return EMU_DMAE_ERR_FAULT;
	case -EACCES: return EMU_DMAE_ERR_PERM;
	case -EIO: return EMU_DMAE_ERR_MASTER;
	case -ENOMEM: return EMU_DMAE_ERR_NOMEM;
	case -ESHUTDOWN: return EMU_DMAE_ERR_FROZEN;
	default: return EMU_DMAE_ERR_RANGE;
	}
}

/* Whether [off, off + len) lies in the local buffer. */
static bool local_ok(uint64_t off, uint32_t len)
{
	return off <= EMU_DMAE_LOCAL_SIZE && len <= EMU_DMAE_LOCAL_SIZE - off;
}

static int transfer(struct emu_dev *d, struct dmae *e)
{
	uint8_t *local = d->bar[2].ram, *buf;
	int rc;

	if (e->len > EMU_DMAE_MAX_LEN)
		return -EINVAL;
	switch (e->dir) {
	case EMU_DMAE_DIR_MEM_TO_LOCAL:
		if (!local_ok(e->dst, e->len))
			return -EINVAL;
		return emu_dev_dma_read(d, e->src, local + e->dst, e->len);
	case EMU_DMAE_DIR_LOCAL_TO_MEM:
		if (!local_ok(e->src, e->len))
			return -EINVAL;
		return emu_dev_dma_write(d, e->dst, local + e->src, e->len);
	case EMU_DMAE_DIR_MEM_TO_MEM:
		if (util_should_fail("emu_dmae_buf"))
			return -ENOMEM;
		buf = malloc(e->len ? e->len : 1);
		if (!buf)
			return -ENOMEM;
		rc = emu_dev_dma_read(d, e->src, buf, e->len);
		if (!rc)
			rc = emu_dev_dma_write(d, e->dst, buf, e->len);
		free(buf);
		return rc;
	default:
		return -EINVAL;
	}
}

static void doorbell(struct emu_dev *d, struct dmae *e)
{
	int rc = transfer(d, e);

	e->status &= ~(EMU_DMAE_STATUS_DONE | EMU_DMAE_STATUS_ERROR | EMU_DMAE_STATUS_CODE_MASK);
	if (rc) {
		e->status |= EMU_DMAE_STATUS_ERROR | errcode(rc) << EMU_DMAE_STATUS_CODE_SHIFT;
	} else {
		e->status |= EMU_DMAE_STATUS_DONE;
		e->completed++;
		e->bytes += e->len;
	}
	if (e->ctrl & EMU_DMAE_CTRL_IRQ)
		emu_dev_interrupt(d, rc ? EMU_DMAE_VEC_ERROR : EMU_DMAE_VEC_DONE);
}

static void dmae_write(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size, uint64_t val)
{
	struct dmae *e = d->priv;
	uint64_t r;

	(void)bar;
	switch (off & ~7ull) {
	case EMU_DMAE_SRC:
		put(&e->src, off, size, val);
		break;
	case EMU_DMAE_DST:
		put(&e->dst, off, size, val);
		break;
	case EMU_DMAE_LEN:
		r = e->len | (uint64_t)e->dir << 32;
		put(&r, off, size, val);
		e->len = (uint32_t)r;
		e->dir = (uint32_t)(r >> 32);
		break;
	case EMU_DMAE_CTRL:
		r = e->ctrl;
		put(&r, off, size, val);
		e->ctrl = (uint32_t)r & EMU_DMAE_CTRL_IRQ;
		if ((r >> 32) & EMU_DMAE_DOORBELL_GO)
			doorbell(d, e);
		break;
	case EMU_DMAE_STATUS:
		r = 0;
		put(&r, off, size, val);
		/* Write 1 to clear DONE / ERROR (the code goes with ERROR). */
		if (r & EMU_DMAE_STATUS_ERROR)
			e->status &= ~EMU_DMAE_STATUS_CODE_MASK;
		e->status &= ~((uint32_t)r & (EMU_DMAE_STATUS_DONE | EMU_DMAE_STATUS_ERROR));
		if (!(e->status & (EMU_DMAE_STATUS_DONE | EMU_DMAE_STATUS_ERROR)))
			emu_dev_intx_deassert(d);
		break;
	default:
		break;	/* read-only or unassigned: ignored, as a device does */
	}
}

const struct emu_dev_model emu__dev_dma_engine = {
	.name = "dma-engine",
	.vendor = EMU_DMAE_VENDOR,
	.device = EMU_DMAE_DEVICE,
	.subsystem_vendor = EMU_DMAE_VENDOR,
	.subsystem_device = EMU_DMAE_DEVICE,
	.class_code = EMU_DMAE_CLASS,
	.revision = 1,
	.check_params = dmae_check_params,
	.create = dmae_create,
	.destroy = dmae_destroy,
	.reset = dmae_reset,
	.bar_read = dmae_read,
	.bar_write = dmae_write,
};
