/* SPDX-License-Identifier: MIT */
/*
 * mmreg/: regions, the used/mapped protocol, locked_vm accounting; the
 * REGISTER and UNREGISTER rules of docs/kernel.md as far as they live at
 * this layer (the ioctl argument checks belong to the container:
 * check_spapr and check_spapr_abi).
 *
 * Every test starts with a fresh process (Check's fork mode), so the mm is
 * new; the fixture sets an emulated limit and teardown asserts that nothing
 * is registered, pinned or charged.
 */
#include <endian.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "mmreg/mmreg_priv.h"
#include "spapr/spapr.h"
#include "tests/testutil.h"

#define PS EMU_PAGE_SIZE

static struct mmreg_mm *mm;

static void setup(void)
{
	TU_OK(mmreg_mm_current(&mm));
	/* Generous emulated limit, no CAP_IPC_LOCK, so over-limit paths are reachable. */
	mmreg_mm_set_memlock(mm, 1ull << 34, false);
}

static void teardown(void)
{
	struct mmreg_mm_stats st;

	mmreg_mm_get_stats(mm, &st);
	ck_assert_msg(st.regions == 0, "%llu regions left registered", (unsigned long long)st.regions);
	ck_assert_msg(st.locked_vm == 0, "locked_vm %llu left charged", (unsigned long long)st.locked_vm);
	ck_assert_uint_eq(mmreg_mm_uncharge_clamps(mm), 0);
	TU_OK(mmreg_mm_check(mm));
	mmreg_mm_put(mm);
	emu_mem_set_page_shift_oracle(NULL, NULL);
	emu_mem_set_pin_chunk(0);
	tu_assert_emu_clean();
}

/* The three forms of "register": rc, success-asserting, errno-asserting. */
static int reg_rc(void *ua, uint64_t entries, struct mmreg_region **r)
{
	return mmreg_region_new(mm, (uintptr_t)ua, entries, r);
}

static struct mmreg_region *reg_ok(void *ua, uint64_t entries)
{
	struct mmreg_region *r = NULL;

	TU_OK(reg_rc(ua, entries, &r));
	ck_assert_ptr_nonnull(r);
	return r;
}

static void reg_err(void *ua, uint64_t entries, int err)
{
	struct mmreg_region *r = NULL;
	uint64_t locked = mmreg_mm_locked_vm(mm);
	struct emu_mem_stats before, after;

	emu_mem_get_stats(&before);
	TU_ERR(reg_rc(ua, entries, &r), err);
	ck_assert_ptr_null(r);
	emu_mem_get_stats(&after);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), locked);
	ck_assert_uint_eq(after.pin_refs, before.pin_refs);
	ck_assert_uint_eq(after.pins, before.pins);
	TU_OK(mmreg_mm_check(mm));
}

static void unreg_ok(struct mmreg_region *r)
{
	TU_OK(mmreg_region_put(mm, r));
}

static struct mmreg_region *lookup(uint64_t ua, uint64_t size)
{
	struct mmreg_region *r;

	mmreg_read_lock();
	r = mmreg_region_lookup(mm, ua, size);
	mmreg_read_unlock();
	return r;
}

static uint64_t u(const void *p)
{
	return (uintptr_t)p;
}

/* -------------------------------------------------- registration basics */

/* A new region charges its pages and starts with used 1, mapped 1. */
START_TEST(new_charges_and_starts_used_1_mapped_1)
{
	uint8_t *p = tu_map(8);
	struct mmreg_region *r = reg_ok(p, 8);

	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 8);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 8);
	ck_assert_uint_eq(mmreg_region_used(r), 1);
	ck_assert_uint_eq(mmreg_region_mapped(r), 1);
	ck_assert_uint_eq(mmreg_region_ua(r), u(p));
	ck_assert_uint_eq(mmreg_region_entries(r), 8);
	ck_assert(!mmreg_region_is_dev(r));
	ck_assert_uint_eq(mmreg_region_dev_hpa(r), MMREG_DEV_HPA_NONE);
	ck_assert(mmreg_preregistered(mm));
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(emu_mem_ua_pins(u(p) + i * PS), 1);
	TU_OK(mmreg_mm_check(mm));
	unreg_ok(r);
	ck_assert(!mmreg_preregistered(mm));
	tu_unmap(p, 8);
}
END_TEST

/* At this layer: get adopts, charging nothing; new of the same range is an overlap. */
START_TEST(get_adopts_identical_range_charged_once)
{
	uint8_t *p = tu_map(4);
	struct mmreg_region *r = reg_ok(p, 4), *g;

	g = mmreg_region_get(mm, u(p), 4);
	ck_assert_ptr_eq(g, r);
	ck_assert_uint_eq(mmreg_region_used(r), 2);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 4);
	ck_assert_uint_eq(emu_mem_ua_pins(u(p)), 1);
	reg_err(p, 4, EINVAL);
	unreg_ok(r);
	ck_assert_uint_eq(mmreg_region_used(r), 1);
	ck_assert_ptr_eq(lookup(u(p), PS), r);
	unreg_ok(r);
	ck_assert_ptr_null(lookup(u(p), PS));
	tu_unmap(p, 4);
}
END_TEST

/* An overlapping range is EINVAL, nothing left charged or pinned; an adjacent one is accepted. */
START_TEST(overlaps_rejected_adjacent_accepted)
{
	uint8_t *p = tu_map(16);
	uint8_t *a = p + 4 * PS;
	struct mmreg_region *r = reg_ok(a, 4), *adj;

	reg_err(a + PS, 4, EINVAL);
	reg_err(a, 5, EINVAL);
	reg_err(a - PS, 2, EINVAL);
	reg_err(a + 3 * PS, 1, EINVAL);
	reg_err(p, 16, EINVAL);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 4);
	adj = reg_ok(a + 4 * PS, 4);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 8);
	unreg_ok(adj);
	adj = reg_ok(p, 4);
	unreg_ok(adj);
	unreg_ok(r);
	tu_unmap(p, 16);
}
END_TEST

/* Without CAP_IPC_LOCK the limit itself may be reached; one page more is ENOMEM, nothing changed. */
START_TEST(limit_without_cap_ipc_lock)
{
	uint8_t *p = tu_map(20);
	struct mmreg_region *r;

	mmreg_mm_set_memlock(mm, 16 * PS + 100, false);	/* truncated to 16 pages */
	r = reg_ok(p, 16);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 16);
	reg_err(p + 16 * PS, 1, ENOMEM);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 16);
	ck_assert_uint_eq(emu_mem_ua_pins(u(p) + 16 * PS), 0);
	unreg_ok(r);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 0);
	tu_unmap(p, 20);
}
END_TEST

