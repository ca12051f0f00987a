/* SPDX-License-Identifier: MIT */
/*
 * fuzz_hcall: differential fuzzing of the guest hypercall path
 * (docs/hcall.md) against the reference model of tests/model/.
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
 * pinned pages; after every request that may have changed the state
 * (tests/fuzz/harness.h), spapr_guest_check when the model says its
 * invariant holds (it must then pass; after a hypercall or a table request
 * its per-entry invariant only for what the request touched: hc_range), a
 * H_GET_TCE of a stored entry, device reads through one group of each
 * container (all of 0, 1 and 3 at the checkpoint; bytes at the model's ua,
 * or the model's fault); the mmreg/emu checkers and tce_table_check on every
 * window before the cleanup (the checkers again after it).  At the end the guest is destroyed, windows removed,
 * everything closed: locked_vm 0, nothing pinned, no table memory.
 *
 * The trace (tests/fuzz/harness.c keeps it) is in the `spaprtce replay`
 * language throughout, the guest path included (docs/replay.md): the
 * guest is `vm`, an INDIRECT list is written with poke64 lines before its
 * h_put_tce_indirect, a page's content with a fill line when the trace
 * first depends on it.  A divergence in a post-request check the language
 * has (spapr_guest_check, the sampled H_GET_TCE) is recorded as that
 * request, so the printed trace replays to the same point.
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
#include "spapr/guest_priv.h"
#include "tce/tce.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/harness.h"
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

static struct model HM;
static struct spapr_guest *hc_vm;
static int hc_cfd[2], hc_gfd[HC_GROUPS];
static uint8_t *hc_mem[HC_NMEMS];

/* --------------------------------------------------------- comparisons */

static void hc_sample_dma(void)
{
	bool pick[MODEL_GROUPS];

	fz_sample_groups(&HM, fz_checkpoint_running(), pick);
	for (int id = 0; id < HC_GROUPS; id++) {
		int c = HM.g[id].container;

		if (!pick[id])
			continue;
		for (int s = 0; s < MODEL_SLOTS; s++) {
			const struct model_window *w = &HM.c[c].win[s];
			uint64_t psize;

			if (!w->present)
				continue;
			psize = 1ull << w->page_shift;
			for (int k = 0; k < 2 && w->n; k++) {
				const struct model_entry *e = &w->e[fz_rnd() % w->n];

				fz_check_dma_read(&HM, id, (e->entry << w->page_shift) + fz_rnd() % psize, 1);
			}
			fz_check_dma_read(&HM, id, w->start + (fz_rnd() % w->it_size) * psize + fz_rnd() % psize,
					  1);
		}
	}
}

/* H_GET_TCE of a stored entry of a random table (or a never-written one). */
static void hc_sample_get(void)
{
	const struct model_gtable *t = model_guest_table(&HM, hc_liobns[fz_rnd() % HC_NLIOBNS]);
	uint64_t idx, want = 0, got = 0, ioba;
	long wr, gr;

	if (!t || !hc_vm)
		return;
	idx = t->n && fz_rnd() % 4 ? t->e[fz_rnd() % t->n].idx : fz_rnd() % t->size;
	ioba = (t->offset + idx) << t->shift;
	wr = model_h_get_tce(&HM, t->liobn, ioba, &want);
	gr = spapr_h_get_tce(hc_vm, t->liobn, ioba, &got);
	if (wr == gr && want == got)
		return;
	/* Only a failing sample is recorded: the replay then stops at it too. */
	fz_tr_add("h_get_tce vm 0x%llx 0x%llx => %s", (unsigned long long)t->liobn, (unsigned long long)ioba,
		  fz_hname(wr));
	if (wr == H_SUCCESS)
		fz_tr_add(" tce=0x%llx", (unsigned long long)want);
	fz_tr_add("\n");
	fz_diverge("sampled h_get_tce 0x%llx 0x%llx: %s 0x%llx, model %s 0x%llx",
		   (unsigned long long)t->liobn, (unsigned long long)ioba, fz_hname(gr),
		   (unsigned long long)got, fz_hname(wr), (unsigned long long)want);
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
		fz_diverge("container fd unknown to the library");
	for (unsigned s = 0; ct->tc && s < SPAPR_WINDOWS; s++) {
		struct spapr_window *w = ct->tc->windows[s];

		if (w && tce_table_check(w->table)) {
			spapr__obj_put(obj);
			fz_diverge("tce_table_check failed on slot %u", s);
		}
	}
	spapr__obj_put(obj);
}

