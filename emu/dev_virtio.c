/* SPDX-License-Identifier: MIT */
/*
 * The modern virtio-pci transport and split virtqueue shared by the virtio
 * models (layout in emu/dev_virtio.h).  A model supplies its device id,
 * features, device config and one function that serves a request: the
 * bytes the driver gave (device-readable descriptors, concatenated) and
 * room for the answer (device-writable descriptors).
 *
 * Why requests are gathered into bounce buffers: a model then sees one
 * contiguous request however the driver split it into descriptors, and
 * every byte still crosses the IOMMU as a DMA of the function, read before
 * the request is served and written after, as a device with an internal
 * buffer does.
 *
 * Why a fault sets DEVICE_NEEDS_RESET: the spec's way for a device to say
 * it can no longer go on; the driver (or test) sees it in the status and
 * the IOMMU's fault log says which address failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/dev.h"
#include "emu/dev_virtio.h"
#include "emu/dev_virtio_priv.h"
#include "util/fail.h"

#define MAX_REQUEST (4u << 20)

static uint64_t offered(const struct emu__virtio *v)
{
	return v->m->features | 1ull << EMU_VIRTIO_F_VERSION_1 |
	       (v->no_platform ? 0 : 1ull << EMU_VIRTIO_F_ACCESS_PLATFORM);
}

/* Adds a virtio_pci_cap (16 bytes, 20 for notify) at @off. */
static void add_cap(struct emu_dev *d, unsigned off, uint8_t type, uint32_t bar_off, uint32_t len)
{
	uint8_t b[18] = { 0 };
	unsigned n = type == 2 ? 20 : 16;

	b[0] = (uint8_t)n;		/* cap_len */
	b[1] = type;			/* cfg_type */
	b[2] = EMU_VIRTIO_BAR;
	emu_dev_cfg_put(b, 6, 4, bar_off);
	emu_dev_cfg_put(b, 10, 4, len);
	if (type == 2)
		emu_dev_cfg_put(b, 14, 4, EMU_VIRTIO_NOTIFY_MULT);
	emu_dev_add_cap(d, off, EMU_PCI_CAP_ID_VNDR, b, n);
}

int emu__virtio_init(struct emu_dev *d, const struct emu__virtio_model *m, void *mpriv,
		     bool no_platform)
{
	struct emu__virtio *v;

	if (util_should_fail("emu_virtio_alloc"))
		return -ENOMEM;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->m = m;
	v->mpriv = mpriv;
	v->no_platform = no_platform;
	v->qsize = EMU_VIRTIO_QUEUE_MAX;
	v->qmsix = v->msix_config = EMU_VIRTIO_NO_VECTOR;
	d->priv = v;
	d->bar[EMU_VIRTIO_MSIX_BAR].size = 0x1000;
	d->bar[EMU_VIRTIO_MSIX_BAR].flags = EMU_DEV_BAR_RAM;
	d->bar[EMU_VIRTIO_BAR].size = EMU_VIRTIO_BAR_SIZE;
	d->bar[EMU_VIRTIO_BAR].flags = EMU_DEV_BAR_MEM64 | EMU_DEV_BAR_PREFETCH;
	d->cfg[EMU_PCI_INTERRUPT_PIN] = 1;
	emu_dev_add_msix(d, 0x98, EMU_VIRTIO_VECTORS, EMU_VIRTIO_MSIX_BAR, 0, 0x800);
	add_cap(d, 0x84, 3, EMU_VIRTIO_ISR, 1);
	add_cap(d, 0x70, 4, EMU_VIRTIO_DEVICE, 0x1000);
	add_cap(d, 0x5c, 2, EMU_VIRTIO_NOTIFY, 0x1000);
	add_cap(d, 0x4c, 1, EMU_VIRTIO_COMMON, 0x1000);
	return 0;
}

void emu__virtio_destroy(struct emu_dev *d)
{
	struct emu__virtio *v = d->priv;

	if (v->m->destroy)
		v->m->destroy(v->mpriv);
	free(v);
	d->priv = NULL;
}

void emu__virtio_reset(struct emu_dev *d)
{
	struct emu__virtio *v = d->priv;

	v->dfselect = v->gfselect = 0;
	v->driver_features = 0;
	v->msix_config = v->qmsix = EMU_VIRTIO_NO_VECTOR;
	v->status = 0;
	v->qselect = 0;
	v->qsize = EMU_VIRTIO_QUEUE_MAX;
	v->qenable = 0;
	v->qdesc = v->qavail = v->qused = 0;
	v->last_avail = v->used_idx = 0;
	v->isr = 0;
	emu_dev_intx_deassert(d);
}