/*
 * With the request log on (SPAPRTCE_LOG), a charge refused by the limit says
 * so once per process on stderr; other refusals and later ones say nothing.
 */
START_TEST(limit_said_once_when_the_log_is_on)
{
	uint8_t *p = tu_map(20);
	struct mmreg_region *r;
	char buf[512] = "";
	int pipefd[2], saved = dup(2);
	ssize_t n;

	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_int_eq(dup2(pipefd[1], 2), 2);
	close(pipefd[1]);
	mmreg_mm_set_memlock(mm, 16 * PS, false);
	r = reg_ok(p, 16);
	reg_err(p + 16 * PS, 1, ENOMEM);	/* log off: nothing said */
	setenv("SPAPRTCE_LOG", "/dev/null", 1);
	reg_err(p + 16 * PS, 2, ENOMEM);
	reg_err(p + 16 * PS, 3, ENOMEM);	/* said once only */
	unsetenv("SPAPRTCE_LOG");
	dup2(saved, 2);
	close(saved);
	n = read(pipefd[0], buf, sizeof(buf) - 1);
	close(pipefd[0]);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	ck_assert_str_eq(buf, "spaprtce: ENOMEM from RLIMIT_MEMLOCK: locked_vm 16 + 2 pages > limit 16 pages"
			      " (raise the limit, run with CAP_IPC_LOCK, or set SPAPRTCE_MEMLOCK)\n");
	unreg_ok(r);
	tu_unmap(p, 20);
}
END_TEST

/* With CAP_IPC_LOCK the limit does not apply. */
START_TEST(limit_bypassed_with_cap_ipc_lock)
{
	uint8_t *p = tu_map(20);
	struct mmreg_region *r, *more;
	uint64_t limit;
	bool cap;

	TU_OK(spapr_mm_set_memlock(16 * PS, 1));
	mmreg_mm_get_memlock(mm, &limit, &cap);
	ck_assert_uint_eq(limit, 16 * PS);
	ck_assert(cap);
	r = reg_ok(p, 16);
	more = reg_ok(p + 16 * PS, 1);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 17);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 17);
	unreg_ok(more);
	unreg_ok(r);
	ck_assert_int_eq(spapr_mm_set_memlock(0, 2), -1);
	ck_assert_int_eq(errno, EINVAL);
	tu_unmap(p, 20);
}
END_TEST

/* A range whose last page is unmapped is EFAULT, nothing left pinned or charged. */
START_TEST(unmapped_last_page_efault_nothing_left)
{
	uint8_t *p = tu_map(8);

	tu_unmap(p + 7 * PS, 1);
	reg_err(p, 8, EFAULT);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 0);
	tu_assert_emu_clean();
	tu_unmap(p, 7);
}
END_TEST

START_TEST(read_only_page_efault_nothing_left)
{
	uint8_t *p = tu_map(8);

	ck_assert_int_eq(mprotect(p + 2 * PS, PS, PROT_READ), 0);
	reg_err(p, 8, EFAULT);
	tu_assert_emu_clean();
	tu_unmap(p, 8);
}
END_TEST

/* Size 0 is EINVAL (Q13), and the argument checks the region layer makes itself. */
START_TEST(bad_arguments_einval)
{
	uint8_t *p = tu_map(2);

	reg_err(p, 0, EINVAL);
	reg_err(p + 1, 1, EINVAL);
	reg_err((void *)(uintptr_t)(UINT64_MAX & ~(PS - 1)), 2, EINVAL);
	reg_err(p, UINT64_MAX >> 11, EINVAL);
	tu_unmap(p, 2);
}
END_TEST

/* get and find need the exact range: no bisecting. */
START_TEST(get_and_find_need_the_exact_range)
{
	uint8_t *p = tu_map(4);
	struct mmreg_region *r = reg_ok(p, 4);

	ck_assert_ptr_null(mmreg_region_get(mm, u(p), 2));
	ck_assert_ptr_null(mmreg_region_get(mm, u(p) + PS, 3));
	ck_assert_ptr_null(mmreg_region_get(mm, u(p), 5));
	ck_assert_uint_eq(mmreg_region_used(r), 1);
	mmreg_read_lock();
	ck_assert_ptr_eq(mmreg_region_find(mm, u(p), 4), r);
	ck_assert_ptr_null(mmreg_region_find(mm, u(p), 3));
	ck_assert_ptr_null(mmreg_region_find(mm, u(p) + PS, 3));
	mmreg_read_unlock();
	ck_assert_uint_eq(mmreg_region_used(r), 1);
	unreg_ok(r);
	tu_unmap(p, 4);
}
END_TEST

/* The last put of a region without TCEs frees it, unpins and uncharges its pages. */
START_TEST(put_releases_unpins_uncharges)
{
	uint8_t *p = tu_map(6);
	struct mmreg_region *r = reg_ok(p, 6);

	unreg_ok(r);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 0);
	ck_assert_ptr_null(lookup(u(p), PS));
	ck_assert_ptr_null(mmreg_region_get(mm, u(p), 6));
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(emu_mem_ua_pins(u(p) + i * PS), 0);
	/* The range can be registered again. */
	r = reg_ok(p, 6);
	unreg_ok(r);
	tu_unmap(p, 6);
}
END_TEST

/* At this layer the last put of a region with TCEs is EBUSY, nothing changed (Q3). */
START_TEST(put_with_mappings_ebusy_unchanged)
{
	uint8_t *p = tu_map(4);
	struct mmreg_region *r = reg_ok(p, 4);

	TU_OK(mmreg_region_mapped_inc(r));
	TU_ERR(mmreg_region_put(mm, r), EBUSY);
	ck_assert_uint_eq(mmreg_region_used(r), 1);
	ck_assert_uint_eq(mmreg_region_mapped(r), 2);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 4);
	ck_assert_ptr_eq(lookup(u(p), 4 * PS), r);
	ck_assert_uint_eq(emu_mem_ua_pins(u(p)), 1);
	TU_OK(mmreg_mm_check(mm));
	mmreg_region_mapped_dec(r);
	unreg_ok(r);
	tu_unmap(p, 4);
}
END_TEST

