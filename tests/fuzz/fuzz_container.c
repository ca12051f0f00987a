/* SPDX-License-Identifier: MIT */
/*
 * fuzz_container: differential fuzzing of the v2 container (spapr_ioctl and
 * friends) against the reference model of tests/model/.
 *
 * An input is a byte string decoded into at most MAX_REQUESTS requests:
 * open/close containers and groups, SET_CONTAINER/UNSET, SET_IOMMU,
 * REGISTER/UNREGISTER, MAP/UNMAP, TCE_CREATE/REMOVE, GET_INFO,
 * CHECK_EXTENSION, ENABLE/DISABLE, device DMA, memlock changes and
 * mprotect.  Addresses are drawn as "(n-th mem, region or window, offset)"
 * so that random bytes reach valid
 * objects, plus raw edge values (unaligned, huge, wrapping).
 *
 * After every request: return value and errno, locked_vm and the pinned
 * page count are compared with the model.  After every request that may
 * have changed the state (tests/fuzz/harness.h): the geometry of every
 * window reachable through an open container is compared with the model
 * (after table-changing requests), and a sample of bus addresses is read
 * by a device (emu_dma_read) and must give the byte at the model's ua, or
 * fault as the model says.  Before the cleanup: the invariant checkers
 * (mmreg_mm_check, emu_mem_check, emu_machine_check) and tce_table_check
 * on every window; tce_table_check again after every request of the
 * cleanup, the checkers after it.
 *
 * The generator keeps each input cleanable: it does not issue a request
 * that would make the library release a container while another
 * container's TCEs point into a region only that container holds (the
 * kernel then leaks the region for the life of the process: its
 * mm_iommu_put fails with EBUSY, so the next input could not start clean).  At the end of the input
 * everything is closed and the state must be clean: locked_vm 0, nothing
 * pinned, no table memory.
 *
 * The guest hypercall path (H_PUT_TCE ...) has its own target,
 * tests/fuzz/fuzz_hcall.c.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"
#include "spapr/spapr_priv.h"
#include "tce/tce.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/harness.h"
#include "tests/model/model.h"

#define MAX_REQUESTS 96
/*
 * Requests from a forked child per input: later ones are skipped (their
 * bytes still consumed), and the request's kind byte names one of the 7
 * kinds only in 7 values of 64 (the rest skip it too), so that about one
 * input in thirty forks instead of most.  A fork of an ASan process copies
 * its page tables (80 to 130 MB resident, 2 MB of page tables: 5 to 13 ms
 * here) and write-protects every page, so each later write of the parent
 * faults once: with one fork per foreign request, forks were 40% of a run,
 * and half of the rest was the faults.  Nothing becomes unreachable: a
 * foreign request changes nothing in the parent, so the state before the
 * n-th one is reached by the same input without the earlier ones.
 */
#define MAX_FORKS 1
#define MAX_CONTAINERS 4
#define NMEMS 3
#define CHARGE_CAP 32768ull	/* pages: bigger windows only where the limit refuses them */
#define NOT_OURS_FD 999999

static const uint64_t mem_pages[NMEMS] = { 64, 16, 256 };

/* ------------------------------------------------------------- state */

static struct model M;
static int cfd[MODEL_CONTAINERS];
static unsigned cname[MODEL_CONTAINERS];
static int gfd[MODEL_GROUPS];
static unsigned gname[MODEL_GROUPS];
static unsigned next_cname, next_gname;
static uint8_t *mem[NMEMS];
/* Set by requests that may change a table: post_checks then runs tce_table_check
 * (a full scan of every table, the most expensive check). */
static bool tables_dirty, in_cleanup;
static unsigned forks;	/* in this input (MAX_FORKS) */

/* --------------------------------------------------------- comparisons */

/* Window geometry against the model; with @full also tce_table_check (a
 * scan of the whole table: most of a run's time when done every request). */
static void check_tables(bool full)
{
	for (int c = 0; c < MODEL_CONTAINERS; c++) {
		struct spapr_obj *obj;
		struct spapr_container *ct;

		if (!M.c[c].exists || !M.c[c].fd_open)
			continue;
		obj = spapr__fd_get(cfd[c]);
		if (!obj)
			fz_diverge("container fd %d unknown to the library", cfd[c]);
		ct = (struct spapr_container *)obj;
		for (unsigned s = 0; s < SPAPR_WINDOWS; s++) {
			struct spapr_window *w = ct->tc ? ct->tc->windows[s] : NULL;
			const struct model_window *mw = &M.c[c].win[s];

			if (!w != !mw->present) {
				spapr__obj_put(obj);
				fz_diverge("c%u slot %u: window %s in the library, %s in the model", cname[c],
					   s, w ? "present" : "absent", mw->present ? "present" : "absent");
			}
			if (!w)
				continue;
			if (w->start != mw->start || w->size != mw->it_size << mw->page_shift ||
			    w->page_shift != mw->page_shift || w->charged != mw->charged) {
				spapr__obj_put(obj);
				fz_diverge("c%u slot %u: window start 0x%llx size 0x%llx shift %u charged %llu,"
					   " model 0x%llx 0x%llx %u %llu", cname[c], s,
					   (unsigned long long)w->start, (unsigned long long)w->size,
					   w->page_shift, (unsigned long long)w->charged,
					   (unsigned long long)mw->start,
					   (unsigned long long)(mw->it_size << mw->page_shift), mw->page_shift,
					   (unsigned long long)mw->charged);
			}
			if (full && tce_table_check(w->table)) {
				spapr__obj_put(obj);
				fz_diverge("tce_table_check failed on c%u slot %u", cname[c], s);
			}
		}
		spapr__obj_put(obj);
	}
}