static void hc_check_tables(void)
{
	hc_check_tables_of(0);
	hc_check_tables_of(1);
}

/*
 * What the request being run may write in the guest's tables: G4 of
 * spapr_guest_check (every stored TCE against every live window its table
 * is attached to) runs only for table liobn's indexes [lo, hi) after a
 * hypercall (its range) and after a table's creation, destruction, attach
 * or detach (the whole table), so that a check costs what the request
 * touched rather than everything the input stored; every other invariant
 * after each change, and G4 of every table after any other change
 * (memslots, windows, registration) and at the checkpoint, where a request
 * that damaged entries outside its range is caught.
 */
static struct {
	bool on;
	uint64_t liobn, lo, hi;
} hc_range;

static void hc_set_range(uint64_t liobn, const struct model_gtable *t, uint64_t ioba, uint64_t npages)
{
	uint64_t idx = t ? ioba >> t->shift : 0;

	hc_range.on = true;
	hc_range.liobn = liobn;
	hc_range.lo = hc_range.hi = 0;
	if (!t || idx < t->offset || idx - t->offset >= t->size)
		return;
	hc_range.lo = idx - t->offset;
	hc_range.hi = npages < t->size - hc_range.lo ? hc_range.lo + npages : t->size;
}

static void hc_set_table(uint64_t liobn)
{
	hc_range.on = true;
	hc_range.liobn = liobn;
	hc_range.lo = 0;
	hc_range.hi = UINT64_MAX;
}

/* spapr_guest_check whenever the model says its invariant holds. */
static void hc_check_guest(void)
{
	bool part = hc_range.on && !fz_checkpoint_running();

	if (hc_vm && model_guest_consistent(&HM) &&
	    (part ? spapr__guest_check_range(hc_vm, hc_range.liobn, hc_range.lo, hc_range.hi)
		  : spapr_guest_check(hc_vm))) {
		fz_tr_add("guest_check vm => ok\n");
		fz_diverge("spapr_guest_check failed (the model's tables agree with its windows)");
	}
}

static void hc_post_checks(void)
{
	fz_check_state(&HM);
	/* The rest only where the request may have changed something (harness.h). */
	if (!fz_changed())
		return;
	hc_check_guest();
	/* tce_table_check reads every table's touched pages: at the checkpoint
	 * before the cleanup, and in the cleanup of one input in 4. */
	if (fz_checkpoint_running())
		hc_check_tables();
	hc_sample_get();
	hc_sample_dma();
}

/* --------------------------------------------------------- selection */

static uint64_t hc_mem_base(int i)
{
	return (uintptr_t)hc_mem[i];
}