/* A put by one of two owners leaves the region to the other. */
START_TEST(put_of_one_owner_leaves_the_other)
{
	uint8_t *p = tu_map(4);
	struct mmreg_region *r = reg_ok(p, 4);

	ck_assert_ptr_eq(mmreg_region_get(mm, u(p), 4), r);
	TU_OK(mmreg_region_mapped_inc(r));
	unreg_ok(r);
	ck_assert_uint_eq(mmreg_region_used(r), 1);
	ck_assert_uint_eq(mmreg_region_mapped(r), 2);
	mmreg_region_mapped_dec(r);
	unreg_ok(r);
	tu_unmap(p, 4);
}
END_TEST

/* A put of a region whose used is already 0 is ENOENT. */
START_TEST(put_with_used_0_enoent)
{
	uint8_t *p = tu_map(1);
	struct mmreg_region *r = reg_ok(p, 1);

	mmreg__region_set_used(r, 0);
	TU_ERR(mmreg_region_put(mm, r), ENOENT);
	ck_assert_uint_eq(mmreg_region_mapped(r), 1);
	mmreg__region_set_used(r, 1);
	unreg_ok(r);
	tu_unmap(p, 1);
}
END_TEST

/* The mapped protocol (docs/mmreg.md), including the dying window of a put. */
struct dying_ctx {
	struct mmreg_region *r;
	int rc;
};

static void *put_thread(void *arg)
{
	struct dying_ctx *c = arg;

	c->rc = mmreg_region_put(mm, c->r);
	return NULL;
}

START_TEST(mapped_inc_fails_on_dying_region)
{
	uint8_t *p = tu_map(2);
	struct dying_ctx c = { reg_ok(p, 2), 1 };
	struct mmreg_region *seen;
	pthread_t t;

	/* A reader holds the region; the put takes mapped 1 -> 0, then waits for the reader. */
	mmreg_read_lock();
	seen = mmreg_region_lookup(mm, u(p), 2 * PS);
	ck_assert_ptr_eq(seen, c.r);
	ck_assert_int_eq(pthread_create(&t, NULL, put_thread, &c), 0);
	while (mmreg_region_mapped(seen))
		sched_yield();
	TU_ERR(mmreg_region_mapped_inc(seen), ENXIO);
	TU_ERR(mmreg_region_mapped_add(seen, 5), ENXIO);
	ck_assert_uint_eq(mmreg_region_mapped(seen), 0);
	mmreg_region_mapped_dec(seen);
	ck_assert_uint_eq(mmreg_region_mapped(seen), 0);
	/* The unlink follows the 1 -> 0 under mm->lock; then new lookups miss it. */
	while (mmreg_region_lookup(mm, u(p), PS))
		sched_yield();
	ck_assert_int_eq(c.rc, 1);	/* the put is still waiting for us */
	mmreg_read_unlock();
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	TU_OK(c.rc);
	tu_unmap(p, 2);
}
END_TEST

START_TEST(mapped_dec_never_drops_the_implicit_reference)
{
	uint8_t *p = tu_map(1);
	struct mmreg_region *r = reg_ok(p, 1);

	mmreg_region_mapped_dec(r);
	ck_assert_uint_eq(mmreg_region_mapped(r), 1);
	TU_OK(mmreg_region_mapped_add(r, 3));
	ck_assert_uint_eq(mmreg_region_mapped(r), 4);
	mmreg_region_mapped_sub(r, 2);
	ck_assert_uint_eq(mmreg_region_mapped(r), 2);
	mmreg_region_mapped_sub(r, 10);
	ck_assert_uint_eq(mmreg_region_mapped(r), 1);
	unreg_ok(r);
	tu_unmap(p, 1);
}
END_TEST

/* lookup finds a region only when the whole range lies inside it, never across two. */
START_TEST(lookup_needs_the_whole_range_in_one_region)
{
	uint8_t *p = tu_map(8);
	struct mmreg_region *r1 = reg_ok(p, 4), *r2 = reg_ok(p + 4 * PS, 4);

	ck_assert_ptr_eq(lookup(u(p), 4 * PS), r1);
	ck_assert_ptr_eq(lookup(u(p) + 3 * PS, PS), r1);
	ck_assert_ptr_eq(lookup(u(p) + 4 * PS, 4 * PS), r2);
	ck_assert_ptr_eq(lookup(u(p) + 7 * PS + 100, 10), r2);
	ck_assert_ptr_null(lookup(u(p) + 3 * PS, 2 * PS));	/* straddles */
	ck_assert_ptr_null(lookup(u(p), 8 * PS));
	ck_assert_ptr_null(lookup(u(p) + 7 * PS, 2 * PS));	/* runs past the end */
	ck_assert_ptr_null(lookup(u(p) - PS, PS));
	ck_assert_ptr_null(lookup(u(p) + 4 * PS, UINT64_MAX));	/* wraps */
	unreg_ok(r2);
	unreg_ok(r1);
	tu_unmap(p, 8);
}
END_TEST

/* ua_to_hpa is EFAULT past the region and for a page shift above the region's. */
START_TEST(ua_to_hpa_bounds_and_pageshift)
{
	uint8_t *p = tu_map(4);
	struct mmreg_region *r = reg_ok(p, 4);
	uint64_t hpa = 0, prev = 0;

	ck_assert_uint_eq(mmreg_region_pageshift(r), 12);
	for (int i = 0; i < 4; i++) {
		TU_OK(mmreg_region_ua_to_hpa(r, u(p) + i * PS + 0x123, 12, &hpa));
		ck_assert_uint_eq(hpa, emu_mem_ua_to_hpa(u(p) + i * PS + 0x123, 12));
		ck_assert_uint_eq(hpa & (PS - 1), 0x123);
		ck_assert_uint_eq(emu_mem_hpa_pins(hpa), 1);
		if (i)
			ck_assert_uint_ne(hpa, prev + PS);	/* not contiguous */
		prev = hpa;
	}
	hpa = 7;
	TU_ERR(mmreg_region_ua_to_hpa(r, u(p), 16, &hpa), EFAULT);
	TU_ERR(mmreg_region_ua_to_hpa(r, u(p) + 4 * PS, 12, &hpa), EFAULT);
	TU_ERR(mmreg_region_ua_to_hpa(r, u(p) - 1, 12, &hpa), EFAULT);
	ck_assert_uint_eq(hpa, 7);
	unreg_ok(r);
	tu_unmap(p, 4);
}
END_TEST