/* The common cfg as the driver reads it. */
static void common_image(const struct emu__virtio *v, uint8_t *c)
{
	bool q0 = v->qselect == 0;

	memset(c, 0, EMU_VIRTIO_COMMON_SIZE);
	emu_dev_cfg_put(c, EMU_VIRTIO_DFSELECT, 4, v->dfselect);
	emu_dev_cfg_put(c, EMU_VIRTIO_DF, 4,
			v->dfselect < 2 ? (uint32_t)(offered(v) >> (32 * v->dfselect)) : 0);
	emu_dev_cfg_put(c, EMU_VIRTIO_GFSELECT, 4, v->gfselect);
	emu_dev_cfg_put(c, EMU_VIRTIO_GF, 4,
			v->gfselect < 2 ? (uint32_t)(v->driver_features >> (32 * v->gfselect)) : 0);
	emu_dev_cfg_put(c, EMU_VIRTIO_MSIX_CONFIG, 2, v->msix_config);
	emu_dev_cfg_put(c, EMU_VIRTIO_NUM_QUEUES, 2, 1);
	c[EMU_VIRTIO_STATUS] = v->status;
	c[EMU_VIRTIO_CFG_GENERATION] = 0;
	emu_dev_cfg_put(c, EMU_VIRTIO_Q_SELECT, 2, v->qselect);
	if (!q0)
		return;		/* no such queue: size 0 */
	emu_dev_cfg_put(c, EMU_VIRTIO_Q_SIZE, 2, v->qsize);
	emu_dev_cfg_put(c, EMU_VIRTIO_Q_MSIX, 2, v->qmsix);
	emu_dev_cfg_put(c, EMU_VIRTIO_Q_ENABLE, 2, v->qenable);
	emu_dev_cfg_put(c, EMU_VIRTIO_Q_NOFF, 2, 0);
	for (unsigned i = 0; i < 2; i++) {
		emu_dev_cfg_put(c, EMU_VIRTIO_Q_DESC + 4 * i, 4, (uint32_t)(v->qdesc >> (32 * i)));
		emu_dev_cfg_put(c, EMU_VIRTIO_Q_AVAIL + 4 * i, 4, (uint32_t)(v->qavail >> (32 * i)));
		emu_dev_cfg_put(c, EMU_VIRTIO_Q_USED + 4 * i, 4, (uint32_t)(v->qused >> (32 * i)));
	}
}

static uint64_t get64(const uint8_t *c, unsigned off)
{
	return emu_dev_cfg_get(c, off, 4) | (uint64_t)emu_dev_cfg_get(c, off + 4, 4) << 32;
}

/* The driver set the status to @s. */
static void set_status(struct emu_dev *d, struct emu__virtio *v, uint8_t s)
{
	uint64_t need = 1ull << EMU_VIRTIO_F_VERSION_1 |
			(v->no_platform ? 0 : 1ull << EMU_VIRTIO_F_ACCESS_PLATFORM);

	if (!s) {
		emu__virtio_reset(d);
		return;
	}
	/* FEATURES_OK only for a feature set we can honour. */
	if ((s & EMU_VIRTIO_S_FEATURES_OK) && !(v->status & EMU_VIRTIO_S_FEATURES_OK) &&
	    ((v->driver_features & need) != need || (v->driver_features & ~offered(v))))
		s &= (uint8_t)~EMU_VIRTIO_S_FEATURES_OK;
	v->status = (uint8_t)(s | (v->status & EMU_VIRTIO_S_NEEDS_RESET));
}

static void common_write(struct emu_dev *d, struct emu__virtio *v, uint64_t off, unsigned size,
			 uint64_t val)
{
	uint8_t c[EMU_VIRTIO_COMMON_SIZE];
	uint8_t status;

	if (off + size > EMU_VIRTIO_COMMON_SIZE)
		return;
	common_image(v, c);
	for (unsigned i = 0; i < size; i++)
		c[off + i] = (uint8_t)(val >> (8 * i));
	v->dfselect = emu_dev_cfg_get(c, EMU_VIRTIO_DFSELECT, 4);
	v->gfselect = emu_dev_cfg_get(c, EMU_VIRTIO_GFSELECT, 4);
	if (v->gfselect < 2 && off < EMU_VIRTIO_GF + 4 && off + size > EMU_VIRTIO_GF &&
	    !(v->status & EMU_VIRTIO_S_FEATURES_OK)) {
		unsigned sh = 32 * v->gfselect;

		v->driver_features = (v->driver_features & ~(0xffffffffull << sh)) |
				     (uint64_t)emu_dev_cfg_get(c, EMU_VIRTIO_GF, 4) << sh;
	}
	v->msix_config = (uint16_t)emu_dev_cfg_get(c, EMU_VIRTIO_MSIX_CONFIG, 2);
	v->qselect = (uint16_t)emu_dev_cfg_get(c, EMU_VIRTIO_Q_SELECT, 2);
	if (v->qselect == 0 && off >= EMU_VIRTIO_Q_SIZE && !v->qenable) {
		uint16_t qs = (uint16_t)emu_dev_cfg_get(c, EMU_VIRTIO_Q_SIZE, 2);

		/* a power of two up to the maximum, as the split ring needs */
		if (qs && qs <= EMU_VIRTIO_QUEUE_MAX && !(qs & (qs - 1)))
			v->qsize = qs;
		v->qmsix = (uint16_t)emu_dev_cfg_get(c, EMU_VIRTIO_Q_MSIX, 2);
		v->qdesc = get64(c, EMU_VIRTIO_Q_DESC);
		v->qavail = get64(c, EMU_VIRTIO_Q_AVAIL);
		v->qused = get64(c, EMU_VIRTIO_Q_USED);
		v->qenable = emu_dev_cfg_get(c, EMU_VIRTIO_Q_ENABLE, 2) == 1;
	} else if (v->qselect == 0 && off >= EMU_VIRTIO_Q_MSIX && off < EMU_VIRTIO_Q_ENABLE) {
		v->qmsix = (uint16_t)emu_dev_cfg_get(c, EMU_VIRTIO_Q_MSIX, 2);
	}
	status = c[EMU_VIRTIO_STATUS];
	if (off <= EMU_VIRTIO_STATUS && off + size > EMU_VIRTIO_STATUS)
		set_status(d, v, status);
}

