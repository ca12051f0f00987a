/* SPDX-License-Identifier: MIT */
/*
 * fuzz_hcall: differential fuzzing of the guest hypercall path (spec 7,
 * docs/hcall.md) against the reference model of tests/model/.
 *
 * Every input starts the same way: a memlock limit, two memory areas (hm0
 * 1 MiB, hm1 64 KiB, each between PROT_NONE guard pages, filled
 * with a per-page pattern), container c0 with groups 0 and 1 attached and
 * the v2 IOMMU, container c1 with group 3 and the v2 IOMMU, hm0 registered
 * in both, group 2 open but not attached, a guest
 * with memslot 0 (gpa 0 -> hm0) and memslot 1 (gpa 16 MiB -> hm1, not
 * registered).  Then at most HC_MAX_REQUESTS requests: memslots, guest
 * TCE tables (4 LIOBNs and an unknown one), attach/detach of groups (and
 * of a closed fd, a container fd, a group without a container), H_PUT_TCE,
 * H_PUT_TCE_INDIRECT (the list written into guest memory first),
 * H_STUFF_TCE, H_GET_TCE, TCE_CREATE/REMOVE of the container's windows
 * (a removed window stays attached, dead), REGISTER/UNREGISTER of hm0.
 * Addresses are drawn as "(n-th memslot, page offset)" and "(table,
 * entry offset)" so that random bytes reach valid objects, plus edge
 * values (unaligned, outside, wrapping, poison TCEs).
 *
 * After every request: the return code (H_* or errno), locked_vm, the
 * pinned pages, mmreg/emu checkers, spapr_guest_check when the model says
 * its invariant holds (it must then pass), a H_GET_TCE of a stored entry,
 * device reads through groups 0 and 1 (bytes at the model's ua, or the
 * model's fault).  At the end the guest is destroyed, windows removed,
 * everything closed: locked_vm 0, nothing pinned, no table memory.
 *
 * The trace printed on a divergence uses the replay language for the
 * container requests and pseudo-requests (guest_*, h_*) for the guest path,
 * which `spaprtce replay` does not know yet: read it, do not replay it.
 *
 * All static names start with hc_ (the corpus suite includes every target
 * into one translation unit).
 */
#include <endian.h>
#include <errno.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"
#include "spapr/spapr_priv.h"
#include "tce/tce.h"
#include "tests/fuzz/fuzz.h"
#include "tests/model/model.h"

#define HC_MAX_REQUESTS 64
#define HC_NMEMS 2
#define HC_GROUPS 4		/* g0, g1 in c0; g2 open without a container; g3 in c1 */
#define HC_NOT_OPEN_FD 999999
#define HC_STUFF_CAP 4096u	/* non-zero STUFF: guest pages really allocated */
#define HC_SLOT1_GPA (16ull << 20)

static const uint64_t hc_mem_pages[HC_NMEMS] = { 256, 16 };
static const uint64_t hc_liobns[] = { 0x1000, 0x1001, 0x80000000ull, 0x2 };
#define HC_NLIOBNS (sizeof(hc_liobns) / sizeof(hc_liobns[0]))

struct hc_in {
	const uint8_t *p;
	size_t n, i;
};

static uint8_t hc_u8(struct hc_in *in)
{
	return in->i < in->n ? in->p[in->i++] : 0;
}

static uint16_t hc_u16(struct hc_in *in)
{
	uint16_t lo = hc_u8(in);

	return (uint16_t)(lo | (uint16_t)hc_u8(in) << 8);
}

static struct model HM;
static struct spapr_guest *hc_vm;
static int hc_cfd[2], hc_gfd[HC_GROUPS];
static uint8_t *hc_mem[HC_NMEMS];
static uint64_t hc_rng, hc_shown_locked, hc_shown_pinned;
static unsigned hc_nreq;
static bool hc_cleanup, hc_dirty;

static uint64_t hc_rnd(void)
{
	hc_rng ^= hc_rng << 13;
	hc_rng ^= hc_rng >> 7;
	hc_rng ^= hc_rng << 17;
	return hc_rng;
}

/* ------------------------------------------------------------- trace */

static char *hc_tr;
static size_t hc_tr_len, hc_tr_cap;
static char hc_line[512];

static void hc_tr_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void hc_tr_add(const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(hc_tr ? hc_tr + hc_tr_len : NULL, hc_tr ? hc_tr_cap - hc_tr_len : 0, fmt, ap);
		va_end(ap);
		if (hc_tr && (size_t)n < hc_tr_cap - hc_tr_len)
			break;
		hc_tr_cap = hc_tr_cap ? 2 * hc_tr_cap + (size_t)n : 65536;
		hc_tr = realloc(hc_tr, hc_tr_cap);
		if (!hc_tr)
			abort();
	}
	hc_tr_len += (size_t)n;
}

static void hc_req(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void hc_req(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hc_line, sizeof(hc_line), fmt, ap);
	va_end(ap);
}

static const char *hc_errname(int e)
{
	static char buf[16];

	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ENXIO: return "ENXIO";
	case EBADF: return "EBADF";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EACCES: return "EACCES";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ENOTTY: return "ENOTTY";
	}
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