/*
 * The batched translations: ua_to_hpas equals ua_to_hpa page by page,
 * ua_to_hpas_be stores the same big-endian with the low bits; runs that
 * leave the region or pages larger than the region's are -EFAULT, low bits
 * not below the page -EINVAL, nothing written then.
 */
#define TCE_BITS 3ull	/* what a TCE puts below the page: READ | WRITE */

START_TEST(ua_to_hpas_batched_and_big_endian)
{
	uint8_t *p = tu_map(4);
	struct mmreg_region *r = reg_ok(p, 4), *d = NULL;
	uint64_t hpas[5], tces[5], dev = 0x2000000000ull, dua = 0x7e0000000000ull;

	for (int i = 0; i < 5; i++)
		hpas[i] = tces[i] = 7;
	TU_OK(mmreg_region_ua_to_hpas(r, u(p) + PS, 3, 12, hpas));
	TU_OK(mmreg_region_ua_to_hpas_be(r, u(p) + PS, 3, 12, TCE_BITS, tces));
	for (int i = 0; i < 3; i++) {
		uint64_t hpa;

		TU_OK(mmreg_region_ua_to_hpa(r, u(p) + (i + 1) * PS, 12, &hpa));
		ck_assert_uint_eq(hpas[i], hpa);
		ck_assert_uint_eq(tces[i], htobe64(hpa | TCE_BITS));
	}
	ck_assert_uint_eq(hpas[3], 7);
	ck_assert_uint_eq(tces[3], 7);
	for (int i = 0; i < 5; i++)
		hpas[i] = tces[i] = 7;
	TU_OK(mmreg_region_ua_to_hpas_be(r, u(p), 0, 12, TCE_BITS, tces));
	TU_ERR(mmreg_region_ua_to_hpas(r, u(p) + PS, 4, 12, hpas), EFAULT);
	TU_ERR(mmreg_region_ua_to_hpas_be(r, u(p) + PS, 4, 12, TCE_BITS, tces), EFAULT);
	TU_ERR(mmreg_region_ua_to_hpas_be(r, u(p) - PS, 1, 12, TCE_BITS, tces), EFAULT);
	TU_ERR(mmreg_region_ua_to_hpas_be(r, u(p), 1, 13, TCE_BITS, tces), EFAULT);
	TU_ERR(mmreg_region_ua_to_hpas_be(r, u(p), 1, 12, PS, tces), EINVAL);
	for (int i = 0; i < 5; i++) {
		ck_assert_uint_eq(hpas[i], 7);
		ck_assert_uint_eq(tces[i], 7);
	}
	unreg_ok(r);
	tu_unmap(p, 4);

	/* Device memory: contiguous from dev_hpa. */
	TU_OK(mmreg_region_newdev(mm, dua, 512, dev, &d));
	TU_OK(mmreg_region_ua_to_hpas_be(d, dua + 2 * PS, 4, 12, TCE_BITS, tces));
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(tces[i], htobe64((dev + (i + 2) * PS) | TCE_BITS));
	ck_assert_uint_eq(tces[4], 7);
	unreg_ok(d);
}
END_TEST

/* ------------------------------------------------------------ pageshift */

struct oracle {
	uint64_t start, end;
	unsigned shift;		/* inside [start, end); 12 outside */
};

static unsigned oracle_fn(void *ctx, uint64_t ua, uint64_t *run_end)
{
	struct oracle *o = ctx;

	if (ua >= o->start && ua < o->end) {
		*run_end = o->end;
		return o->shift;
	}
	*run_end = ua < o->start ? o->start : UINT64_MAX;
	return 12;
}

/* Registers [ua, ua + size) under the oracle and returns the region's pageshift. */
static unsigned pageshift_of(struct oracle *o, uint8_t *ua, uint64_t size)
{
	struct mmreg_region *r;
	unsigned s;

	emu_mem_set_page_shift_oracle(oracle_fn, o);
	r = reg_ok(ua, size / PS);
	s = mmreg_region_pageshift(r);
	unreg_ok(r);
	emu_mem_set_page_shift_oracle(NULL, NULL);
	return s;
}

/* A region's pageshift (mmreg/mmreg.h, Concepts), on hand-worked examples. */
START_TEST(pageshift_from_alignment_and_hugetlb_backing)
{
	uint64_t mib = 1ull << 20;
	uint8_t *g = tu_map_aligned((1024 * mib) / PS, 30);
	struct oracle o = { u(g), u(g) + 1024 * mib, 24 };

	/* 1 GiB at a 1 GiB-aligned address, 16 MiB hugetlb pages -> 24 */
	ck_assert_uint_eq(pageshift_of(&o, g, 1024 * mib), 24);
	/* 48 MiB at a 16 MiB-aligned address -> 24 */
	ck_assert_uint_eq(pageshift_of(&o, g + 16 * mib, 48 * mib), 24);
	/* starting 2 MiB into a huge page, 4 MiB long -> 21 (alignment is the limit) */
	ck_assert_uint_eq(pageshift_of(&o, g + 2 * mib, 4 * mib), 21);
	/* starting 64 KiB into a huge page -> 16 */
	ck_assert_uint_eq(pageshift_of(&o, g + 64 * 1024, 64 * 1024), 16);
	/* normal pages always give PAGE_SHIFT, whatever the alignment */
	o.shift = 12;
	ck_assert_uint_eq(pageshift_of(&o, g, 1024 * mib), 12);
	/* Q8, per page: huge pages followed by normal ones give PAGE_SHIFT, not the huge size */
	o.shift = 24;
	o.end = u(g) + 16 * mib;
	ck_assert_uint_eq(pageshift_of(&o, g, 32 * mib), 12);
	tu_unmap(g, (1024 * mib) / PS);
}
END_TEST

START_TEST(pageshift_real_hugetlbfs)
{
	uint64_t len = 4ull << 20;
	const char *why = "";
	long prev = tu_hugetlb_reserve(2, &why);
	struct mmreg_region *r;
	uint8_t *p;

	if (prev < 0) {
		printf("SKIP pageshift_real_hugetlbfs: %s\n", why);
		return;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED) {
		printf("SKIP pageshift_real_hugetlbfs: MAP_HUGETLB failed: %s\n", strerror(errno));
		tu_hugetlb_restore(prev);
		return;
	}
	r = reg_ok(p, len / PS);
	ck_assert_uint_eq(mmreg_region_pageshift(r), 21);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), len / PS);
	unreg_ok(r);
	/* Half a huge page: alignment limits it. */
	r = reg_ok(p + (1u << 20), 256);
	ck_assert_uint_eq(mmreg_region_pageshift(r), 20);
	unreg_ok(r);
	munmap(p, len);
	tu_hugetlb_restore(prev);
}
END_TEST