/* ------------------------------------------------------------ the queue */

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static int read_desc(struct emu_dev *d, struct emu__virtio *v, uint16_t i, struct desc *out)
{
	uint8_t b[16];
	int rc = emu_dev_dma_read(d, v->qdesc + 16ull * i, b, sizeof(b));

	if (rc)
		return rc;
	out->addr = get64(b, 0);
	out->len = emu_dev_cfg_get(b, 8, 4);
	out->flags = (uint16_t)emu_dev_cfg_get(b, 12, 2);
	out->next = (uint16_t)emu_dev_cfg_get(b, 14, 2);
	return 0;
}

/*
 * Serves the chain at @head.  Returns 0 with *used the bytes written,
 * -EINVAL for a malformed chain (too long, indirect, readable after
 * writable, too big), or a DMA error.
 */
static int serve(struct emu_dev *d, struct emu__virtio *v, uint16_t head, uint32_t *used)
{
	struct desc ch[EMU_VIRTIO_QUEUE_MAX];
	uint8_t *rbuf = NULL, *wbuf = NULL;
	uint64_t rlen = 0, wlen = 0, at;
	unsigned n = 0, i;
	uint32_t wrote;
	int rc;

	for (uint16_t idx = head;; idx = ch[n - 1].next) {
		if (n == v->qsize || idx >= v->qsize)
			return -EINVAL;
		rc = read_desc(d, v, idx, &ch[n]);
		if (rc)
			return rc;
		if (ch[n].flags & EMU_VRING_DESC_F_INDIRECT)
			return -EINVAL;
		if (ch[n].flags & EMU_VRING_DESC_F_WRITE)
			wlen += ch[n].len;
		else if (wlen)
			return -EINVAL;
		else
			rlen += ch[n].len;
		if (!(ch[++n - 1].flags & EMU_VRING_DESC_F_NEXT))
			break;
	}
	if (rlen > MAX_REQUEST || wlen > MAX_REQUEST)
		return -EINVAL;
	rc = -ENOMEM;
	if (util_should_fail("emu_virtio_buf"))
		goto out_free;
	rbuf = malloc(rlen + 1);
	wbuf = calloc(1, wlen + 1);
	if (!rbuf || !wbuf)
		goto out_free;
	for (i = 0, at = 0; i < n && !(ch[i].flags & EMU_VRING_DESC_F_WRITE); i++) {
		rc = emu_dev_dma_read(d, ch[i].addr, rbuf + at, ch[i].len);
		if (rc)
			goto out_free;
		at += ch[i].len;
	}
	wrote = v->m->request(v->mpriv, rbuf, (size_t)rlen, wbuf, (size_t)wlen);
	/* the writable descriptors, in order, up to what the model wrote */
	for (at = 0; i < n && at < wrote; i++) {
		uint32_t k = ch[i].len < wrote - at ? ch[i].len : (uint32_t)(wrote - at);

		rc = emu_dev_dma_write(d, ch[i].addr, wbuf + at, k);
		if (rc)
			goto out_free;
		at += k;
	}
	*used = wrote;
	v->bytes += wrote;
	rc = 0;
out_free:
	free(rbuf);
	free(wbuf);
	return rc;
}