/* Device reads of a few bus addresses: mapped entries of the model, and a random one. */
static void sample_dma(void)
{
	bool pick[MODEL_GROUPS];

	fz_sample_groups(&M, in_cleanup || fz_checkpoint_running(), pick);
	for (int id = 0; id < MODEL_GROUPS; id++) {
		const struct model_container *ct;
		int c = M.g[id].container;

		if (!pick[id])
			continue;
		ct = &M.c[c];
		for (int s = 0; s < MODEL_SLOTS; s++) {
			const struct model_window *w = &ct->win[s];
			uint64_t psize;

			if (!w->present)
				continue;
			psize = 1ull << w->page_shift;
			if (w->n) {
				const struct model_entry *e = &w->e[fz_rnd() % w->n];

				fz_check_dma_read(&M, id, (e->entry << w->page_shift) + fz_rnd() % psize, 1);
			}
			fz_check_dma_read(&M, id, w->start + (fz_rnd() % w->it_size) * psize + fz_rnd() % psize, 1);
		}
	}
}

static void post_checks(void)
{
	bool dirty = tables_dirty, all = in_cleanup || fz_checkpoint_running();

	tables_dirty = false;
	fz_check_state(&M);
	/* The rest only where the request may have changed something
	 * (harness.h: after one that changed nothing it would see the state the
	 * last check saw). */
	if (!fz_changed())
		return;
	/* The window geometry after every table-changing request; the full
	 * table check at the checkpoint before the cleanup and after every
	 * request of the cleanup. */
	if (dirty || all)
		check_tables(all);
	sample_dma();
}

/* --------------------------------------------------------- selection */

/* The n-th container whose fd is open, or -1. */
static int pick_container(struct fz_in *in)
{
	int open[MODEL_CONTAINERS], n = 0;

	for (int c = 0; c < MODEL_CONTAINERS; c++)
		if (M.c[c].exists && M.c[c].fd_open)
			open[n++] = c;
	return n ? open[fz_u8(in) % n] : -1;
}

static int pick_group(struct fz_in *in)
{
	int open[MODEL_GROUPS], n = 0;

	for (int g = 0; g < MODEL_GROUPS; g++)
		if (M.g[g].open)
			open[n++] = g;
	return n ? open[fz_u8(in) % n] : -1;
}

static int nth_region(unsigned k)
{
	int live[MODEL_REGIONS], n = 0;

	for (int r = 0; r < MODEL_REGIONS; r++)
		if (M.reg[r].live)
			live[n++] = r;
	return n ? live[k % n] : -1;
}

static unsigned live_regions(void)
{
	unsigned n = 0;

	for (int r = 0; r < MODEL_REGIONS; r++)
		n += M.reg[r].live;
	return n;
}

static uint64_t mem_base(int i)
{
	return (uintptr_t)mem[i];
}

/* A user address: (n-th mem or region, page offset) or a raw edge value. */
static uint64_t pick_ua(struct fz_in *in)
{
	static const uint64_t edges[] = { 0, 0x1000, (1ull << 47) - 0x1000, 1ull << 48, 1ull << 63,
					  -0x1000ull, -0x2000ull };
	uint8_t sel = fz_u8(in) % 16;

	if (sel < 6) {
		int i = sel % NMEMS;

		return mem_base(i) + (fz_u8(in) % (mem_pages[i] + 1)) * MODEL_PAGE_SIZE;
	}
	if (sel < 12) {
		int r = nth_region(fz_u8(in));

		if (r < 0)
			return mem_base(0);
		return M.reg[r].ua + (fz_u8(in) % (M.reg[r].entries + 1)) * MODEL_PAGE_SIZE;
	}
	if (sel < 14) {
		int i = sel % NMEMS;

		return mem_base(i) + (fz_u8(in) % mem_pages[i]) * MODEL_PAGE_SIZE +
		       (sel & 1 ? 0x800 : 1);
	}
	return edges[fz_u8(in) % (sizeof(edges) / sizeof(edges[0]))];
}

/* A size in units of @unit (a page size), or an edge value. */
static uint64_t pick_size(struct fz_in *in, uint64_t unit)
{
	uint8_t sel = fz_u8(in) % 16;

	if (sel < 13)
		return (uint64_t)(fz_u8(in) % 48 + (sel ? 1 : 0)) * unit;
	switch (fz_u8(in) % 5) {
	case 0: return unit / 2;
	case 1: return 1ull << 63;
	case 2: return -unit;
	case 3: return 1ull << 40;
	default: return unit + 0x800;
	}
}

static uint64_t slot_start(unsigned s)
{
	return s ? MODEL_SLOT1_START : 0;
}

/* A bus address for container @c: (slot, entry offset) or an edge. */
static uint64_t pick_iova(struct fz_in *in, int c, uint64_t *unit)
{
	uint8_t b = fz_u8(in);
	unsigned s = b & 1, sel = (b >> 1) % 10;
	const struct model_window *w = &M.c[c].win[s];
	uint64_t p = w->present ? 1ull << w->page_shift : MODEL_PAGE_SIZE;
	uint64_t end = w->present ? w->start + (w->it_size << w->page_shift) : slot_start(s) + (2ull << 30);

	*unit = p;
	if (sel < 6)
		return slot_start(s) + (uint64_t)fz_u16(in) * p;
	if (sel == 6)
		return end - p;
	if (sel == 7)
		return end;
	switch (fz_u8(in) % 5) {
	case 0: return 1ull << 58;
	case 1: return -p;
	case 2: return slot_start(s) + 0x800;
	case 3: return slot_start(s) + (uint64_t)fz_u16(in) * p + 1;
	default: return slot_start(s) + (uint64_t)fz_u16(in) * p * 64;
	}
}