static const char *hc_res_str(struct model_res r)
{
	static char buf[2][24];
	static int k;

	k ^= 1;
	if (r.ret == -1)
		snprintf(buf[k], sizeof(buf[k]), "%s", hc_errname(r.err));
	else if (r.ret == 0)
		snprintf(buf[k], sizeof(buf[k]), "ok");
	else
		snprintf(buf[k], sizeof(buf[k]), "%ld", r.ret);
	return buf[k];
}

static const char *hc_hname(long h)
{
	static char buf[2][24];
	static int k;

	switch (h) {
	case H_SUCCESS: return "H_SUCCESS";
	case H_PARAMETER: return "H_PARAMETER";
	case H_TOO_HARD: return "H_TOO_HARD";
	case H_HARDWARE: return "H_HARDWARE";
	}
	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]), "%ld", h);
	return buf[k];
}

/* A user address as hmN+OFF (guard pages included: hm0+0x1000 is the first usable byte). */
static const char *hc_addr(uint64_t ua)
{
	static char buf[4][40];
	static int k;

	k = (k + 1) & 3;
	for (int i = 0; i < HC_NMEMS; i++) {
		uint64_t base = (uintptr_t)hc_mem[i] - MODEL_PAGE_SIZE;

		if (hc_mem[i] && ua >= base && ua - base <= (hc_mem_pages[i] + 2) * MODEL_PAGE_SIZE) {
			snprintf(buf[k], sizeof(buf[k]), "hm%d+0x%llx", i, (unsigned long long)(ua - base));
			return buf[k];
		}
	}
	snprintf(buf[k], sizeof(buf[k]), "0x%llx", (unsigned long long)ua);
	return buf[k];
}

static void hc_write_trace_file(void)
{
	const char *path = getenv("SPAPRTCE_FUZZ_TRACE");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "w");
	if (!f)
		return;
	if (hc_tr)
		fwrite(hc_tr, 1, hc_tr_len, f);
	fclose(f);
}