static void notify(struct emu_dev *d, struct emu__virtio *v)
{
	uint8_t b[4];
	uint16_t avail_idx, flags, head;
	bool any = false;
	int rc;

	v->notifies++;
	if (!(v->status & EMU_VIRTIO_S_DRIVER_OK) || (v->status & EMU_VIRTIO_S_NEEDS_RESET) ||
	    !v->qenable)
		return;
	rc = emu_dev_dma_read(d, v->qavail, b, 4);
	if (rc)
		goto err;
	flags = (uint16_t)emu_dev_cfg_get(b, 0, 2);
	avail_idx = (uint16_t)emu_dev_cfg_get(b, 2, 2);
	while (v->last_avail != avail_idx) {
		uint8_t e[8];
		uint32_t used = 0;

		rc = emu_dev_dma_read(d, v->qavail + 4 + 2ull * (v->last_avail % v->qsize), b, 2);
		if (rc)
			goto err;
		head = (uint16_t)emu_dev_cfg_get(b, 0, 2);
		rc = serve(d, v, head, &used);
		if (rc)
			goto err;
		emu_dev_cfg_put(e, 0, 4, head);
		emu_dev_cfg_put(e, 4, 4, used);
		rc = emu_dev_dma_write(d, v->qused + 4 + 8ull * (v->used_idx % v->qsize), e, 8);
		if (rc)
			goto err;
		v->used_idx++;
		emu_dev_cfg_put(b, 0, 2, v->used_idx);
		/* the index after the element: the driver never sees an unwritten one */
		rc = emu_dev_dma_write(d, v->qused + 2, b, 2);
		if (rc)
			goto err;
		v->last_avail++;
		v->buffers++;
		any = true;
	}
	if (any && !(flags & EMU_VRING_AVAIL_F_NO_INTERRUPT)) {
		v->isr |= 1;
		if (v->qmsix != EMU_VIRTIO_NO_VECTOR || !emu__dev_msix_enabled(d))
			emu_dev_interrupt(d, v->qmsix);
	}
	return;
err:
	v->errors++;
	v->status |= EMU_VIRTIO_S_NEEDS_RESET;
	v->isr |= 2;	/* a configuration change: the status */
	if (v->msix_config != EMU_VIRTIO_NO_VECTOR || !emu__dev_msix_enabled(d))
		emu_dev_interrupt(d, v->msix_config);
}

/* ------------------------------------------------------------ BAR access */

uint64_t emu__virtio_bar_read(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size)
{
	struct emu__virtio *v = d->priv;
	uint8_t c[EMU_VIRTIO_COMMON_SIZE];
	uint64_t val = 0;

	(void)bar;
	if (off < EMU_VIRTIO_COMMON_SIZE && off + size <= EMU_VIRTIO_COMMON_SIZE) {
		common_image(v, c);
		for (unsigned i = 0; i < size; i++)
			val |= (uint64_t)c[off + i] << (8 * i);
	} else if (off == EMU_VIRTIO_ISR) {
		val = v->isr;	/* reading acknowledges */
		v->isr = 0;
		emu_dev_intx_deassert(d);
	} else if (off >= EMU_VIRTIO_DEVICE && off + size <= EMU_VIRTIO_DEVICE + EMU_VIRTIO_CFG_MAX) {
		uint8_t cfg[EMU_VIRTIO_CFG_MAX] = { 0 };

		v->m->config(v->mpriv, cfg);
		for (unsigned i = 0; i < size; i++)
			val |= (uint64_t)cfg[off - EMU_VIRTIO_DEVICE + i] << (8 * i);
	}
	return val;
}

void emu__virtio_bar_write(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size, uint64_t val)
{
	struct emu__virtio *v = d->priv;

	(void)bar;
	if (off < EMU_VIRTIO_COMMON_SIZE)
		common_write(d, v, off, size, val);
	else if (off == EMU_VIRTIO_NOTIFY && (val & 0xffff) == 0)
		notify(d, v);	/* queue 0 is the only one */
}

/* --------------------------------------------------------- parameters */

int emu__virtio_params(const char *model, const char *params, bool *no_platform, char **file)
{
	char *copy = strdup(params), *tok, *save = NULL;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	*no_platform = false;
	for (tok = strtok_r(copy, ":", &save); tok && !rc; tok = strtok_r(NULL, ":", &save)) {
		if (!strcmp(tok, "platform=0"))
			*no_platform = true;
		else if (!strcmp(tok, "platform=1"))
			*no_platform = false;
		else if (file && !strncmp(tok, "file=", 5) && tok[5]) {
			free(*file);
			*file = strdup(tok + 5);
			if (!*file)
				rc = -ENOMEM;
		} else {
			fprintf(stderr, "%s: unknown parameter \"%s\"\n", model, tok);
			rc = -EINVAL;
		}
	}
	free(copy);
	if (!rc && file && !*file) {
		fprintf(stderr, "%s: file=PATH is required\n", model);
		rc = -EINVAL;
	}
	if (rc && file) {
		free(*file);
		*file = NULL;
	}
	return rc;
}