/* argsz and flags: mostly right, sometimes short or with a bad flag. */
static void pick_argsz_flags(struct fz_in *in, uint32_t minsz, uint32_t *argsz, uint32_t *flags)
{
	uint8_t b = fz_u8(in);

	*argsz = minsz;
	*flags = 0;
	if (b < 240)
		return;
	switch (b & 7) {
	case 0: *argsz = minsz - 1; break;
	case 1: *argsz = minsz + 8; break;
	case 2: *argsz = 0; break;
	case 3: *flags = 1; break;
	case 4: *flags = 0x80000000u; break;
	default: *argsz = minsz + 64; break;
	}
}

static void req_argsz_flags(uint32_t minsz, uint32_t argsz, uint32_t flags)
{
	if (flags || argsz != minsz)
		fz_req_more(" flags=%u argsz=%u", flags, argsz);
}

/* ---------------------------------------------------- generator rules */

/* Whether the entries of container @c point only into regions it holds, and
 * none of its regions is mapped by another container: then closing its fd
 * while groups hold it keeps the input cleanable. */
static bool isolated(int c)
{
	const struct model_container *ct = &M.c[c];

	for (int s = 0; s < MODEL_SLOTS; s++) {
		for (size_t i = 0; i < ct->win[s].n; i++) {
			bool ok = false;

			for (int r = 0; r < MODEL_REGIONS && !ok; r++) {
				const struct model_region *reg = &M.reg[r];

				ok = ct->held[r] && reg->live && ct->win[s].e[i].ua >= reg->ua &&
				     ct->win[s].e[i].ua - reg->ua < reg->entries << MODEL_PAGE_SHIFT;
			}
			if (!ok)
				return false;
		}
	}
	for (int r = 0; r < MODEL_REGIONS; r++) {
		uint64_t mine = 0, end;

		if (!ct->held[r])
			continue;
		end = M.reg[r].ua + (M.reg[r].entries << MODEL_PAGE_SHIFT);
		for (int s = 0; s < MODEL_SLOTS; s++)
			for (size_t i = 0; i < ct->win[s].n; i++)
				if (ct->win[s].e[i].ua >= M.reg[r].ua && ct->win[s].e[i].ua < end)
					mine++;
		if (model_region_mapped(&M, r) > mine)
			return false;
	}
	return true;
}

static bool overlaps_region(uint64_t ua, uint64_t size)
{
	/* v1 entries pin their pages too */
	for (int c = 0; c < MODEL_CONTAINERS; c++) {
		for (int s = 0; s < MODEL_SLOTS; s++) {
			const struct model_window *w = &M.c[c].win[s];

			if (!M.c[c].exists || M.c[c].type != 2 || !w->present)
				continue;
			for (size_t i = 0; i < w->n; i++)
				if (w->e[i].ua < ua + size && ua < w->e[i].ua + (1ull << w->page_shift))
					return true;
		}
	}
	for (int r = 0; r < MODEL_REGIONS; r++) {
		const struct model_region *reg = &M.reg[r];

		if (reg->live && ua < reg->ua + (reg->entries << MODEL_PAGE_SHIFT) &&
		    reg->ua < ua + size)
			return true;
	}
	return false;
}

/* ----------------------------------------------------------- requests */

static void do_open_container(void)
{
	int n = 0, c, fd;

	for (int i = 0; i < MODEL_CONTAINERS; i++)
		n += M.c[i].exists;
	if (n >= MAX_CONTAINERS)
		return;
	c = model_open_container(&M);
	cname[c] = next_cname++;
	fz_req("container c%u", cname[c]);
	fd = spapr_open_container();
	cfd[c] = fd;
	fz_done((struct model_res){ 0, 0 }, fz_real(fd < 0 ? -1 : 0));
}

static void do_open_group(struct fz_in *in)
{
	int id = fz_u8(in) % (MODEL_GROUPS + 1), fd;
	unsigned name = next_gname++;
	struct model_res want = model_open_group(&M, id);

	fz_req("group g%u %d", name, id);
	fd = spapr_open_group(id);
	if (fd >= 0 && want.ret == 0) {
		gfd[id] = fd;
		gname[id] = name;
	}
	fz_done(want, fz_real(fd < 0 ? -1 : 0));
}

static void do_close_container(struct fz_in *in)
{
	int c = pick_container(in);
	struct model_res want;

	if (c < 0)
		return;
	if (model_close_container_releases(&M, c) ? model_release_would_orphan(&M, c) : !isolated(c))
		return;
	fz_req("close c%u", cname[c]);
	want = model_close_container(&M, c);
	fz_done(want, fz_real(spapr_close(cfd[c])));
}

static bool detach_ok(int id)
{
	return !model_detach_releases(&M, id) || !model_release_would_orphan(&M, M.g[id].container);
}

static void do_close_group(struct fz_in *in)
{
	int id = pick_group(in);
	struct model_res want;

	if (id < 0 || !detach_ok(id))
		return;
	fz_req("close g%u", gname[id]);
	want = model_close_group(&M, id);
	fz_done(want, fz_real(spapr_close(gfd[id])));
}