/* A user address: (mem, page offset), a guard page, unaligned, low unmapped memory. */
static uint64_t hc_pick_ua(struct fz_in *in)
{
	uint8_t b = fz_u8(in);
	int i = b & 1;
	uint64_t pages = hc_mem_pages[i];

	switch ((b >> 1) % 8) {
	case 0: return hc_mem_base(i) - MODEL_PAGE_SIZE;	/* the guard page */
	case 1: return hc_mem_base(i) + (fz_u8(in) % pages) * MODEL_PAGE_SIZE + 0x800;
	case 2: return 0x10000;				/* nothing mapped there */
	case 3: case 4: return hc_mem_base(i);
	default: return hc_mem_base(i) + (fz_u8(in) % pages) * MODEL_PAGE_SIZE;
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
static uint64_t hc_pick_gpa(struct fz_in *in, uint64_t unit)
{
	uint8_t b = fz_u8(in);
	int s = hc_nth_slot(fz_u8(in));

	if (s >= 0 && b < 200) {
		const struct model_gslot *sl = &HM.guest.slot[s];
		uint64_t n = sl->size / unit;

		return sl->gpa + (n ? (fz_u16(in) % n) * unit : 0);
	}
	switch (b % 6) {
	case 0: return 0;
	case 1: return HC_SLOT1_GPA + MODEL_PAGE_SIZE;
	case 2: return 1ull << 40;
	case 3: return (0ull - unit) & ~0xfffull;
	case 4: return 8 << 20;
	default: return (uint64_t)fz_u16(in) << 12;
	}
}

static uint64_t hc_pick_liobn(struct fz_in *in)
{
	uint8_t b = fz_u8(in);

	return b % 16 == 15 ? 0xdead : hc_liobns[b % HC_NLIOBNS];
}

static const struct model_gtable *hc_table(uint64_t liobn)
{
	return model_guest_table(&HM, liobn);
}

/* A bus address for table @t: (entry offset) mostly, else an edge. */
static uint64_t hc_pick_ioba(struct fz_in *in, const struct model_gtable *t, uint64_t *room)
{
	uint8_t b = fz_u8(in);
	uint64_t off;

	*room = 1;
	if (!t)
		return (uint64_t)fz_u16(in) << 12;
	off = t->size > 1 ? fz_u16(in) % (t->size < 4096 ? t->size : 4096) : 0;
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
static uint64_t hc_pick_tce(struct fz_in *in, unsigned shift)
{
	uint8_t b = fz_u8(in);
	uint64_t perm = b & 3;

	switch ((b >> 2) % 16) {
	case 0: return (hc_pick_gpa(in, 1ull << shift) + MODEL_PAGE_SIZE) | perm;	/* unaligned for > 4 KiB */
	case 1: return fz_rnd() & ~0x3ull;	/* poison, no permission */
	case 2: return fz_rnd();
	case 3: return 0;
	default: return hc_pick_gpa(in, 1ull << shift) | perm;
	}
}

/* --------------------------------------------------------- requests */

static void hc_do_memslot(struct fz_in *in)
{
	uint8_t b = fz_u8(in);
	unsigned slot = b % 8 == 7 ? 32 + b % 3 : b % 4;
	uint64_t gpa, size, ua;
	struct model_res want;

	switch ((b >> 3) % 8) {
	case 0: size = 0; break;
	case 1: size = 16ull << 30; break;	/* over memory that is not there */
	case 2: size = MODEL_PAGE_SIZE + 0x800; break;
	default: size = ((uint64_t)fz_u8(in) % 257 + 1) * MODEL_PAGE_SIZE; break;
	}
	gpa = hc_pick_gpa(in, MODEL_PAGE_SIZE);
	ua = hc_pick_ua(in);
	if (b >= 240)
		gpa = 0ull - size;	/* reaches 2^64 */
	fz_req("memslot vm %u 0x%llx 0x%llx %s", slot, (unsigned long long)gpa,
	       (unsigned long long)size, fz_addr(ua));
	want = model_guest_set_memslot(&HM, slot, gpa, size, ua);
	fz_done(want, fz_real(spapr_guest_set_memslot(hc_vm, slot, gpa, size, (void *)(uintptr_t)ua)));
}

static void hc_do_create_table(struct fz_in *in)
{
	static const unsigned shifts[] = { 12, 12, 12, 16, 16, 21, 20, 24, 13, 34, 11, 35 };
	uint64_t liobn = hc_pick_liobn(in), offset, size;
	unsigned shift = shifts[fz_u8(in) % (sizeof(shifts) / sizeof(shifts[0]))];
	uint8_t b = fz_u8(in);
	struct model_res want;

	switch (b % 8) {
	case 0: case 1: case 2: offset = 0; break;
	case 3: case 4: offset = MODEL_SLOT1_START >> shift; break;
	case 5: offset = fz_u16(in); break;
	case 6: offset = (UINT64_MAX >> shift) - 511; break;
	default: offset = 1ull << (64 - shift); break;
	}
	switch ((b >> 3) % 8) {
	case 0: case 1: size = (2ull << 30) >> shift; break;	/* the default window's size */
	case 2: size = (1ull << 30) >> shift; break;
	case 3: size = (uint64_t)fz_u8(in) + 1; break;
	case 4: size = 512; break;
	case 5: size = (uint64_t)fz_u16(in); break;
	case 6: size = 1ull << 40; break;
	default: size = (UINT64_MAX >> shift) - offset + (b >> 7); break;
	}
	if (!size && b & 1)
		size = 1;
	hc_set_table(liobn);
	fz_req("tce_table vm 0x%llx %u 0x%llx 0x%llx", (unsigned long long)liobn, shift,
	       (unsigned long long)offset, (unsigned long long)size);
	want = model_guest_create_table(&HM, liobn, shift, offset, size);
	fz_done(want, fz_real(spapr_guest_create_tce_table(hc_vm, liobn, shift, offset, size)));
}

static void hc_do_destroy_table(struct fz_in *in)
{
	uint64_t liobn = hc_pick_liobn(in);

	hc_set_table(liobn);
	fz_req("tce_table_destroy vm 0x%llx", (unsigned long long)liobn);
	fz_done(model_guest_destroy_table(&HM, liobn),
		fz_real(spapr_guest_destroy_tce_table(hc_vm, liobn)));
}

/* Group fd choice: g0, g1, g2 (no container), g3 (in c1), a closed fd, c0's fd. */
static void hc_pick_group(struct fz_in *in, int *id, int *fd, const char **name)
{
	/* As the trace names them: the closed fd is a raw number, c0's fd is c0. */
	static const char *const names[] = { "g0", "g1", "g2", "g3", "999999", "c0" };
	uint8_t b = fz_u8(in) % 8;

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

static void hc_do_attach(struct fz_in *in, bool detach)
{
	uint64_t liobn = hc_pick_liobn(in);
	const char *name;
	int id, fd;

	hc_pick_group(in, &id, &fd, &name);
	hc_set_table(liobn);
	fz_req("%s vm 0x%llx %s", detach ? "detach" : "attach", (unsigned long long)liobn, name);
	if (detach)
		fz_done(model_guest_detach(&HM, liobn, id),
			fz_real(spapr_guest_detach_group(hc_vm, liobn, fd)));
	else
		fz_done(model_guest_attach(&HM, liobn, id),
			fz_real(spapr_guest_attach_group(hc_vm, liobn, fd)));
}

static void hc_do_put(struct fz_in *in)
{
	uint64_t liobn = hc_pick_liobn(in), room, ioba, tce;
	const struct model_gtable *t = hc_table(liobn);

	ioba = hc_pick_ioba(in, t, &room);
	tce = hc_pick_tce(in, t ? t->shift : 12);
	hc_set_range(liobn, t, ioba, 1);
	fz_req("h_put_tce vm 0x%llx 0x%llx 0x%llx", (unsigned long long)liobn, (unsigned long long)ioba,
	       (unsigned long long)tce);
	fz_hdone(model_h_put_tce(&HM, liobn, ioba, tce), spapr_h_put_tce(hc_vm, liobn, ioba, tce));
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

/* The list just written at @ua, as poke64 lines of 8 values (its page's content first). */
static void hc_trace_list(uint64_t ua, uint64_t npages)
{
	const uint64_t *l = (const uint64_t *)(uintptr_t)ua;

	fz_mem_show(ua, npages * 8);
	for (uint64_t i = 0; i < npages; i += 8) {
		fz_tr_add("poke64 %s", fz_addr(ua + i * 8));
		for (uint64_t k = i; k < npages && k < i + 8; k++)
			fz_tr_add(" 0x%llx", (unsigned long long)be64toh(l[k]));
		fz_tr_add(" => ok\n");
	}
}

static void hc_do_indirect(struct fz_in *in)
{
	uint64_t liobn = hc_pick_liobn(in), room, ioba, list, npages, ua = 0, first;
	const struct model_gtable *t = hc_table(liobn);
	unsigned shift = t ? t->shift : 12;
	uint8_t b = fz_u8(in), mode = fz_u8(in);

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
		npages = fz_u16(in) % 520;
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
			unsigned bad = mode % 4 == 3 ? fz_u16(in) % npages : 512;

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
			hc_trace_list(ua, npages);
		}
	}
	hc_set_range(liobn, t, ioba, npages);
	fz_req("h_put_tce_indirect vm 0x%llx 0x%llx 0x%llx %llu", (unsigned long long)liobn,
	       (unsigned long long)ioba, (unsigned long long)list, (unsigned long long)npages);
	{
		long want = model_h_put_tce_indirect(&HM, liobn, ioba, list, npages);

		fz_hdone(want, spapr_h_put_tce_indirect(hc_vm, liobn, ioba, list, npages));
	}
}

static void hc_do_stuff(struct fz_in *in)
{
	uint64_t liobn = hc_pick_liobn(in), room, ioba, value, npages;
	const struct model_gtable *t = hc_table(liobn);
	uint8_t b = fz_u8(in);

	ioba = hc_pick_ioba(in, t, &room);
	switch (b % 8) {
	case 0: case 1: case 2: value = 0; break;
	case 3: value = fz_rnd() & ~3ull; break;	/* poison */
	case 4: value = 0x1000 | 3; break;	/* H_PARAMETER */
	default: value = 0; break;
	}
	switch ((b >> 3) % 8) {
	case 0: npages = 1; break;
	case 1: npages = 0; break;
	case 2: npages = room + 1; break;
	case 3: npages = fz_u8(in); break;
	default: npages = room; break;
	}
	if (value && npages > HC_STUFF_CAP)
		npages = HC_STUFF_CAP;
	hc_set_range(liobn, t, ioba, npages);
	fz_req("h_stuff_tce vm 0x%llx 0x%llx 0x%llx %llu", (unsigned long long)liobn,
	       (unsigned long long)ioba, (unsigned long long)value, (unsigned long long)npages);
	fz_hdone(model_h_stuff_tce(&HM, liobn, ioba, value, npages),
		 spapr_h_stuff_tce(hc_vm, liobn, ioba, value, npages));
}

static void hc_do_get(struct fz_in *in)
{
	uint64_t liobn = hc_pick_liobn(in), room, ioba, want = 0, got = 0;
	const struct model_gtable *t = hc_table(liobn);
	long wr, gr;

	ioba = hc_pick_ioba(in, t, &room);
	fz_req("h_get_tce vm 0x%llx 0x%llx", (unsigned long long)liobn, (unsigned long long)ioba);
	fz_req_reads();
	wr = model_h_get_tce(&HM, liobn, ioba, &want);
	gr = spapr_h_get_tce(hc_vm, liobn, ioba, &got);
	if (wr == H_SUCCESS)
		fz_req_check("tce", want, &got);
	fz_hdone(wr, gr);
}

static void hc_do_create_window(struct fz_in *in)
{
	static const uint32_t shifts[] = { 12, 12, 16, 21 };
	static const uint64_t sizes[] = { 1ull << 30, 2ull << 30, 1ull << 20, 1ull << 40, 1ull << 32,
					  16ull << 20 };
	struct vfio_iommu_spapr_tce_create cr;
	uint8_t b = fz_u8(in);
	uint64_t start = 0, pages;
	struct model_res want;
	int c;

	memset(&cr, 0, sizeof(cr));
	cr.argsz = sizeof(cr);
	cr.page_shift = shifts[b % 4];
	cr.window_size = sizes[(b >> 2) % 6];
	cr.levels = 1 + (b >> 6) % 2;
	c = fz_u8(in) & 1;
	if (hc_dead_windows() >= MODEL_DEAD - 2)
		return;
	if (!model_table_pages(cr.page_shift, cr.window_size, cr.levels, &pages) && pages > 32768 &&
	    HM.limit_pages >= pages)
		return;
	fz_req("create c%d %u 0x%llx %u", c, cr.page_shift, (unsigned long long)cr.window_size,
	       cr.levels);
	want = model_create(&HM, c, sizeof(cr), 0, cr.page_shift, cr.window_size, cr.levels, &start);
	if (want.ret == 0)
		fz_req_check("start", start, &cr.start_addr);
	fz_done(want, fz_real(spapr_ioctl(hc_cfd[c], VFIO_IOMMU_SPAPR_TCE_CREATE, &cr)));
}

static void hc_do_remove_window(struct fz_in *in)
{
	struct vfio_iommu_spapr_tce_remove rm = { sizeof(rm), 0, 0 };
	uint8_t b = fz_u8(in);
	int c = (b >> 1) & 1;

	rm.start_addr = b & 1 ? MODEL_SLOT1_START : 0;
	fz_req("remove c%d 0x%llx", c, (unsigned long long)rm.start_addr);
	fz_done(model_remove(&HM, c, sizeof(rm), 0, rm.start_addr),
		fz_real(spapr_ioctl(hc_cfd[c], VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm)));
}

static void hc_do_register(struct fz_in *in)
{
	struct vfio_iommu_spapr_register_memory r = { sizeof(r), 0, 0, 0 };
	uint8_t b = fz_u8(in);
	bool unreg = b & 1;
	int c = (b >> 3) & 1;
	struct model_res want;

	r.vaddr = hc_mem_base((b >> 1) & 1);
	r.size = hc_mem_pages[(b >> 1) & 1] * MODEL_PAGE_SIZE;
	if (b & 4)
		r.size /= 2;
	fz_req("%s c%d %s 0x%llx", unreg ? "unregister" : "register", c, fz_addr(r.vaddr),
	       (unsigned long long)r.size);
	if (unreg) {
		want = model_unregister(&HM, c, sizeof(r), 0, r.vaddr, r.size);
		fz_done(want, fz_real(spapr_ioctl(hc_cfd[c], VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r)));
	} else {
		want = model_register(&HM, c, sizeof(r), 0, r.vaddr, r.size);
		fz_done(want, fz_real(spapr_ioctl(hc_cfd[c], VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r)));
	}
}

static void hc_run_request(struct fz_in *in)
{
	hc_range.on = false;
	switch (fz_u8(in) % 24) {
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

/*
 * Every page its own byte (hm0's 256 pages: all but the last differ), so
 * that a device read through the wrong page shows; never 0, because a page
 * the trace never depended on is not filled in a replay: read through a
 * wrong translation there, it gives 0, which no expected byte is.
 */
static uint8_t hc_pattern(int i, uint64_t pg)
{
	return (uint8_t)((pg * 7 + (uint64_t)i * 101) % 255 + 1);
}

static void hc_prologue_requests(struct fz_in *in);

/* The prologue's requests (the same in most inputs), then one checkpoint. */
static void hc_prologue(struct fz_in *in)
{
	fz_defer_checks(true);
	hc_prologue_requests(in);
	fz_defer_checks(false);
}

static void hc_prologue_requests(struct fz_in *in)
{
	static const uint64_t limits[] = { 64ull << 20, 16ull << 20, (8ull << 20) + (512 << 10),
					   (8ull << 20) + (64 << 10) };
	uint8_t b = fz_u8(in);
	uint64_t limit = limits[b % 4];
	struct model_res want;
	int c;

	fz_req("memlock 0x%llx 0", (unsigned long long)limit);
	want = model_memlock(&HM, limit, 0);
	fz_done(want, fz_real(spapr_mm_set_memlock(limit, 0)));
	/* Their content goes into the trace page by page, as it is needed. */
	for (int i = 0; i < HC_NMEMS; i++)
		hc_mem[i] = fz_mem_map(&HM, i, hc_mem_pages[i], hc_pattern);
	for (int k = 0; k < 2; k++) {
		c = model_open_container(&HM);
		if (c != k)
			fz_diverge("harness: container index %d", c);
		fz_req("container c%d", k);
		hc_cfd[k] = spapr_open_container();
		fz_done((struct model_res){ 0, 0 }, fz_real(hc_cfd[k] < 0 ? -1 : 0));
	}
	for (int id = 0; id < HC_GROUPS; id++) {
		int k = id == 3;

		fz_req("group g%d %d", id, id);
		want = model_open_group(&HM, id);
		hc_gfd[id] = spapr_open_group(id);
		fz_done(want, fz_real(hc_gfd[id] < 0 ? -1 : 0));
		if (id == 2)
			continue;
		fz_req("set_container g%d c%d", id, k);
		want = model_set_container(&HM, id, MODEL_FD_CONTAINER, k);
		fz_done(want, fz_real(spapr_ioctl(hc_gfd[id], VFIO_GROUP_SET_CONTAINER, &hc_cfd[k])));
		if (id == 0 || id == 3) {
			fz_req("set_iommu c%d v2", k);
			want = model_set_iommu(&HM, k, 7);
			fz_done(want, fz_real(spapr_ioctl(hc_cfd[k], VFIO_SET_IOMMU, 7ul)));
		}
	}
	for (int k = 0; k < 2 && !(b & 0x80); k++) {
		struct vfio_iommu_spapr_register_memory r = { sizeof(r), 0, hc_mem_base(0),
							      hc_mem_pages[0] * MODEL_PAGE_SIZE };

		if (k == 1 && (b & 0x20))
			break;	/* c1 without registered memory: attaching g3 is EINVAL */
		fz_req("register c%d %s 0x%llx", k, fz_addr(r.vaddr), (unsigned long long)r.size);
		want = model_register(&HM, k, sizeof(r), 0, r.vaddr, r.size);
		fz_done(want, fz_real(spapr_ioctl(hc_cfd[k], VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r)));
		if (!(b & 0x10)) {
			/* An UNMAP of nothing creates the default window: attachable (E9). */
			struct vfio_iommu_type1_dma_unmap um = { sizeof(um), 0, 0, 0 };

			fz_req("unmap c%d 0x0 0x0", k);
			want = model_unmap(&HM, k, sizeof(um), 0, 0, 0);
			fz_done(want, fz_real(spapr_ioctl(hc_cfd[k], VFIO_IOMMU_UNMAP_DMA, &um)));
		}
	}
	fz_req("guest vm");
	want = model_guest_create(&HM, 120);	/* sizeof(struct kvmppc_spapr_tce_table) */
	fz_done(want, fz_real(spapr_guest_create(&hc_vm)));
	if (b & 0x40)
		return;
	fz_req("memslot vm 0 0x0 0x%llx %s", (unsigned long long)(hc_mem_pages[0] * MODEL_PAGE_SIZE),
	       fz_addr(hc_mem_base(0)));
	want = model_guest_set_memslot(&HM, 0, 0, hc_mem_pages[0] * MODEL_PAGE_SIZE, hc_mem_base(0));
	fz_done(want, fz_real(spapr_guest_set_memslot(hc_vm, 0, 0, hc_mem_pages[0] * MODEL_PAGE_SIZE,
						       hc_mem[0])));
	fz_req("memslot vm 1 0x%llx 0x%llx %s", HC_SLOT1_GPA,
	       (unsigned long long)(hc_mem_pages[1] * MODEL_PAGE_SIZE), fz_addr(hc_mem_base(1)));
	want = model_guest_set_memslot(&HM, 1, HC_SLOT1_GPA, hc_mem_pages[1] * MODEL_PAGE_SIZE,
				       hc_mem_base(1));
	fz_done(want, fz_real(spapr_guest_set_memslot(hc_vm, 1, HC_SLOT1_GPA,
						       hc_mem_pages[1] * MODEL_PAGE_SIZE, hc_mem[1])));
}

static void hc_epilogue(void)
{
	struct model_res want;

	/* Every check on the state the requests left, before the cleanup (harness.h). */
	hc_range.on = false;
	fz_checkpoint();
	fz_tr_add("# cleanup\n");
	fz_req("guest_destroy vm");
	model_guest_destroy(&HM);
	spapr_guest_destroy(hc_vm);
	hc_vm = NULL;
	fz_done((struct model_res){ 0, 0 }, (struct model_res){ 0, 0 });
	if (FZ_CHECKS && fz_rnd() % 4 == 0)
		hc_check_tables();
	for (int s = 0; s < 2 * MODEL_SLOTS; s++) {
		struct vfio_iommu_spapr_tce_remove rm = { sizeof(rm), 0, 0 };
		int k = s / MODEL_SLOTS;

		if (!HM.c[k].win[s % MODEL_SLOTS].present)
			continue;
		rm.start_addr = HM.c[k].win[s % MODEL_SLOTS].start;
		fz_req("remove c%d 0x%llx", k, (unsigned long long)rm.start_addr);
		want = model_remove(&HM, k, sizeof(rm), 0, rm.start_addr);
		fz_done(want, fz_real(spapr_ioctl(hc_cfd[k], VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm)));
	}
	for (int id = 0; id < HC_GROUPS; id++) {
		fz_req("close g%d", id);
		want = model_close_group(&HM, id);
		fz_done(want, fz_real(spapr_close(hc_gfd[id])));
	}
	for (int k = 0; k < 2; k++) {
		fz_req("close c%d", k);
		want = model_close_container(&HM, k);
		fz_done(want, fz_real(spapr_close(hc_cfd[k])));
	}
	fz_reap_orphans(&HM);	/* quirks=kernel: Q3's orphans */
	if (!model_is_clean(&HM))
		fz_diverge("harness: the model is not clean after cleanup");
	fz_end();
	for (int i = 0; i < HC_NMEMS; i++)
		hc_mem[i] = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size, 0 };

	fz_begin("fuzz_hcall", data, size, "hm", hc_post_checks);
	model_init(&HM);
	HM.kernel = fz_kernel;
	hc_prologue(&in);
	for (unsigned k = 0; k < HC_MAX_REQUESTS && in.i < in.n; k++)
		hc_run_request(&in);
	hc_epilogue();
	model_fini(&HM);
	return 0;
}