/* ------------------------------------------------------- device memory */

START_TEST(newdev_no_pin_no_charge)
{
	uint64_t ua = 0x7e0000000000ull, dev = 0x2000000000ull, size = 0;
	struct mmreg_region *r = NULL, *x = NULL;
	uint64_t hpa;

	TU_OK(mmreg_region_newdev(mm, ua, 512, dev, &r));
	ck_assert(mmreg_region_is_dev(r));
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 0);
	ck_assert_uint_eq(mmreg_region_pageshift(r), 21);	/* ffs(dev | 2 MiB) */
	TU_OK(mmreg_region_ua_to_hpa(r, ua + 0x5123, 21, &hpa));
	ck_assert_uint_eq(hpa, dev + 0x5123);
	ck_assert(mmreg_is_devmem(mm, dev + PS, 16, &size));
	ck_assert_uint_eq(size, 1u << 16);
	ck_assert(mmreg_is_devmem(mm, dev + 511 * PS, 16, &size));
	ck_assert_uint_eq(size, PS);
	ck_assert(!mmreg_is_devmem(mm, dev + 512 * PS, 12, &size));
	ck_assert(!mmreg_is_devmem(mm, dev - 1, 12, &size));
	TU_ERR(mmreg_region_newdev(mm, ua + PS, 1, dev, &x), EINVAL);	/* overlap */
	TU_ERR(mmreg_region_newdev(mm, ua + 2 * 512 * PS, 1, dev + 1, &x), EINVAL);
	TU_ERR(mmreg_region_newdev(mm, ua + 2 * 512 * PS, 2, UINT64_MAX - PS + 1 - PS, &x), EINVAL);
	ck_assert_ptr_null(x);
	TU_OK(mmreg_mm_check(mm));
	unreg_ok(r);
	ck_assert(!mmreg_is_devmem(mm, dev + PS, 16, &size));
}
END_TEST

/* ------------------------------------------------------------ accounting */

START_TEST(charge_equality_allowed_and_uncharge_clamps)
{
	mmreg_mm_set_memlock(mm, 10 * PS, false);
	TU_OK(mmreg_mm_charge(mm, 10));
	TU_ERR(mmreg_mm_charge(mm, 1), ENOMEM);
	TU_ERR(mmreg_mm_charge(mm, UINT64_MAX), ENOMEM);
	TU_OK(mmreg_mm_charge(mm, 0));
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 10);
	mmreg_mm_set_memlock(mm, UINT64_MAX, false);
	TU_OK(mmreg_mm_charge(mm, 1000));
	mmreg_mm_uncharge(mm, 1005);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 5);
	printf("expected: one 'uncharge ... clamped at 0' message below (Q11)\n");
	fflush(stdout);
	mmreg_mm_uncharge(mm, 7);	/* Q11: clamp at 0 and count it */
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 0);
	ck_assert_uint_eq(mmreg_mm_uncharge_clamps(mm), 1);
	/* The teardown asserts no clamp: this test's one was deliberate. */
	mm->uncharge_clamps = 0;
}
END_TEST

START_TEST(current_mm_is_shared_and_counted)
{
	struct mmreg_mm *again;

	TU_OK(mmreg_mm_current(&again));
	ck_assert_ptr_eq(again, mm);
	ck_assert(mmreg_mm_is_current(mm));
	mmreg_mm_put(again);
}
END_TEST

/* A forked child sees an empty registry and its own locked_vm. */
static int fork_child(struct mmreg_mm *parent, uint8_t *p)
{
	struct mmreg_mm *child;
	struct mmreg_region *r;
	uint64_t limit;
	bool cap;

	if (mmreg_mm_is_current(parent))
		return 1;
	if (mmreg_mm_current(&child) || child == parent)
		return 2;
	if (mmreg_mm_locked_vm(child) != 0 || mmreg_preregistered(child) || spapr_mm_locked_vm() != 0)
		return 3;
	mmreg_mm_get_memlock(child, &limit, &cap);
	if (limit != (1ull << 34) || cap)	/* inherited emulated values */
		return 4;
	mmreg_read_lock();
	r = mmreg_region_lookup(child, (uintptr_t)p, PS);
	mmreg_read_unlock();
	if (r)
		return 5;
	/* The parent's range is free in the child's mm. */
	if (mmreg_region_new(child, (uintptr_t)p, 4, &r) || spapr_mm_locked_vm() != 4)
		return 6;
	if (mmreg_region_put(child, r) || mmreg_mm_locked_vm(child))
		return 7;
	mmreg_mm_put(child);
	return 0;
}

START_TEST(forked_child_has_its_own_mm)
{
	uint8_t *p = tu_map(4);
	struct mmreg_region *r = reg_ok(p, 4);
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (!pid)
		_exit(fork_child(mm, p));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 4);
	ck_assert_ptr_eq(lookup(u(p), PS), r);
	unreg_ok(r);
	tu_unmap(p, 4);
}
END_TEST

/* --------------------------------------------------------- many regions */

START_TEST(ten_thousand_regions)
{
	enum { N = 10000 };
	uint8_t *p = tu_map(2 * N);
	struct mmreg_region **r = calloc(N, sizeof(*r));
	struct mmreg_mm_stats st;

	/* Every other page, so no two regions are adjacent, plus one adjacent pair at the end. */
	for (int i = 0; i < N; i++)
		r[i] = reg_ok(p + 2 * (uint64_t)i * PS, 1);
	mmreg_mm_get_stats(mm, &st);
	ck_assert_uint_eq(st.regions, N);
	ck_assert_uint_eq(st.locked_vm, N);
	TU_OK(mmreg_mm_check(mm));
	for (int i = 0; i < N; i++) {
		ck_assert_ptr_eq(lookup(u(p) + 2 * (uint64_t)i * PS + 8, 8), r[i]);
		ck_assert_ptr_null(lookup(u(p) + (2 * (uint64_t)i + 1) * PS, 8));
	}
	for (int i = 0; i < N; i += 2)
		unreg_ok(r[i]);
	TU_OK(mmreg_mm_check(mm));
	for (int i = 0; i < N; i++)
		ck_assert_ptr_eq(lookup(u(p) + 2 * (uint64_t)i * PS, PS), i % 2 ? r[i] : NULL);
	/* Insert after removals keeps every lookup right. */
	r[0] = reg_ok(p, 1);
	TU_OK(mmreg_mm_check(mm));
	ck_assert_ptr_eq(lookup(u(p), PS), r[0]);
	ck_assert_ptr_eq(lookup(u(p) + 2 * PS * (N - 1), PS), r[N - 1]);
	unreg_ok(r[0]);
	for (int i = 1; i < N; i += 2)
		unreg_ok(r[i]);
	free(r);
	tu_unmap(p, 2 * N);
}
END_TEST