static void do_set_container(struct fz_in *in)
{
	int id = pick_group(in), c = -1, fd, other;
	uint8_t sel = fz_u8(in) % 10;
	enum model_fdkind kind;
	struct model_res want;

	if (id < 0)
		return;
	if (sel < 7)
		c = pick_container(in);
	if (c >= 0) {
		kind = MODEL_FD_CONTAINER;
		fd = cfd[c];
		fz_req("set_container g%u c%u", gname[id], cname[c]);
	} else if (sel <= 7) {
		other = pick_group(in);
		kind = MODEL_FD_GROUP;
		fd = gfd[other];
		/* The trace names no group fd as a container: a comment line. */
		fz_req("set_container g%u g%u", gname[id], gname[other]);
		fz_req_comment();
	} else if (sel == 8) {
		kind = MODEL_FD_NEGATIVE;
		fd = -1;
		fz_req("set_container g%u -1", gname[id]);
	} else {
		kind = MODEL_FD_NOT_OURS;
		fd = NOT_OURS_FD;
		fz_req("set_container g%u %d", gname[id], fd);
	}
	want = model_set_container(&M, id, kind, c);
	fz_done(want, fz_real(spapr_ioctl(gfd[id], VFIO_GROUP_SET_CONTAINER, &fd)));
}

static void do_unset_container(struct fz_in *in)
{
	int id = pick_group(in);
	struct model_res want;

	if (id < 0 || !detach_ok(id))
		return;
	fz_req("unset_container g%u", gname[id]);
	want = model_unset_container(&M, id);
	fz_done(want, fz_real(spapr_ioctl(gfd[id], VFIO_GROUP_UNSET_CONTAINER)));
}

static void do_set_iommu(struct fz_in *in)
{
	static const unsigned long types[] = { 7, 7, 7, 7, 2, 2, 1, 3, 8, 0x10007 };
	int c = pick_container(in);
	unsigned long type = types[fz_u8(in) % 10];
	struct model_res want;

	if (c < 0)
		return;
	if (type == 7)
		fz_req("set_iommu c%u v2", cname[c]);
	else if (type == 2)
		fz_req("set_iommu c%u v1", cname[c]);
	else
		fz_req("set_iommu c%u %lu", cname[c], type);
	want = model_set_iommu(&M, c, type);
	fz_done(want, fz_real(spapr_ioctl(cfd[c], VFIO_SET_IOMMU, type)));
}

static void do_register(struct fz_in *in, bool unregister)
{
	struct vfio_iommu_spapr_register_memory r;
	int c = pick_container(in);
	uint32_t argsz, flags;
	uint64_t vaddr, size;
	struct model_res want;

	if (c < 0)
		return;
	if (unregister && fz_u8(in) % 4 != 0 && live_regions()) {
		int k = nth_region(fz_u8(in));

		vaddr = M.reg[k].ua;
		size = M.reg[k].entries << MODEL_PAGE_SHIFT;
	} else {
		vaddr = pick_ua(in);
		size = pick_size(in, MODEL_PAGE_SIZE);
	}
	if (!unregister && live_regions() >= MODEL_REGIONS - 1)
		return;
	pick_argsz_flags(in, 24, &argsz, &flags);
	fz_req("%s c%u %s 0x%llx", unregister ? "unregister" : "register", cname[c], fz_addr(vaddr),
	       (unsigned long long)size);
	req_argsz_flags(24, argsz, flags);
	memset(&r, 0, sizeof(r));
	r.argsz = argsz;
	r.flags = flags;
	r.vaddr = vaddr;
	r.size = size;
	if (unregister) {
		want = model_unregister(&M, c, argsz, flags, vaddr, size);
		fz_done(want, fz_real(spapr_ioctl(cfd[c], VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r)));
	} else {
		want = model_register(&M, c, argsz, flags, vaddr, size);
		fz_done(want, fz_real(spapr_ioctl(cfd[c], VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r)));
	}
}

static const char *perm_str(uint32_t flags)
{
	switch (flags & 3) {
	case 1: return "r";
	case 2: return "w";
	case 3: return "rw";
	default: return "none";
	}
}

static void do_map(struct fz_in *in)
{
	struct vfio_iommu_type1_dma_map mp;
	int c = pick_container(in);
	uint64_t vaddr, iova, size, unit;
	uint32_t argsz, flags, fl;
	uint8_t b;
	struct model_res want;

	if (c < 0)
		return;
	vaddr = pick_ua(in);
	iova = pick_iova(in, c, &unit);
	b = fz_u8(in);
	if (b % 8 == 0) {
		int r = -1;

		for (int k = 0; k < MODEL_REGIONS && r < 0; k++)
			if (M.reg[k].live && vaddr >= M.reg[k].ua &&
			    vaddr - M.reg[k].ua < M.reg[k].entries << MODEL_PAGE_SHIFT)
				r = k;
		size = r >= 0 ? M.reg[r].ua + (M.reg[r].entries << MODEL_PAGE_SHIFT) - vaddr : unit;
	} else {
		size = pick_size(in, unit);
	}
	fl = fz_u8(in) % 10;
	flags = fl < 4 ? 3 : fl < 6 ? 1 : fl < 8 ? 2 : fl == 8 ? 0 : 7;
	pick_argsz_flags(in, 32, &argsz, &fl);
	if (fl)
		flags |= fl;
	fz_req("map c%u %s 0x%llx 0x%llx %s", cname[c], fz_addr(vaddr), (unsigned long long)iova,
	       (unsigned long long)size, perm_str(flags));
	if ((flags & ~3u) || argsz != 32)
		fz_req_more(" flags=%u argsz=%u", flags, argsz);
	memset(&mp, 0, sizeof(mp));
	mp.argsz = argsz;
	mp.flags = flags;
	mp.vaddr = vaddr;
	mp.iova = iova;
	mp.size = size;
	want = model_map(&M, c, argsz, flags, vaddr, iova, size);
	fz_done(want, fz_real(spapr_ioctl(cfd[c], VFIO_IOMMU_MAP_DMA, &mp)));
}