static void hc_diverge(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void hc_diverge(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hc_tr_add("# DIVERGENCE (request %u): %s\n", hc_nreq, msg);
	fprintf(stderr, "==== fuzz_hcall: divergence from the model; trace:\n");
	if (hc_tr)
		fwrite(hc_tr, 1, hc_tr_len, stderr);
	fflush(stderr);
	hc_write_trace_file();
	abort();
}

/* --------------------------------------------------------- comparisons */

static struct model_res hc_real(long rc)
{
	struct model_res r = { rc, rc < 0 ? errno : 0 };

	if (rc < 0)
		r.ret = -1;
	return r;
}

static void hc_post_checks(void);

static void hc_done(struct model_res want, struct model_res got)
{
	hc_dirty = true;
	hc_tr_add("%s => %s\n", hc_line, hc_res_str(want));
	hc_nreq++;
	if (want.ret != got.ret || (want.ret == -1 && want.err != got.err))
		hc_diverge("the library returned %s", hc_res_str(got));
	hc_post_checks();
}

static void hc_hdone(long want, long got)
{
	hc_dirty = true;
	hc_tr_add("%s => %s\n", hc_line, hc_hname(want));
	hc_nreq++;
	if (want != got)
		hc_diverge("the library returned %s", hc_hname(got));
	hc_post_checks();
}

static const char *hc_dma_str(int rc)
{
	return rc ? hc_errname(-rc) : "ok";
}

static void hc_check_dma_read(int id, uint64_t iova)
{
	int want = model_dma(&HM, id, iova, 1, false), got;
	uint8_t b = 0xee, wb = 0;

	if (!want) {
		uint64_t ua;
		unsigned perm;

		if (model_translate(&HM, id, iova, &ua, &perm))
			hc_diverge("model: dma ok but no translation");
		wb = *(volatile uint8_t *)(uintptr_t)ua;
	}
	got = emu_dma_read(id, iova, &b, 1);
	if (!want)
		hc_tr_add("dma_read %d 0x%llx 1 0x%02x => ok\n", id, (unsigned long long)iova, wb);
	else
		hc_tr_add("dma_read %d 0x%llx 1 => %s\n", id, (unsigned long long)iova, hc_dma_str(want));
	if (got != want)
		hc_diverge("device read returned %s", hc_dma_str(got));
	if (!want && b != wb)
		hc_diverge("device read 0x%02x, expected 0x%02x", b, wb);
}

static void hc_sample_dma(void)
{
	for (int id = 0; id < HC_GROUPS; id++) {
		int c = HM.g[id].container;

		if (!HM.g[id].open || c < 0)
			continue;
		for (int s = 0; s < MODEL_SLOTS; s++) {
			const struct model_window *w = &HM.c[c].win[s];
			uint64_t psize;

			if (!w->present)
				continue;
			psize = 1ull << w->page_shift;
			for (int k = 0; k < 2 && w->n; k++) {
				const struct model_entry *e = &w->e[hc_rnd() % w->n];

				hc_check_dma_read(id, (e->entry << w->page_shift) + hc_rnd() % psize);
			}
			hc_check_dma_read(id, w->start + (hc_rnd() % w->it_size) * psize + hc_rnd() % psize);
		}
	}
}

/* H_GET_TCE of a stored entry of a random table (or a never-written one). */
static void hc_sample_get(void)
{
	const struct model_gtable *t = model_guest_table(&HM, hc_liobns[hc_rnd() % HC_NLIOBNS]);
	uint64_t idx, want = 0, got = 0, ioba;
	long wr, gr;

	if (!t || !hc_vm)
		return;
	idx = t->n && hc_rnd() % 4 ? t->e[hc_rnd() % t->n].idx : hc_rnd() % t->size;
	ioba = (t->offset + idx) << t->shift;
	wr = model_h_get_tce(&HM, t->liobn, ioba, &want);
	gr = spapr_h_get_tce(hc_vm, t->liobn, ioba, &got);
	if (wr != gr || want != got)
		hc_diverge("sampled h_get_tce 0x%llx 0x%llx: %s 0x%llx, model %s 0x%llx",
			   (unsigned long long)t->liobn, (unsigned long long)ioba, hc_hname(gr),
			   (unsigned long long)got, hc_hname(wr), (unsigned long long)want);
}

static void hc_check_tables_of(int c)
{
	struct spapr_obj *obj;
	struct spapr_container *ct;

	if (!HM.c[c].exists || !HM.c[c].fd_open)
		return;
	obj = spapr__fd_get(hc_cfd[c]);
	ct = (struct spapr_container *)obj;
	if (!obj)
		hc_diverge("container fd unknown to the library");
	for (unsigned s = 0; ct->tce && s < SPAPR_WINDOWS; s++) {
		struct spapr_window *w = ct->tce->windows[s];

		if (w && tce_table_check(w->table)) {
			spapr__obj_put(obj);
			hc_diverge("tce_table_check failed on slot %u", s);
		}
	}
	spapr__obj_put(obj);
}

static void hc_check_tables(void)
{
	hc_check_tables_of(0);
	hc_check_tables_of(1);
}

static void hc_post_checks(void)
{
	struct emu_mem_stats st;
	struct mmreg_mm *mm;
	uint64_t locked = spapr_mm_locked_vm();

	if (model_locked_vm(&HM) != hc_shown_locked || locked != model_locked_vm(&HM)) {
		hc_shown_locked = model_locked_vm(&HM);
		hc_tr_add("locked_vm => %llu\n", (unsigned long long)hc_shown_locked);
		if (locked != hc_shown_locked)
			hc_diverge("locked_vm is %llu", (unsigned long long)locked);
	}
	emu_mem_get_stats(&st);
	if (model_pinned(&HM) != hc_shown_pinned || st.pinned_pages != model_pinned(&HM)) {
		hc_shown_pinned = model_pinned(&HM);
		hc_tr_add("pinned => %llu\n", (unsigned long long)hc_shown_pinned);
		if (st.pinned_pages != hc_shown_pinned)
			hc_diverge("%llu pages pinned", (unsigned long long)st.pinned_pages);
	}
	if (mmreg_mm_current(&mm))
		hc_diverge("mmreg_mm_current failed");
	if (mmreg_mm_check(mm)) {
		mmreg_mm_put(mm);
		hc_diverge("mmreg_mm_check failed");
	}
	mmreg_mm_put(mm);
	if (emu_mem_check())
		hc_diverge("emu_mem_check failed");
	if (emu_machine_check())
		hc_diverge("emu_machine_check failed");
	if (hc_vm && model_guest_consistent(&HM) && spapr_guest_check(hc_vm))
		hc_diverge("spapr_guest_check failed (the model's tables agree with its windows)");
	/* tce_table_check scans whole tables (most of a run's time if done often):
	 * after one request in 16, and in the cleanup of one input in 4. */
	if (hc_dirty && hc_rnd() % 16 == 0)
		hc_check_tables();
	hc_dirty = false;
	hc_sample_get();
	hc_sample_dma();
}

/* --------------------------------------------------------- selection */

static uint64_t hc_mem_base(int i)
{
	return (uintptr_t)hc_mem[i];
}

/* A user address: (mem, page offset), a guard page, unaligned, low unmapped memory. */
static uint64_t hc_pick_ua(struct hc_in *in)
{
	uint8_t b = hc_u8(in);
	int i = b & 1;
	uint64_t pages = hc_mem_pages[i];

	switch ((b >> 1) % 8) {
	case 0: return hc_mem_base(i) - MODEL_PAGE_SIZE;	/* the guard page */
	case 1: return hc_mem_base(i) + (hc_u8(in) % pages) * MODEL_PAGE_SIZE + 0x800;
	case 2: return 0x10000;				/* nothing mapped there */
	case 3: case 4: return hc_mem_base(i);
	default: return hc_mem_base(i) + (hc_u8(in) % pages) * MODEL_PAGE_SIZE;
	}
}

/* The k-th live memslot, or -1. */
static int hc_nth_slot(unsigned k)
{
	unsigned n = 0;

	for (unsigned s = 0; s < MODEL_GSLOTS; s++)
		n += HM.guest.slot[s].size != 0;
	if (!n)
		return -1;
	k %= n;
	for (unsigned s = 0; s < MODEL_GSLOTS; s++)
		if (HM.guest.slot[s].size && !k--)
			return (int)s;
	return -1;
}

/* A guest physical address: (n-th memslot, offset in @unit), or an edge. */
static uint64_t hc_pick_gpa(struct hc_in *in, uint64_t unit)
{
	uint8_t b = hc_u8(in);
	int s = hc_nth_slot(hc_u8(in));

	if (s >= 0 && b < 200) {
		const struct model_gslot *sl = &HM.guest.slot[s];
		uint64_t n = sl->size / unit;

		return sl->gpa + (n ? (hc_u16(in) % n) * unit : 0);
	}
	switch (b % 6) {
	case 0: return 0;
	case 1: return HC_SLOT1_GPA + MODEL_PAGE_SIZE;
	case 2: return 1ull << 40;
	case 3: return (0ull - unit) & ~0xfffull;
	case 4: return 8 << 20;
	default: return (uint64_t)hc_u16(in) << 12;
	}
}

static uint64_t hc_pick_liobn(struct hc_in *in)
{
	uint8_t b = hc_u8(in);

	return b % 16 == 15 ? 0xdead : hc_liobns[b % HC_NLIOBNS];
}

static const struct model_gtable *hc_table(uint64_t liobn)
{
	return model_guest_table(&HM, liobn);
}

/* A bus address for table @t: (entry offset) mostly, else an edge. */
static uint64_t hc_pick_ioba(struct hc_in *in, const struct model_gtable *t, uint64_t *room)
{
	uint8_t b = hc_u8(in);
	uint64_t off;

	*room = 1;
	if (!t)
		return (uint64_t)hc_u16(in) << 12;
	off = t->size > 1 ? hc_u16(in) % (t->size < 4096 ? t->size : 4096) : 0;
	if (b % 4 == 0 && t->size > 4096)
		off = t->size - 1 - off % 4096;	/* near the end */
	*room = t->size - off;
	switch (b >> 4) {
	case 0: *room = 0; return (t->offset + t->size) << t->shift;	/* just past */
	case 1: *room = 0; return ((t->offset + off) << t->shift) + 0x800;	/* unaligned */
	case 2: *room = 0; return t->offset ? (t->offset - 1) << t->shift : ~0ull << t->shift;
	default: return (t->offset + off) << t->shift;
	}
}

/* A TCE for a table of page shift @shift: (memslot, guest page) | perm, or an edge. */
static uint64_t hc_pick_tce(struct hc_in *in, unsigned shift)
{
	uint8_t b = hc_u8(in);
	uint64_t perm = b & 3;

	switch ((b >> 2) % 16) {
	case 0: return (hc_pick_gpa(in, 1ull << shift) + MODEL_PAGE_SIZE) | perm;	/* unaligned for > 4 KiB */
	case 1: return hc_rnd() & ~0x3ull;	/* poison, no permission */
	case 2: return hc_rnd();
	case 3: return 0;
	default: return hc_pick_gpa(in, 1ull << shift) | perm;
	}
}

/* --------------------------------------------------------- requests */

static void hc_do_memslot(struct hc_in *in)
{
	uint8_t b = hc_u8(in);
	unsigned slot = b % 8 == 7 ? 32 + b % 3 : b % 4;
	uint64_t gpa, size, ua;
	struct model_res want;

	switch ((b >> 3) % 8) {
	case 0: size = 0; break;
	case 1: size = 16ull << 30; break;	/* over memory that is not there */
	case 2: size = MODEL_PAGE_SIZE + 0x800; break;
	default: size = ((uint64_t)hc_u8(in) % 257 + 1) * MODEL_PAGE_SIZE; break;
	}
	gpa = hc_pick_gpa(in, MODEL_PAGE_SIZE);
	ua = hc_pick_ua(in);
	if (b >= 240)
		gpa = 0ull - size;	/* reaches 2^64 */
	hc_req("guest_memslot %u 0x%llx 0x%llx %s", slot, (unsigned long long)gpa,
	       (unsigned long long)size, hc_addr(ua));
	want = model_guest_set_memslot(&HM, slot, gpa, size, ua);
	hc_done(want, hc_real(spapr_guest_set_memslot(hc_vm, slot, gpa, size, (void *)(uintptr_t)ua)));
}

static void hc_do_create_table(struct hc_in *in)
{
	static const unsigned shifts[] = { 12, 12, 12, 16, 16, 21, 20, 24, 13, 34, 11, 35 };
	uint64_t liobn = hc_pick_liobn(in), offset, size;
	unsigned shift = shifts[hc_u8(in) % (sizeof(shifts) / sizeof(shifts[0]))];
	uint8_t b = hc_u8(in);
	struct model_res want;

	switch (b % 8) {
	case 0: case 1: case 2: offset = 0; break;
	case 3: case 4: offset = MODEL_SLOT1_START >> shift; break;
	case 5: offset = hc_u16(in); break;
	case 6: offset = (UINT64_MAX >> shift) - 511; break;
	default: offset = 1ull << (64 - shift); break;
	}
	switch ((b >> 3) % 8) {
	case 0: case 1: size = (2ull << 30) >> shift; break;	/* the default window's size */
	case 2: size = (1ull << 30) >> shift; break;
	case 3: size = (uint64_t)hc_u8(in) + 1; break;
	case 4: size = 512; break;
	case 5: size = (uint64_t)hc_u16(in); break;
	case 6: size = 1ull << 40; break;
	default: size = (UINT64_MAX >> shift) - offset + (b >> 7); break;
	}
	if (!size && b & 1)
		size = 1;
	hc_req("guest_create_tce_table 0x%llx %u 0x%llx 0x%llx", (unsigned long long)liobn, shift,
	       (unsigned long long)offset, (unsigned long long)size);
	want = model_guest_create_table(&HM, liobn, shift, offset, size);
	hc_done(want, hc_real(spapr_guest_create_tce_table(hc_vm, liobn, shift, offset, size)));
}

static void hc_do_destroy_table(struct hc_in *in)
{
	uint64_t liobn = hc_pick_liobn(in);

	hc_req("guest_destroy_tce_table 0x%llx", (unsigned long long)liobn);
	hc_done(model_guest_destroy_table(&HM, liobn),
		hc_real(spapr_guest_destroy_tce_table(hc_vm, liobn)));
}

/* Group fd choice: g0, g1, g2 (no container), g3 (in c1), a closed fd, c0's fd. */
static void hc_pick_group(struct hc_in *in, int *id, int *fd, const char **name)
{
	static const char *const names[] = { "g0", "g1", "g2", "g3", "fd_not_open", "c0_fd" };
	uint8_t b = hc_u8(in) % 8;

	b = b < 6 ? b : b % 2;
	*name = names[b];
	if (b < 4) {
		*id = b;
		*fd = hc_gfd[b];
	} else if (b == 4) {
		*id = -1;
		*fd = HC_NOT_OPEN_FD;
	} else {
		*id = -2;
		*fd = hc_cfd[0];
	}
}

static unsigned hc_dead_windows(void)
{
	unsigned n = 0;

	for (int i = 0; i < MODEL_DEAD; i++)
		n += HM.guest.dead[i].gen != 0;
	return n;
}

static void hc_do_attach(struct hc_in *in, bool detach)
{
	uint64_t liobn = hc_pick_liobn(in);
	const char *name;
	int id, fd;

	hc_pick_group(in, &id, &fd, &name);
	hc_req("guest_%s_group 0x%llx %s", detach ? "detach" : "attach", (unsigned long long)liobn, name);
	if (detach)
		hc_done(model_guest_detach(&HM, liobn, id),
			hc_real(spapr_guest_detach_group(hc_vm, liobn, fd)));
	else
		hc_done(model_guest_attach(&HM, liobn, id),
			hc_real(spapr_guest_attach_group(hc_vm, liobn, fd)));
}

static void hc_do_put(struct hc_in *in)
{
	uint64_t liobn = hc_pick_liobn(in), room, ioba, tce;
	const struct model_gtable *t = hc_table(liobn);

	ioba = hc_pick_ioba(in, t, &room);
	tce = hc_pick_tce(in, t ? t->shift : 12);
	hc_req("h_put_tce 0x%llx 0x%llx 0x%llx", (unsigned long long)liobn, (unsigned long long)ioba,
	       (unsigned long long)tce);
	hc_hdone(model_h_put_tce(&HM, liobn, ioba, tce), spapr_h_put_tce(hc_vm, liobn, ioba, tce));
}

/* True when [ua, ua + len) lies in our mems (guard pages included) or low memory. */
static bool hc_known_memory(uint64_t ua, uint64_t len)
{
	if (ua + len >= ua && ua + len <= 0x100000)
		return true;
	for (int i = 0; i < HC_NMEMS; i++) {
		uint64_t base = hc_mem_base(i) - MODEL_PAGE_SIZE;

		if (ua >= base && ua + len >= ua &&
		    ua + len <= base + (hc_mem_pages[i] + 2) * MODEL_PAGE_SIZE)
			return true;
	}
	return false;
}

static bool hc_writable(uint64_t ua, uint64_t len)
{
	for (int i = 0; i < HC_NMEMS; i++)
		if (ua >= hc_mem_base(i) && ua + len >= ua &&
		    ua + len <= hc_mem_base(i) + hc_mem_pages[i] * MODEL_PAGE_SIZE)
			return true;
	return false;
}

static void hc_do_indirect(struct hc_in *in)
{
	uint64_t liobn = hc_pick_liobn(in), room, ioba, list, npages, ua = 0, first;
	const struct model_gtable *t = hc_table(liobn);
	unsigned shift = t ? t->shift : 12;
	uint8_t b = hc_u8(in), mode = hc_u8(in);

	ioba = hc_pick_ioba(in, t, &room);
	if (b < 96)
		npages = b % 17;
	else if (b < 160)
		npages = room < 512 ? room : 512;
	else if (b < 200)
		npages = 512;
	else if (b < 215)
		npages = 513;
	else
		npages = hc_u16(in) % 520;
	list = hc_pick_gpa(in, MODEL_PAGE_SIZE);
	if (mode >= 240)
		list += 8 << (mode % 8);	/* unaligned */
	/* Write the list where it lands (when that is memory of ours). */
	first = hc_pick_tce(in, shift);
	{
		uint64_t gsize = 1ull << shift;
		bool found = false;

		for (unsigned s = 0; s < MODEL_GSLOTS && !found; s++) {
			const struct model_gslot *sl = &HM.guest.slot[s];

			if (sl->size && list >= sl->gpa && list - sl->gpa < sl->size &&
			    npages * 8 <= sl->size - (list - sl->gpa)) {
				ua = sl->ua + (list - sl->gpa);
				found = true;
			}
		}
		if (found && npages && npages <= 512 && !hc_known_memory(ua, npages * 8))
			return;	/* the list would be read from memory the harness does not know */
		if (found && npages && npages <= 512 && hc_writable(ua, npages * 8)) {
			uint64_t *l = (uint64_t *)(uintptr_t)ua, v = first;
			unsigned bad = mode % 4 == 3 ? hc_u16(in) % npages : 512;

			for (uint64_t i = 0; i < npages; i++) {
				if (mode % 4 == 1 && i)
					v = hc_pick_tce(in, shift);
				else if (mode % 4 == 2)
					v = (i & 1) ? first : 0;
				if (i == bad)
					v = (v & ~3ull) + MODEL_PAGE_SIZE + 0x1000 + 3;	/* one bad TCE */
				l[i] = htobe64(v);
				if (mode % 4 != 1 && (v & 3))
					v += gsize;	/* contiguous */
			}
		}
	}
	hc_req("h_put_tce_indirect 0x%llx 0x%llx 0x%llx %llu  # list at %s",
	       (unsigned long long)liobn, (unsigned long long)ioba, (unsigned long long)list,
	       (unsigned long long)npages, hc_addr(ua));
	{
		long want = model_h_put_tce_indirect(&HM, liobn, ioba, list, npages);

		hc_hdone(want, spapr_h_put_tce_indirect(hc_vm, liobn, ioba, list, npages));
	}
}

static void hc_do_stuff(struct hc_in *in)
{
	uint64_t liobn = hc_pick_liobn(in), room, ioba, value, npages;
	const struct model_gtable *t = hc_table(liobn);
	uint8_t b = hc_u8(in);

	ioba = hc_pick_ioba(in, t, &room);
	switch (b % 8) {
	case 0: case 1: case 2: value = 0; break;
	case 3: value = hc_rnd() & ~3ull; break;	/* poison */
	case 4: value = 0x1000 | 3; break;	/* H_PARAMETER */
	default: value = 0; break;
	}
	switch ((b >> 3) % 8) {
	case 0: npages = 1; break;
	case 1: npages = 0; break;
	case 2: npages = room + 1; break;
	case 3: npages = hc_u8(in); break;
	default: npages = room; break;
	}
	if (value && npages > HC_STUFF_CAP)
		npages = HC_STUFF_CAP;
	hc_req("h_stuff_tce 0x%llx 0x%llx 0x%llx %llu", (unsigned long long)liobn,
	       (unsigned long long)ioba, (unsigned long long)value, (unsigned long long)npages);
	hc_hdone(model_h_stuff_tce(&HM, liobn, ioba, value, npages),
		 spapr_h_stuff_tce(hc_vm, liobn, ioba, value, npages));
}

static void hc_do_get(struct hc_in *in)
{
	uint64_t liobn = hc_pick_liobn(in), room, ioba, want = 0, got = 0;
	const struct model_gtable *t = hc_table(liobn);
	long wr, gr;

	ioba = hc_pick_ioba(in, t, &room);
	hc_req("h_get_tce 0x%llx 0x%llx", (unsigned long long)liobn, (unsigned long long)ioba);
	wr = model_h_get_tce(&HM, liobn, ioba, &want);
	gr = spapr_h_get_tce(hc_vm, liobn, ioba, &got);
	if (wr == H_SUCCESS)
		snprintf(hc_line + strlen(hc_line), sizeof(hc_line) - strlen(hc_line), " value=0x%llx",
			 (unsigned long long)want);
	hc_hdone(wr, gr);
	if (wr == H_SUCCESS && got != want)
		hc_diverge("h_get_tce returned 0x%llx", (unsigned long long)got);
}

static void hc_do_create_window(struct hc_in *in)
{
	static const uint32_t shifts[] = { 12, 12, 16, 21 };
	static const uint64_t sizes[] = { 1ull << 30, 2ull << 30, 1ull << 20, 1ull << 40, 1ull << 32,
					  16ull << 20 };
	struct vfio_iommu_spapr_tce_create cr;
	uint8_t b = hc_u8(in);
	uint64_t start = 0, pages;
	struct model_res want;
	int c;

	memset(&cr, 0, sizeof(cr));
	cr.argsz = sizeof(cr);
	cr.page_shift = shifts[b % 4];
	cr.window_size = sizes[(b >> 2) % 6];
	cr.levels = 1 + (b >> 6) % 2;
	c = hc_u8(in) & 1;
	if (hc_dead_windows() >= MODEL_DEAD - 2)
		return;
	if (!model_table_pages(cr.page_shift, cr.window_size, cr.levels, &pages) && pages > 32768 &&
	    HM.limit_pages >= pages)
		return;
	hc_req("create c%d %u 0x%llx %u", c, cr.page_shift, (unsigned long long)cr.window_size,
	       cr.levels);
	want = model_create(&HM, c, sizeof(cr), 0, cr.page_shift, cr.window_size, cr.levels, &start);
	hc_done(want, hc_real(spapr_ioctl(hc_cfd[c], VFIO_IOMMU_SPAPR_TCE_CREATE, &cr)));
	if (want.ret == 0 && cr.start_addr != start)
		hc_diverge("start_addr 0x%llx, expected 0x%llx", (unsigned long long)cr.start_addr,
			   (unsigned long long)start);
}

static void hc_do_remove_window(struct hc_in *in)
{
	struct vfio_iommu_spapr_tce_remove rm = { sizeof(rm), 0, 0 };
	uint8_t b = hc_u8(in);
	int c = (b >> 1) & 1;

	rm.start_addr = b & 1 ? MODEL_SLOT1_START : 0;
	hc_req("remove c%d 0x%llx", c, (unsigned long long)rm.start_addr);
	hc_done(model_remove(&HM, c, sizeof(rm), 0, rm.start_addr),
		hc_real(spapr_ioctl(hc_cfd[c], VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm)));
}

static void hc_do_register(struct hc_in *in)
{
	struct vfio_iommu_spapr_register_memory r = { sizeof(r), 0, 0, 0 };
	uint8_t b = hc_u8(in);
	bool unreg = b & 1;
	int c = (b >> 3) & 1;
	struct model_res want;

	r.vaddr = hc_mem_base((b >> 1) & 1);
	r.size = hc_mem_pages[(b >> 1) & 1] * MODEL_PAGE_SIZE;
	if (b & 4)
		r.size /= 2;
	hc_req("%s c%d %s 0x%llx", unreg ? "unregister" : "register", c, hc_addr(r.vaddr),
	       (unsigned long long)r.size);
	if (unreg) {
		want = model_unregister(&HM, c, sizeof(r), 0, r.vaddr, r.size);
		hc_done(want, hc_real(spapr_ioctl(hc_cfd[c], VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r)));
	} else {
		want = model_register(&HM, c, sizeof(r), 0, r.vaddr, r.size);
		hc_done(want, hc_real(spapr_ioctl(hc_cfd[c], VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r)));
	}
}

static void hc_run_request(struct hc_in *in)
{
	switch (hc_u8(in) % 24) {
	case 0: case 1: hc_do_memslot(in); break;
	case 2: case 3: case 4: hc_do_create_table(in); break;
	case 5: hc_do_destroy_table(in); break;
	case 6: case 7: case 8: hc_do_attach(in, false); break;
	case 9: hc_do_attach(in, true); break;
	case 10: case 11: case 12: case 13: hc_do_put(in); break;
	case 14: case 15: case 16: hc_do_indirect(in); break;
	case 17: case 18: hc_do_stuff(in); break;
	case 19: hc_do_get(in); break;
	case 20: hc_do_create_window(in); break;
	case 21: hc_do_remove_window(in); break;
	default: hc_do_register(in); break;
	}
}

/* ------------------------------------------------------------ an input */

static void hc_prologue(struct hc_in *in)
{
	static const uint64_t limits[] = { 64ull << 20, 16ull << 20, (8ull << 20) + (512 << 10),
					   (8ull << 20) + (64 << 10) };
	uint8_t b = hc_u8(in);
	uint64_t limit = limits[b % 4];
	struct model_res want;
	int c;

	hc_req("memlock 0x%llx 0", (unsigned long long)limit);
	want = model_memlock(&HM, limit, 0);
	hc_done(want, hc_real(spapr_mm_set_memlock(limit, 0)));
	for (int i = 0; i < HC_NMEMS; i++) {
		uint64_t size = hc_mem_pages[i] * MODEL_PAGE_SIZE;
		uint8_t *p = mmap(NULL, size + 2 * MODEL_PAGE_SIZE, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED)
			hc_diverge("mmap failed");
		p += MODEL_PAGE_SIZE;
		if (mprotect(p, size, PROT_READ | PROT_WRITE))
			hc_diverge("mprotect failed");
		hc_mem[i] = p;
		for (uint64_t pg = 0; pg < hc_mem_pages[i]; pg++)
			memset(p + pg * MODEL_PAGE_SIZE, (int)((pg * 7 + (uint64_t)i * 101 + 1) & 0xff),
			       MODEL_PAGE_SIZE);
		model_mem_add(&HM, (unsigned)i, (uintptr_t)p, size);
		hc_tr_add("mem hm%d 0x%llx (guard pages around, page k filled with 7k+%d) => ok\n", i,
			  (unsigned long long)(size + 2 * MODEL_PAGE_SIZE), i * 101 + 1);
	}
	for (int k = 0; k < 2; k++) {
		c = model_open_container(&HM);
		if (c != k)
			hc_diverge("harness: container index %d", c);
		hc_req("container c%d", k);
		hc_cfd[k] = spapr_open_container();
		hc_done((struct model_res){ 0, 0 }, hc_real(hc_cfd[k] < 0 ? -1 : 0));
	}
	for (int id = 0; id < HC_GROUPS; id++) {
		int k = id == 3;

		hc_req("group g%d %d", id, id);
		want = model_open_group(&HM, id);
		hc_gfd[id] = spapr_open_group(id);
		hc_done(want, hc_real(hc_gfd[id] < 0 ? -1 : 0));
		if (id == 2)
			continue;
		hc_req("set_container g%d c%d", id, k);
		want = model_set_container(&HM, id, MODEL_FD_CONTAINER, k);
		hc_done(want, hc_real(spapr_ioctl(hc_gfd[id], VFIO_GROUP_SET_CONTAINER, &hc_cfd[k])));
		if (id == 0 || id == 3) {
			hc_req("set_iommu c%d v2", k);
			want = model_set_iommu(&HM, k, 7);
			hc_done(want, hc_real(spapr_ioctl(hc_cfd[k], VFIO_SET_IOMMU, 7ul)));
		}
	}
	for (int k = 0; k < 2 && !(b & 0x80); k++) {
		struct vfio_iommu_spapr_register_memory r = { sizeof(r), 0, hc_mem_base(0),
							      hc_mem_pages[0] * MODEL_PAGE_SIZE };

		if (k == 1 && (b & 0x20))
			break;	/* c1 without registered memory: attaching g3 is EINVAL */
		hc_req("register c%d %s 0x%llx", k, hc_addr(r.vaddr), (unsigned long long)r.size);
		want = model_register(&HM, k, sizeof(r), 0, r.vaddr, r.size);
		hc_done(want, hc_real(spapr_ioctl(hc_cfd[k], VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r)));
	}
	hc_req("guest_create");
	want = model_guest_create(&HM, sizeof(struct spapr_hcall_table));
	hc_done(want, hc_real(spapr_guest_create(&hc_vm)));
	if (b & 0x40)
		return;
	hc_req("guest_memslot 0 0x0 0x%llx %s", (unsigned long long)(hc_mem_pages[0] * MODEL_PAGE_SIZE),
	       hc_addr(hc_mem_base(0)));
	want = model_guest_set_memslot(&HM, 0, 0, hc_mem_pages[0] * MODEL_PAGE_SIZE, hc_mem_base(0));
	hc_done(want, hc_real(spapr_guest_set_memslot(hc_vm, 0, 0, hc_mem_pages[0] * MODEL_PAGE_SIZE,
						       hc_mem[0])));
	hc_req("guest_memslot 1 0x%llx 0x%llx %s", HC_SLOT1_GPA,
	       (unsigned long long)(hc_mem_pages[1] * MODEL_PAGE_SIZE), hc_addr(hc_mem_base(1)));
	want = model_guest_set_memslot(&HM, 1, HC_SLOT1_GPA, hc_mem_pages[1] * MODEL_PAGE_SIZE,
				       hc_mem_base(1));
	hc_done(want, hc_real(spapr_guest_set_memslot(hc_vm, 1, HC_SLOT1_GPA,
						       hc_mem_pages[1] * MODEL_PAGE_SIZE, hc_mem[1])));
}

static void hc_epilogue(void)
{
	struct emu_mem_stats st;
	struct model_res want;

	hc_tr_add("# cleanup\n");
	hc_req("guest_destroy");
	model_guest_destroy(&HM);
	spapr_guest_destroy(hc_vm);
	hc_vm = NULL;
	hc_done((struct model_res){ 0, 0 }, (struct model_res){ 0, 0 });
	if (hc_rnd() % 4 == 0)
		hc_check_tables();
	for (int s = 0; s < 2 * MODEL_SLOTS; s++) {
		struct vfio_iommu_spapr_tce_remove rm = { sizeof(rm), 0, 0 };
		int k = s / MODEL_SLOTS;

		if (!HM.c[k].win[s % MODEL_SLOTS].present)
			continue;
		rm.start_addr = HM.c[k].win[s % MODEL_SLOTS].start;
		hc_req("remove c%d 0x%llx", k, (unsigned long long)rm.start_addr);
		want = model_remove(&HM, k, sizeof(rm), 0, rm.start_addr);
		hc_done(want, hc_real(spapr_ioctl(hc_cfd[k], VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm)));
	}
	for (int id = 0; id < HC_GROUPS; id++) {
		hc_req("close g%d", id);
		want = model_close_group(&HM, id);
		hc_done(want, hc_real(spapr_close(hc_gfd[id])));
	}
	for (int k = 0; k < 2; k++) {
		hc_req("close c%d", k);
		want = model_close_container(&HM, k);
		hc_done(want, hc_real(spapr_close(hc_cfd[k])));
	}
	if (!model_is_clean(&HM))
		hc_diverge("harness: the model is not clean after cleanup");
	if (spapr_mm_locked_vm())
		hc_diverge("locked_vm is %llu after cleanup", (unsigned long long)spapr_mm_locked_vm());
	emu_mem_get_stats(&st);
	if (st.pinned_pages || st.pins)
		hc_diverge("%llu pages pinned after cleanup", (unsigned long long)st.pinned_pages);
	if (st.table_blocks)
		hc_diverge("%llu table blocks allocated after cleanup", (unsigned long long)st.table_blocks);
	for (int i = 0; i < HC_NMEMS; i++) {
		munmap(hc_mem[i] - MODEL_PAGE_SIZE, (hc_mem_pages[i] + 2) * MODEL_PAGE_SIZE);
		hc_mem[i] = NULL;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hc_in in = { data, size, 0 };
	struct emu_mem_stats st;

	hc_tr_len = 0;
	hc_nreq = 0;
	hc_tr_add("# fuzz_hcall input of %zu bytes\n", size);
	emu_mem_get_stats(&st);
	if (spapr_mm_locked_vm() || st.pinned_pages || st.table_blocks)
		hc_diverge("the input does not start clean: locked_vm %llu, %llu pages pinned",
			   (unsigned long long)spapr_mm_locked_vm(), (unsigned long long)st.pinned_pages);
	model_init(&HM);
	hc_shown_locked = hc_shown_pinned = 0;
	hc_rng = 0x9e3779b97f4a7c15ull ^ size;
	for (size_t i = 0; i < size && i < 16; i++)
		hc_rng = (hc_rng ^ data[i]) * 0x100000001b3ull;
	if (!hc_rng)
		hc_rng = 1;
	hc_prologue(&in);
	for (unsigned k = 0; k < HC_MAX_REQUESTS && in.i < in.n; k++)
		hc_run_request(&in);
	hc_cleanup = true;
	hc_epilogue();
	hc_cleanup = false;
	hc_write_trace_file();
	model_fini(&HM);
	return 0;
}
