/* SPDX-License-Identifier: MIT */
/*
 * The fault region of the device fd (region index 9): our extension, after
 * the design discussed upstream for VFIO_REGION_TYPE_NESTED DMA fault
 * regions.  A producer header, a ring of fault records, and a consumer
 * index the user writes back.  Layout (little-endian; spapr/spapr.h names
 * the offsets):
 *
 *   0x00 u32 consumer     RW  index of the next record the user will read
 *   0x04 u32 record_size  RO  32
 *   0x08 u32 nb_records   RO  the ring's size (the machine's fault_ring)
 *   0x0c u32 offset       RO  0x1000, where the ring starts
 *   0x10 u32 producer     RO  index one past the newest record
 *   0x14 u32 version      RO  1
 *   0x18 u64 overflow     RO  faults the emulator dropped (ring full)
 *   0x1000 + (i % nb_records) * 32: record i
 *        u64 seq, u64 iova, u64 tce, u32 access (0 read, 1 write),
 *        u32 reason (0 no window, 1 no translation, 2 permission,
 *                    3 table memory unreadable, 4 use-after-unpin)
 *
 * Indexes run freely (modulo 2^32); records [consumer, producer) are valid.
 *
 * Why the region drains the fault log: the group's fault log in emu/ is a
 * consume-once ring; the region keeps its own ring of the same size and
 * moves records into it whenever it is read.  A consumer that lags fills
 * this ring, then the emulator's, and only then are faults dropped and
 * counted in overflow, as a hardware fault queue does.  Once a program
 * reads the region it is the fault log's consumer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spapr/device_priv.h"
#include "util/fail.h"

/* Under v->lock: the ring, allocated on first use. */
static int ring_get(struct spapr_vdev *v)
{
	struct emu_machine_config c;
	int rc;

	if (v->fault_ring)
		return 0;
	rc = emu_machine_get_config(&c);
	if (rc)
		return rc;
	if (util_should_fail("spapr_fault_ring"))
		return -ENOMEM;
	v->fault_ring = calloc(c.fault_ring, sizeof(*v->fault_ring));
	if (!v->fault_ring)
		return -ENOMEM;
	v->fault_size = c.fault_ring;
	return 0;
}

/* Under v->lock: moves records from the fault log while the ring has room. */
static int refill(struct spapr_vdev *v)
{
	while (v->fault_prod - v->fault_cons < v->fault_size) {
		uint32_t slot = v->fault_prod % v->fault_size;
		unsigned n;
		int rc = emu_fault_log_read(v->group, &v->fault_ring[slot], 1, &n);

		if (rc)
			return rc;
		if (!n)
			break;
		v->fault_prod++;
	}
	return 0;
}

uint64_t spapr__fault_region_size(const struct spapr_vdev *v)
{
	struct emu_machine_config c;

	(void)v;
	if (emu_machine_get_config(&c))
		return SPAPR_FAULT_RING_OFFSET;
	return SPAPR_FAULT_RING_OFFSET + (uint64_t)c.fault_ring * SPAPR_FAULT_RECORD_SIZE;
}

/* Fills @buf with [pos, pos + n) of the region as it is now. */
static void image(struct spapr_vdev *v, uint64_t pos, uint8_t *buf, size_t n)
{
	struct emu_fault_log_stats st;
	uint8_t hdr[SPAPR_FAULT_HDR_SIZE] = { 0 };

	if (emu_fault_log_stats(v->group, &st))
		st.overflow = 0;
	emu_dev_cfg_put(hdr, SPAPR_FAULT_CONSUMER, 4, v->fault_cons);
	emu_dev_cfg_put(hdr, SPAPR_FAULT_RECORD_SIZE_OFF, 4, SPAPR_FAULT_RECORD_SIZE);
	emu_dev_cfg_put(hdr, SPAPR_FAULT_NB_RECORDS, 4, v->fault_size);
	emu_dev_cfg_put(hdr, SPAPR_FAULT_OFFSET, 4, SPAPR_FAULT_RING_OFFSET);
	emu_dev_cfg_put(hdr, SPAPR_FAULT_PRODUCER, 4, v->fault_prod);
	emu_dev_cfg_put(hdr, SPAPR_FAULT_VERSION, 4, 1);
	emu_dev_cfg_put(hdr, SPAPR_FAULT_OVERFLOW, 4, (uint32_t)st.overflow);
	emu_dev_cfg_put(hdr, SPAPR_FAULT_OVERFLOW + 4, 4, (uint32_t)(st.overflow >> 32));
	for (size_t i = 0; i < n; i++) {
		uint64_t at = pos + i;
		uint8_t rec[SPAPR_FAULT_RECORD_SIZE];
		const struct emu_fault *f;

		if (at < SPAPR_FAULT_HDR_SIZE) {
			buf[i] = hdr[at];
			continue;
		}
		if (at < SPAPR_FAULT_RING_OFFSET) {
			buf[i] = 0;
			continue;
		}
		f = &v->fault_ring[(at - SPAPR_FAULT_RING_OFFSET) / SPAPR_FAULT_RECORD_SIZE];
		memcpy(rec, &f->seq, 8);
		memcpy(rec + 8, &f->iova, 8);
		memcpy(rec + 16, &f->tce, 8);
		emu_dev_cfg_put(rec, 24, 4, (uint32_t)f->access);
		emu_dev_cfg_put(rec, 28, 4, (uint32_t)f->reason);
		buf[i] = rec[(at - SPAPR_FAULT_RING_OFFSET) % SPAPR_FAULT_RECORD_SIZE];
	}
}

long spapr__fault_region_rw(struct spapr_vdev *v, uint64_t pos, void *ubuf, size_t count, bool write)
{
	uint64_t size = spapr__fault_region_size(v);
	uint8_t *buf;
	uint32_t val;
	long rc;

	if (pos >= size)
		return -EINVAL;
	if (count > size - pos)
		count = (size_t)(size - pos);
	if (write) {
		/* only the consumer index, whole */
		if (pos != SPAPR_FAULT_CONSUMER || count != 4)
			return -EINVAL;
		rc = spapr__copy_in(&val, ubuf, 4);
		if (rc)
			return rc;
		pthread_mutex_lock(&v->lock);
		rc = ring_get(v);
		if (!rc && val - v->fault_cons > v->fault_prod - v->fault_cons)
			rc = -EINVAL;	/* behind the consumer or past the producer */
		if (!rc)
			v->fault_cons = val;
		pthread_mutex_unlock(&v->lock);
		return rc ? rc : 4;
	}
	if (util_should_fail("spapr_fault_buf"))
		return -ENOMEM;
	buf = malloc(count ? count : 1);
	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&v->lock);
	rc = ring_get(v);
	if (!rc)
		rc = refill(v);
	if (!rc)
		image(v, pos, buf, count);
	pthread_mutex_unlock(&v->lock);
	if (!rc)
		rc = spapr__copy_out(ubuf, buf, count);
	free(buf);
	return rc ? rc : (long)count;
}

void spapr__fault_release(struct spapr_vdev *v)
{
	free(v->fault_ring);
	v->fault_ring = NULL;
}