static void do_unmap(struct fz_in *in)
{
	struct vfio_iommu_type1_dma_unmap um;
	int c = pick_container(in);
	uint64_t iova, size, unit;
	uint32_t argsz, flags;
	struct model_res want;

	if (c < 0)
		return;
	iova = pick_iova(in, c, &unit);
	if (fz_u8(in) % 8 == 0) {
		const struct model_window *w = &M.c[c].win[iova >= MODEL_SLOT1_START];

		size = w->present ? w->it_size << w->page_shift : 2ull << 30;
		iova = w->present ? w->start : iova;
	} else {
		size = pick_size(in, unit);
	}
	pick_argsz_flags(in, 24, &argsz, &flags);
	fz_req("unmap c%u 0x%llx 0x%llx", cname[c], (unsigned long long)iova, (unsigned long long)size);
	req_argsz_flags(24, argsz, flags);
	memset(&um, 0, sizeof(um));
	um.argsz = argsz;
	um.flags = flags;
	um.iova = iova;
	um.size = size;
	want = model_unmap(&M, c, argsz, flags, iova, size);
	fz_done(want, fz_real(spapr_ioctl(cfd[c], VFIO_IOMMU_UNMAP_DMA, &um)));
}

static void do_create(struct fz_in *in)
{
	static const uint32_t shifts[] = { 12, 12, 12, 12, 16, 21, 30, 13, 0, 64, 24, 45 };
	struct vfio_iommu_spapr_tce_create cr;
	int c = pick_container(in);
	uint32_t argsz, flags, shift, levels;
	uint64_t wsize, start = 0, pages;
	uint8_t b;
	struct model_res want;

	if (c < 0)
		return;
	shift = shifts[fz_u8(in) % (sizeof(shifts) / sizeof(shifts[0]))];
	b = fz_u8(in);
	if (b < 224)
		wsize = 1ull << (b % 64);
	else if (b < 240)
		wsize = (2ull << 30) >> (b % 8);
	else
		wsize = (b & 1) ? 0 : 3ull << 20;
	levels = fz_u8(in) % 7;
	pick_argsz_flags(in, 40, &argsz, &flags);
	/* Never let the library allocate a huge table for real. */
	if (!model_table_pages(shift, wsize, levels, &pages) && pages > CHARGE_CAP &&
	    (M.cap_ipc_lock || M.limit_pages >= pages))
		return;
	fz_req("create c%u %u 0x%llx %u", cname[c], shift, (unsigned long long)wsize, levels);
	req_argsz_flags(40, argsz, flags);
	memset(&cr, 0, sizeof(cr));
	cr.argsz = argsz;
	cr.flags = flags;
	cr.page_shift = shift;
	cr.window_size = wsize;
	cr.levels = levels;
	want = model_create(&M, c, argsz, flags, shift, wsize, levels, &start);
	if (want.ret == 0)
		fz_req_check("start", start, &cr.start_addr);
	fz_done(want, fz_real(spapr_ioctl(cfd[c], VFIO_IOMMU_SPAPR_TCE_CREATE, &cr)));
}

static void do_remove(struct fz_in *in)
{
	struct vfio_iommu_spapr_tce_remove rm;
	int c = pick_container(in);
	uint32_t argsz, flags;
	uint64_t start, unit;
	struct model_res want;
	uint8_t b;

	if (c < 0)
		return;
	b = fz_u8(in);
	if (b < 160)
		start = slot_start(b & 1);
	else
		start = pick_iova(in, c, &unit);
	pick_argsz_flags(in, 16, &argsz, &flags);
	fz_req("remove c%u 0x%llx", cname[c], (unsigned long long)start);
	req_argsz_flags(16, argsz, flags);
	memset(&rm, 0, sizeof(rm));
	rm.argsz = argsz;
	rm.flags = flags;
	rm.start_addr = start;
	want = model_remove(&M, c, argsz, flags, start);
	fz_done(want, fz_real(spapr_ioctl(cfd[c], VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm)));
}

static void do_dma(struct fz_in *in)
{
	uint8_t b = fz_u8(in), val = fz_u8(in), buf[32];
	int id = (b & 7) % (MODEL_GROUPS + 1), c, want, got;
	bool write = b & 0x80;
	unsigned len = 1 + fz_u8(in) % 16;
	uint64_t iova = 0, unit;

	c = id < MODEL_GROUPS ? M.g[id].container : -1;
	if (c >= 0 && (b & 0x40)) {
		const struct model_window *w = &M.c[c].win[(b >> 3) & 1];

		if (w->present && w->n) {
			uint64_t psize = 1ull << w->page_shift;

			iova = (w->e[fz_u16(in) % w->n].entry << w->page_shift) +
			       ((b & 0x20) ? psize - 3 : fz_u8(in) % psize);
		}
	} else if (c >= 0) {
		iova = pick_iova(in, c, &unit);
	} else {
		iova = (uint64_t)fz_u16(in) << 12;
	}
	if (!write) {
		fz_check_dma_read(&M, id, iova, len);
		return;
	}
	want = model_dma(&M, id, iova, len, true);
	memset(buf, val, sizeof(buf));
	got = emu_dma_write(id, iova, buf, len);
	fz_tr_add("dma_write %d 0x%llx %u 0x%02x => %s\n", id, (unsigned long long)iova, len, val,
		  fz_dma_str(want));
	if (FZ_CHECKS && got != want)
		fz_diverge("device write returned %s", fz_dma_str(got));
	if (want || !FZ_CHECKS)
		return;
	for (unsigned k = 0; k < len; k++) {
		uint64_t ua;
		unsigned perm;

		model_translate(&M, id, iova + k, &ua, &perm);
		if (k == 0 || ((iova + k) & (MODEL_PAGE_SIZE - 1)) == 0) {
			unsigned run = 1;

			while (k + run < len && ((iova + k + run) & (MODEL_PAGE_SIZE - 1)) != 0)
				run++;
			fz_tr_add("check %s %u 0x%02x => ok\n", fz_addr(ua), run, val);
		}
		if (*(volatile uint8_t *)(uintptr_t)ua != val)
			fz_diverge("byte %u of the device write is not at ua %s", k, fz_addr(ua));
	}
}