/* ------------------------------------------------------ the registry tree */

/*
 * The overlap rules of the kernel's mm_iommu_do_alloc
 * (arch/powerpc/mm/book3s64/iommu_api.c): under mem_list_mutex, every listed
 * region that shares a byte with the new one fails it with EINVAL, an
 * identical range included.  EBUSY for an identical range comes one layer
 * up: tce_iommu_register_pages (drivers/vfio/vfio_iommu_spapr_tce.c) tries
 * mm_iommu_get first and answers EBUSY when its container already holds the
 * region (check_spapr covers that).
 */
START_TEST(overlap_rules_of_mm_iommu_do_alloc)
{
	uint8_t *p = tu_map(32);
	uint8_t *a = p + 8 * PS;
	struct mmreg_region *r = reg_ok(a, 8), *x;

	reg_err(a, 8, EINVAL);			/* identical */
	reg_err(a - PS, 2, EINVAL);		/* shares its first page */
	reg_err(a + 7 * PS, 2, EINVAL);		/* shares its last page */
	reg_err(a + 2 * PS, 2, EINVAL);		/* inside */
	reg_err(a - 4 * PS, 16, EINVAL);	/* around */
	reg_err(a, 1, EINVAL);			/* same start, shorter */
	reg_err(a + 4 * PS, 4, EINVAL);		/* same end, shorter */
	x = reg_ok(a - PS, 1);			/* adjacent below */
	unreg_ok(x);
	x = reg_ok(a + 8 * PS, 1);		/* adjacent above */
	unreg_ok(x);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 8);
	unreg_ok(r);
	tu_unmap(p, 32);
}
END_TEST

#define DEV_HPA 0x100000000000ull

/* Device regions need no memory: any address, any size, at no cost. */
static struct mmreg_region *dev_ok(uint64_t ua, uint64_t entries)
{
	struct mmreg_region *r = NULL;

	TU_OK(mmreg_region_newdev(mm, ua, entries, DEV_HPA, &r));
	return r;
}

static uint64_t meta_bytes(void)
{
	struct mmreg_mm_stats st;

	mmreg_mm_get_stats(mm, &st);
	return st.meta_bytes;
}

static void dev_err(uint64_t ua, uint64_t entries, int err)
{
	struct mmreg_region *r = NULL;
	uint64_t meta = meta_bytes();

	TU_ERR(mmreg_region_newdev(mm, ua, entries, DEV_HPA, &r), err);
	ck_assert_ptr_null(r);
	ck_assert_uint_eq(meta_bytes(), meta);
	TU_OK(mmreg_mm_check(mm));
}

#define NODE_BYTES sizeof(struct mmreg_node)
#define REGION_BYTES sizeof(struct mmreg_region)

START_TEST(tree_shapes_sizes_and_nodes)
{
	/* A 1 GiB + 3 page region starting one page below a 2 MiB boundary. */
	uint64_t big = 0x7f0000200000ull - PS, big_pages = (1ull << 18) + 3;
	uint64_t top = 0xffffffffc0000000ull;	/* the last GiB but its last page */
	struct mmreg_region *a, *b, *c, *d, *e;

	ck_assert_uint_eq(meta_bytes(), 0);
	/* One page at 0: a root of level 0, one node. */
	a = dev_ok(0, 1);
	ck_assert_uint_eq(meta_bytes(), REGION_BYTES + NODE_BYTES);
	/* The next page: the same leaf, no allocation. */
	b = dev_ok(PS, 1);
	ck_assert_uint_eq(meta_bytes(), 2 * REGION_BYTES + NODE_BYTES);
	ck_assert_ptr_eq(lookup(0, PS), a);
	ck_assert_ptr_null(lookup(0, 2 * PS));	/* straddles a and b */
	ck_assert_ptr_eq(lookup(PS + 5, 7), b);
	ck_assert_ptr_null(lookup(2 * PS, 1));
	/* A region above what the root covers grows the tree to level 3. */
	c = dev_ok(big, big_pages);
	TU_OK(mmreg_mm_check(mm));
	ck_assert_ptr_eq(lookup(big, big_pages * PS), c);
	ck_assert_ptr_eq(lookup(big + PS, 1ull << 30), c);	/* across many slots */
	ck_assert_ptr_null(lookup(big - PS, 2 * PS));
	ck_assert_ptr_null(lookup(big + (big_pages - 1) * PS, 2 * PS));
	ck_assert_ptr_eq(lookup(big + (big_pages - 1) * PS, PS), c);
	ck_assert_ptr_null(lookup(big + big_pages * PS, 1));
	ck_assert_ptr_eq(lookup(0, PS), a);
	/* Overlaps with it at either end and across it are found at every level. */
	dev_err(big - PS, 2, EINVAL);
	dev_err(big + (big_pages - 1) * PS, 1, EINVAL);
	dev_err(big + (1ull << 29), 1, EINVAL);
	dev_err(big - (1ull << 31), 1ull << 20, EINVAL);
	dev_err(0, 4, EINVAL);
	/* The top of the address space: the tree grows to its full height. */
	d = dev_ok(top, (1ull << 18) - 1);
	ck_assert_ptr_eq(lookup(UINT64_MAX - 2 * PS + 1, PS), d);
	ck_assert_ptr_null(lookup(UINT64_MAX - PS + 1, 1));
	ck_assert_ptr_null(lookup(UINT64_MAX - PS, 2 * PS));
	dev_err(top - PS, 2, EINVAL);
	e = dev_ok(top - PS, 1);
	TU_OK(mmreg_mm_check(mm));
	unreg_ok(c);
	ck_assert_ptr_null(lookup(big + PS, PS));
	TU_OK(mmreg_mm_check(mm));
	unreg_ok(a);
	unreg_ok(d);
	unreg_ok(e);
	TU_OK(mmreg_mm_check(mm));
	ck_assert_ptr_eq(lookup(PS, PS), b);
	unreg_ok(b);
	/* Empty again: every node freed. */
	ck_assert_uint_eq(meta_bytes(), 0);
	ck_assert_ptr_null(lookup(PS, PS));
}
END_TEST