static void do_memlock(struct fz_in *in)
{
	static const uint64_t limits[] = { 64ull << 20, (8ull << 20) + (256 << 10), 8ull << 20,
					   (8ull << 20) + (64 << 10), 1ull << 20, 256 << 10, 0,
					   16ull << 20, 32ull << 20, (8ull << 20) + 4095 };
	uint8_t b = fz_u8(in);
	uint64_t limit = limits[b % 10];
	int cap = (b & 0xf0) == 0xf0 ? 1 : (b & 0xf0) == 0xe0 ? 2 : 0;
	struct model_res want;

	fz_req("memlock 0x%llx %d", (unsigned long long)limit, cap);
	want = model_memlock(&M, limit, cap);
	fz_done(want, fz_real(spapr_mm_set_memlock(limit, cap)));
}

static void do_mprotect(struct fz_in *in)
{
	static const char *const names[] = { "rw", "ro", "none" };
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE };
	static const enum model_prot mprots[] = { MODEL_RW, MODEL_RO, MODEL_NONE };
	int i = fz_u8(in) % NMEMS, k = fz_u8(in) % 3;
	uint64_t page = fz_u8(in) % mem_pages[i], n = 1 + fz_u8(in) % 4, ua;

	if (page + n > mem_pages[i])
		n = mem_pages[i] - page;
	ua = mem_base(i) + page * MODEL_PAGE_SIZE;
	/* Pinned memory stays rw: the device writes through hva = ua. */
	if (overlaps_region(ua, n * MODEL_PAGE_SIZE))
		return;
	fz_req("mprotect %s 0x%llx %s", fz_addr(ua), (unsigned long long)(n * MODEL_PAGE_SIZE), names[k]);
	model_mem_protect(&M, ua, n * MODEL_PAGE_SIZE, mprots[k]);
	fz_done((struct model_res){ 0, 0 },
		fz_real(mprotect((void *)(uintptr_t)ua, n * MODEL_PAGE_SIZE, prots[k])));
}

static void do_info(struct fz_in *in)
{
	static const uint32_t sizes[] = { 32, 32, 16, 15, 24, 40 };
	int c = pick_container(in);
	uint8_t b = fz_u8(in);
	struct vfio_iommu_spapr_tce_info info;
	struct model_info mi;
	struct model_res want;

	if (c < 0)
		return;
	if (b & 0x80) {
		unsigned long ext = b % 12;

		fz_req("check_extension c%u %lu", cname[c], ext);
		fz_req_reads();
		want = model_check_extension(&M, c, ext);
		fz_done(want, fz_real(spapr_ioctl(cfd[c], VFIO_CHECK_EXTENSION, ext)));
		return;
	}
	if ((b & 0x60) == 0x60) {
		/* A request with a NULL argument (EFAULT after the earlier checks),
		 * or an unknown request number. */
		static const unsigned long reqs[] = {
			VFIO_IOMMU_SPAPR_REGISTER_MEMORY, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
			VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_IOMMU_SPAPR_TCE_CREATE,
			VFIO_IOMMU_SPAPR_TCE_REMOVE, VFIO_IOMMU_SPAPR_TCE_GET_INFO,
			VFIO_IOMMU_SPAPR_TCE_REMOVE + 10, 0x3b00, 0,
		};
		unsigned long r = reqs[b % 10];

		fz_req("ioctl c%u 0x%lx", cname[c], r);
		fz_req_reads();	/* a NULL argument or an unknown request: an error */
		want = model_null_arg(&M, c, r);
		fz_done(want, fz_real(spapr_ioctl(cfd[c], r, NULL)));
		return;
	}
	if (b & 0x40) {
		bool en = b & 1;

		fz_req("%s c%u", en ? "enable" : "disable", cname[c]);
		want = en ? model_enable(&M, c) : model_disable(&M, c);
		fz_done(want, fz_real(spapr_ioctl(cfd[c], en ? VFIO_IOMMU_ENABLE : VFIO_IOMMU_DISABLE)));
		return;
	}
	memset(&info, 0x5a, sizeof(info));
	info.argsz = sizes[b % 6];
	fz_req("get_info c%u", cname[c]);
	fz_req_reads();
	if (info.argsz != 32)
		fz_req_more(" argsz=%u", info.argsz);
	want = model_get_info(&M, c, info.argsz, &mi);
	fz_done(want, fz_real(spapr_ioctl(cfd[c], VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info)));
	if (want.ret || !FZ_CHECKS)
		return;
	if (info.dma32_window_start != mi.start || info.dma32_window_size != mi.size)
		fz_diverge("get_info: window 0x%x+0x%x", info.dma32_window_start, info.dma32_window_size);
	if (info.flags != mi.flags)
		fz_diverge("get_info: flags %u", info.flags);
	if (info.argsz >= 32 && (info.ddw.pgsizes != mi.pgsizes ||
				 info.ddw.max_dynamic_windows_supported != mi.max_windows ||
				 info.ddw.levels != mi.levels))
		fz_diverge("get_info: ddw {0x%llx, %u, %u}", (unsigned long long)info.ddw.pgsizes,
			   info.ddw.max_dynamic_windows_supported, info.ddw.levels);
	if (info.argsz < 32 && info.ddw.pgsizes != 0x5a5a5a5a5a5a5a5aull)
		fz_diverge("get_info with argsz %u wrote past 16 bytes", info.argsz);
}

/* A request from a forked child (docs/kernel.md's foreign-process rule): EPERM once the container is bound. */
static void do_foreign(struct fz_in *in)
{
	int c = pick_container(in), status;
	uint8_t b = fz_u8(in) % 64;	/* 7 kinds; 8 to 63: no request (MAX_FORKS says why) */
	unsigned long reqnum = 0, ext = 7;
	union {
		struct vfio_iommu_spapr_register_memory reg;
		struct vfio_iommu_type1_dma_map map;
		struct vfio_iommu_type1_dma_unmap unmap;
		struct vfio_iommu_spapr_tce_remove rm;
		struct vfio_iommu_spapr_tce_info info;
	} u;
	struct model_res want, got;
	pid_t pid;

	if (c < 0 || b >= 7)
		return;
	memset(&u, 0, sizeof(u));
	switch (b) {
	case 0:
		reqnum = VFIO_IOMMU_SPAPR_REGISTER_MEMORY;
		u.reg.argsz = sizeof(u.reg);
		u.reg.vaddr = mem_base(0);
		u.reg.size = MODEL_PAGE_SIZE;
		fz_req("fork_expect c%u register c%u %s 0x1000", cname[c], cname[c], fz_addr(u.reg.vaddr));
		break;
	case 1:
		reqnum = VFIO_IOMMU_MAP_DMA;
		u.map.argsz = sizeof(u.map);
		u.map.flags = 3;
		u.map.vaddr = mem_base(0);
		u.map.size = MODEL_PAGE_SIZE;
		fz_req("fork_expect c%u map c%u %s 0x0 0x1000 rw", cname[c], cname[c], fz_addr(u.map.vaddr));
		break;
	case 2:
		reqnum = VFIO_IOMMU_UNMAP_DMA;
		u.unmap.argsz = sizeof(u.unmap);
		u.unmap.size = MODEL_PAGE_SIZE;
		fz_req("fork_expect c%u unmap c%u 0x0 0x1000", cname[c], cname[c]);
		break;
	case 3:
		reqnum = VFIO_IOMMU_SPAPR_TCE_REMOVE;
		u.rm.argsz = sizeof(u.rm);
		fz_req("fork_expect c%u remove c%u 0x0", cname[c], cname[c]);
		break;
	case 4:
		reqnum = VFIO_IOMMU_SPAPR_TCE_GET_INFO;
		u.info.argsz = sizeof(u.info);
		fz_req("fork_expect c%u get_info c%u", cname[c], cname[c]);
		break;
	case 5:
		reqnum = VFIO_CHECK_EXTENSION;
		fz_req("fork_expect c%u check_extension c%u %lu", cname[c], cname[c], ext);
		break;
	default:
		reqnum = VFIO_IOMMU_ENABLE;
		fz_req("fork_expect c%u enable c%u", cname[c], cname[c]);
		break;
	}
	want = model_foreign(&M, c, reqnum, ext);
	if (want.ret == -2)
		return;	/* not bound: the child would act on its own copy */
	/* One input in fz_fork_one_in, by its hash (harness.h): a fork costs
	 * milliseconds, and mutants of a seed that forks kept forking. */
	if (forks >= MAX_FORKS || fz_input_hash % fz_fork_one_in)
		return;
	forks++;
	fz_req_reads();	/* the child's request changes nothing here */
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fz_diverge("fork failed");
	if (pid == 0) {
		int rc = reqnum == VFIO_CHECK_EXTENSION ? spapr_ioctl(cfd[c], reqnum, ext) :
			 reqnum == VFIO_IOMMU_ENABLE ? spapr_ioctl(cfd[c], reqnum) :
			 spapr_ioctl(cfd[c], reqnum, &u);

		/* 0-99: a return value; 100 + errno: a failure. */
		_exit(rc < 0 ? 100 + errno : rc);
	}
	if (fz_waitpid(pid, &status) != pid)
		fz_diverge("waitpid failed: %s", strerror(errno));
	if (!WIFEXITED(status))
		fz_diverge("the forked child died (status 0x%x)", status);
	status = WEXITSTATUS(status);
	got.ret = status >= 100 ? -1 : status;
	got.err = status >= 100 ? status - 100 : 0;
	fz_done(want, got);
}

static void run_request(struct fz_in *in)
{
	uint8_t op = fz_u8(in) % 24;

	/* Requests that cannot change a table: groups opening, REGISTER, DMA,
	 * memlock, mprotect, GET_INFO. */
	tables_dirty = !(op == 0 || op == 1 || (op >= 8 && op <= 9) || op >= 18);
	switch (op) {
	case 0: do_open_container(); break;
	case 1: do_open_group(in); break;
	case 2: do_close_container(in); break;
	case 3: do_close_group(in); break;
	case 4: case 5: do_set_container(in); break;
	case 6: do_unset_container(in); break;
	case 7: do_set_iommu(in); break;
	case 8: case 9: do_register(in, false); break;
	case 10: do_register(in, true); break;
	case 11: case 12: case 13: do_map(in); break;
	case 14: do_unmap(in); break;
	case 15: case 16: do_create(in); break;
	case 17: do_remove(in); break;
	case 18: case 19: do_dma(in); break;
	case 20: do_memlock(in); break;
	case 21: do_mprotect(in); break;
	case 22: do_info(in); break;
	default:
		if (fz_u8(in) & 1)
			do_info(in);
		else
			do_foreign(in);
		break;
	}
}

/* ------------------------------------------------------------ an input */