/* The model: live regions as (ua, pages, region). */
struct model {
	unsigned n;
	uint64_t ua[512], pages[512];
	struct mmreg_region *r[512];
};

static struct mmreg_region *model_lookup(const struct model *m, uint64_t ua, uint64_t size)
{
	for (unsigned i = 0; i < m->n; i++)
		if (ua >= m->ua[i] && ua + size <= m->ua[i] + m->pages[i] * PS)
			return m->r[i];
	return NULL;
}

static bool model_overlaps(const struct model *m, uint64_t ua, uint64_t pages)
{
	for (unsigned i = 0; i < m->n; i++)
		if (ua < m->ua[i] + m->pages[i] * PS && m->ua[i] < ua + pages * PS)
			return true;
	return false;
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

/*
 * Random registrations and removals in windows that straddle slot
 * boundaries of every level (a 2 MiB, a 512 GiB and a 2^57 boundary, and
 * the bottom of the address space), checked after every step against the
 * model: the errno of each insert, lookups at random and at region edges,
 * and the invariant checker.
 */
START_TEST(random_orders_against_a_model)
{
	static const uint64_t windows[] = { 0, 0x7f00001f0000ull, (1ull << 39) - 0x800000,
					    (1ull << 57) - 0x100000 };
	static struct model m;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	m.n = 0;
	for (unsigned step = 0; step < 4000; step++) {
		uint64_t w = windows[xorshift(&x) % 4], roll = xorshift(&x) % 100;

		if (m.n && (roll < 40 || m.n == 512)) {
			unsigned i = (unsigned)(xorshift(&x) % m.n);

			unreg_ok(m.r[i]);
			m.n--;
			m.ua[i] = m.ua[m.n], m.pages[i] = m.pages[m.n], m.r[i] = m.r[m.n];
		} else {
			uint64_t ua = w + (xorshift(&x) % 2048) * PS;
			uint64_t pages = roll < 70 ? 1 + xorshift(&x) % 8 : 1 + xorshift(&x) % 700;
			struct mmreg_region *r = NULL;
			int rc = mmreg_region_newdev(mm, ua, pages, DEV_HPA, &r);

			if (model_overlaps(&m, ua, pages)) {
				ck_assert_msg(rc == -EINVAL, "step %u: %#llx +%llu: rc %d, overlap expected",
					      step, (unsigned long long)ua, (unsigned long long)pages, rc);
			} else {
				ck_assert_msg(rc == 0, "step %u: rc %d", step, rc);
				m.ua[m.n] = ua, m.pages[m.n] = pages, m.r[m.n++] = r;
			}
		}
		for (int k = 0; k < 8; k++) {
			uint64_t ua = windows[xorshift(&x) % 4] + xorshift(&x) % (2200 * PS);
			uint64_t size = 1 + xorshift(&x) % (k < 4 ? PS : 64 * PS);

			ck_assert_ptr_eq(lookup(ua, size), model_lookup(&m, ua, size));
		}
		if (m.n) {
			unsigned i = (unsigned)(xorshift(&x) % m.n);
			uint64_t end = m.ua[i] + m.pages[i] * PS;

			ck_assert_ptr_eq(lookup(m.ua[i], m.pages[i] * PS), m.r[i]);
			ck_assert_ptr_eq(lookup(end - 1, 1), m.r[i]);
			ck_assert_ptr_eq(lookup(end - 1, 2), model_lookup(&m, end - 1, 2));
		}
		if (step % 50 == 0)
			TU_OK(mmreg_mm_check(mm));
	}
	TU_OK(mmreg_mm_check(mm));
	while (m.n) {
		unsigned i = (unsigned)(xorshift(&x) % m.n);

		unreg_ok(m.r[i]);
		m.n--;
		m.ua[i] = m.ua[m.n], m.pages[i] = m.pages[m.n], m.r[i] = m.r[m.n];
	}
	ck_assert_uint_eq(meta_bytes(), 0);
}
END_TEST

/* 8,192 pinned one-page regions side by side, released in random order. */
START_TEST(many_pinned_regions_random_release)
{
	enum { N = 8192 };
	uint8_t *p = tu_map(N);
	struct mmreg_region **r = calloc(N, sizeof(*r));
	uint32_t *order = malloc(N * sizeof(*order));
	uint64_t x = 88172645463325252ull;

	for (int i = 0; i < N; i++) {
		r[i] = reg_ok(p + (uint64_t)i * PS, 1);
		order[i] = (uint32_t)i;
	}
	for (int i = N - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(xorshift(&x) % (uint64_t)(i + 1)), t = order[i];

		order[i] = order[j], order[j] = t;
	}
	TU_OK(mmreg_mm_check(mm));
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), N);
	for (int k = 0; k < N; k++) {
		uint32_t i = order[k];

		unreg_ok(r[i]);
		r[i] = NULL;
		if (k % 2048 == 0) {
			TU_OK(mmreg_mm_check(mm));
			for (int j = 0; j < N; j += 97)
				ck_assert_ptr_eq(lookup(u(p) + (uint64_t)j * PS, PS), r[j]);
		}
	}
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 0);
	ck_assert_uint_eq(meta_bytes(), 0);
	free(order);
	free(r);
	tu_unmap(p, N);
}
END_TEST

/*
 * The node pool: 600 regions each alone in its 2 MiB block, from 1 GiB up,
 * need 600 leaves, two level-1 nodes (they cross 2 GiB) and a root of
 * level 2: two chunks of 510 nodes.  After they are all removed, the same
 * again takes no new chunk.
 */
START_TEST(node_pool_reused)
{
	enum { N = 600 };
	struct mmreg_region *r[N];
	uint64_t base = 0x40000000ull, cap;

	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++)
			r[i] = dev_ok(base + ((uint64_t)i << 21), 1);
		ck_assert_uint_eq(meta_bytes(), N * REGION_BYTES + (N + 3) * NODE_BYTES);
		TU_OK(mmreg_mm_check(mm));
		cap = mmreg__nodes_capacity(mm);
		ck_assert_uint_eq(cap, 2 * ((2u << 20) / NODE_BYTES));
		for (int i = 0; i < N; i++)
			unreg_ok(r[i]);
		ck_assert_uint_eq(meta_bytes(), 0);
		ck_assert_uint_eq(mmreg__nodes_capacity(mm), cap);
		TU_OK(mmreg_mm_check(mm));
	}
}
END_TEST

/*
 * Every node allocation of an insert that grows the tree from level 0 to
 * level 5 (five new roots, five nodes down to the new leaf) fails in turn:
 * each failure leaves the registry exactly as it was.
 */
START_TEST(fail_nth_tree_growth)
{
	uint64_t high = 0xffff000000000000ull, meta;
	struct mmreg_region *low = dev_ok(PS, 1), *r = NULL;
	unsigned n;
	int rc;

	meta = meta_bytes();
	for (n = 1;; n++) {
		r = NULL;
		util_fail_nth_arm(n);
		rc = mmreg_region_newdev(mm, high, 1, DEV_HPA, &r);
		if (!util_fail_nth_fired())
			break;
		TU_ERR(rc, ENOMEM);
		ck_assert_str_eq(util_fail_nth_site(), n == 1 ? "mmreg_region_alloc" : "mmreg_node_alloc");
		ck_assert_ptr_null(r);
		ck_assert_uint_eq(meta_bytes(), meta);
		ck_assert_ptr_null(lookup(high, PS));
		ck_assert_ptr_eq(lookup(PS, PS), low);
		TU_OK(mmreg_mm_check(mm));
	}
	util_fail_nth_arm(0);
	TU_OK(rc);
	ck_assert_uint_eq(n, 1 + 1 + 10);	/* region, then 5 roots + 5 nodes */
	ck_assert_ptr_eq(lookup(high, PS), r);
	ck_assert_ptr_eq(lookup(PS, PS), low);
	TU_OK(mmreg_mm_check(mm));
	unreg_ok(r);
	unreg_ok(low);
	ck_assert_uint_eq(meta_bytes(), 0);
}
END_TEST

/* ---------------------------------------------------- fail-nth sweep */

struct sweep_ctx {
	uint8_t *p;
};

/* Register, adopt, drop and unregister two adjacent regions. */
static int sweep_run(void *arg)
{
	struct sweep_ctx *c = arg;
	struct mmreg_region *a, *b;
	int rc;

	rc = reg_rc(c->p, 6, &a);
	if (rc)
		return rc;
	rc = reg_rc(c->p + 6 * PS, 3, &b);
	if (rc)
		goto out_a;
	if (mmreg_region_get(mm, mmreg_region_ua(a), 6) != a) {
		rc = -EUCLEAN;
		goto out_b;
	}
	TU_OK(mmreg_region_put(mm, a));
out_b:
	TU_OK(mmreg_region_put(mm, b));
out_a:
	TU_OK(mmreg_region_put(mm, a));
	return rc;
}

static void sweep_check(void *arg, int rc)
{
	struct mmreg_mm_stats st;

	(void)arg;
	ck_assert_msg(rc == 0 || rc == -ENOMEM, "unexpected rc %s at %s", tu_errname(rc),
		      util_fail_nth_site() ? util_fail_nth_site() : "-");
	mmreg_mm_get_stats(mm, &st);
	ck_assert_uint_eq(st.regions, 0);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 0);
	TU_OK(mmreg_mm_check(mm));
	tu_assert_emu_clean();
}

START_TEST(fail_nth_register_unregister)
{
	struct sweep_ctx c = { tu_map(9) };
	unsigned points;

	emu_mem_set_pin_chunk(2);	/* several pin chunks per registration */
	points = tu_sweep(sweep_run, sweep_check, &c);
	/* charge, region, pin alloc, runs, 3 + 2 chunks, leaf, hash, the tree's nodes */
	ck_assert_uint_ge(points, 12);
	tu_unmap(c.p, 9);
}
END_TEST

static Suite *mmreg_suite(void)
{
	Suite *s = suite_create("mmreg");
	TCase *t = tcase_create("region");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, new_charges_and_starts_used_1_mapped_1);
	tcase_add_test(t, get_adopts_identical_range_charged_once);
	tcase_add_test(t, overlaps_rejected_adjacent_accepted);
	tcase_add_test(t, limit_without_cap_ipc_lock);
	tcase_add_test(t, limit_said_once_when_the_log_is_on);
	tcase_add_test(t, limit_bypassed_with_cap_ipc_lock);
	tcase_add_test(t, unmapped_last_page_efault_nothing_left);
	tcase_add_test(t, read_only_page_efault_nothing_left);
	tcase_add_test(t, bad_arguments_einval);
	tcase_add_test(t, get_and_find_need_the_exact_range);
	tcase_add_test(t, put_releases_unpins_uncharges);
	tcase_add_test(t, put_with_mappings_ebusy_unchanged);
	tcase_add_test(t, put_of_one_owner_leaves_the_other);
	tcase_add_test(t, put_with_used_0_enoent);
	tcase_add_test(t, mapped_inc_fails_on_dying_region);
	tcase_add_test(t, mapped_dec_never_drops_the_implicit_reference);
	tcase_add_test(t, lookup_needs_the_whole_range_in_one_region);
	tcase_add_test(t, ua_to_hpa_bounds_and_pageshift);
	tcase_add_test(t, ua_to_hpas_batched_and_big_endian);
	tcase_add_test(t, pageshift_from_alignment_and_hugetlb_backing);
	tcase_add_test(t, pageshift_real_hugetlbfs);
	tcase_add_test(t, newdev_no_pin_no_charge);
	tcase_add_test(t, charge_equality_allowed_and_uncharge_clamps);
	tcase_add_test(t, current_mm_is_shared_and_counted);
	tcase_add_test(t, forked_child_has_its_own_mm);
	tcase_add_test(t, ten_thousand_regions);
	tcase_add_test(t, fail_nth_register_unregister);
	tcase_add_test(t, overlap_rules_of_mm_iommu_do_alloc);
	tcase_add_test(t, tree_shapes_sizes_and_nodes);
	tcase_add_test(t, random_orders_against_a_model);
	tcase_add_test(t, many_pinned_regions_random_release);
	tcase_add_test(t, fail_nth_tree_growth);
	tcase_add_test(t, node_pool_reused);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(mmreg_suite());
}