/* Each area holds one byte: a device write's bytes show wherever they land. */
static uint8_t mem_pattern(int i, uint64_t pg)
{
	(void)pg;
	return (uint8_t)(0x10 + i);
}

static void prologue_requests(struct fz_in *in);

/* The same few requests start most inputs: their structural checks run
 * once, when they are done (harness.h). */
static void prologue(struct fz_in *in)
{
	fz_defer_checks(true);
	prologue_requests(in);
	fz_defer_checks(false);
}

static void prologue_requests(struct fz_in *in)
{
	uint8_t b = fz_u8(in);
	static const uint64_t limits[] = { 64ull << 20, 16ull << 20, (8ull << 20) + (512 << 10),
					   (8ull << 20) + (64 << 10) };
	uint64_t limit = limits[b % 4];
	struct model_res want;

	fz_req("memlock 0x%llx 0", (unsigned long long)limit);
	want = model_memlock(&M, limit, 0);
	fz_done(want, fz_real(spapr_mm_set_memlock(limit, 0)));
	for (int i = 0; i < NMEMS; i++) {
		mem[i] = fz_mem_map(&M, i, mem_pages[i], mem_pattern);
		fz_mem_show(mem_base(i), mem_pages[i] * MODEL_PAGE_SIZE);
	}
	/* Most inputs start with a container, a group and a v2 IOMMU (bit 6: v1). */
	if (b & 0x80)
		return;
	do_open_container();
	{
		struct fz_in one = { (const uint8_t[]){ 0 }, 1, 0 };

		do_open_group(&one);
	}
	fz_req("set_container g%u c%u", gname[0], cname[0]);
	{
		int fd = cfd[0];

		want = model_set_container(&M, 0, MODEL_FD_CONTAINER, 0);
		fz_done(want, fz_real(spapr_ioctl(gfd[0], VFIO_GROUP_SET_CONTAINER, &fd)));
	}
	if (!(b & 0x40)) {
		fz_req("set_iommu c%u v2", cname[0]);
		want = model_set_iommu(&M, 0, 7);
		fz_done(want, fz_real(spapr_ioctl(cfd[0], VFIO_SET_IOMMU, 7ul)));
		return;
	}
	/* v1: ENABLE charges the whole 2 GiB window, hence CAP_IPC_LOCK. */
	fz_req("memlock 0x%llx 1", (unsigned long long)limit);
	want = model_memlock(&M, limit, 1);
	fz_done(want, fz_real(spapr_mm_set_memlock(limit, 1)));
	fz_req("set_iommu c%u v1", cname[0]);
	want = model_set_iommu(&M, 0, 2);
	fz_done(want, fz_real(spapr_ioctl(cfd[0], VFIO_SET_IOMMU, 2ul)));
	fz_req("enable c%u", cname[0]);
	want = model_enable(&M, 0);
	fz_done(want, fz_real(spapr_ioctl(cfd[0], VFIO_IOMMU_ENABLE)));
}

/* Closes everything; the state must be clean afterwards. */
static void epilogue(void)
{
	struct model_res want;

	/* Every check on the state the requests left, before the cleanup
	 * removes it (harness.h). */
	fz_checkpoint();
	fz_tr_add("# cleanup\n");
	/* 1. Open containers drop their windows: no TCE points anywhere but into
	 *    regions of fd-closed containers, which they hold themselves. */
	for (int c = 0; c < MODEL_CONTAINERS; c++) {
		if (!M.c[c].exists || !M.c[c].fd_open || M.c[c].type != 7)
			continue;
		for (int s = 0; s < MODEL_SLOTS; s++) {
			struct vfio_iommu_spapr_tce_remove rm = { sizeof(rm), 0, 0 };

			if (!M.c[c].win[s].present)
				continue;
			rm.start_addr = M.c[c].win[s].start;
			fz_req("remove c%u 0x%llx", cname[c], (unsigned long long)rm.start_addr);
			want = model_remove(&M, c, 16, 0, rm.start_addr);
			fz_done(want, fz_real(spapr_ioctl(cfd[c], VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm)));
		}
	}
	/* 2. Groups, then 3. container fds. */
	for (int id = 0; id < MODEL_GROUPS; id++) {
		if (!M.g[id].open)
			continue;
		if (!detach_ok(id))
			fz_diverge("harness: closing g%u would orphan a region", gname[id]);
		fz_req("close g%u", gname[id]);
		want = model_close_group(&M, id);
		fz_done(want, fz_real(spapr_close(gfd[id])));
	}
	for (int c = 0; c < MODEL_CONTAINERS; c++) {
		if (!M.c[c].exists || !M.c[c].fd_open)
			continue;
		if (model_release_would_orphan(&M, c))
			fz_diverge("harness: closing c%u would orphan a region", cname[c]);
		fz_req("close c%u", cname[c]);
		want = model_close_container(&M, c);
		fz_done(want, fz_real(spapr_close(cfd[c])));
	}
	fz_reap_orphans(&M);	/* quirks=kernel: Q3's orphans */
	if (!model_is_clean(&M))
		fz_diverge("harness: the model is not clean after cleanup");
	fz_end();
	for (int i = 0; i < NMEMS; i++)
		mem[i] = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size, 0 };

	fz_begin("fuzz_container", data, size, "m", post_checks);
	model_init(&M);
	M.kernel = fz_kernel;
	next_cname = next_gname = forks = 0;
	prologue(&in);
	for (unsigned k = 0; k < MAX_REQUESTS && in.i < in.n; k++)
		run_request(&in);
	in_cleanup = true;
	epilogue();
	in_cleanup = false;
	model_fini(&M);
	return 0;
}
