/* SPDX-License-Identifier: MIT */
/*
 * emu/mem: the hpa space, pinning, pin counts, table memory; and the util/
 * pieces it stands on (u64map, ranges, fail-nth).
 */
#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <linux/capability.h>
#include <numa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emu/mem.h"
#include "emu/mem_priv.h"
#include "tests/testutil.h"
#include "util/fail.h"
#include "util/range.h"
#include "util/u64map.h"

#define PS EMU_PAGE_SIZE
#define LEAF_TEST_PAGES 1040u	/* more than one pin leaf (1024 pages) */

/* The sanitizer runtimes turn mlock/munlock into no-ops (they would lock shadow memory). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SKIP_UNDER_SANITIZER(name)                                                                  \
	do {                                                                                   \
		printf("SKIP %s: sanitizers make mlock a no-op\n", name);              \
		return;                                                                        \
	} while (0)
#else
#define SKIP_UNDER_SANITIZER(name) do { } while (0)
#endif

static void teardown(void)
{
	emu_mem_set_page_shift_oracle(NULL, NULL);
	emu_mem_set_pin_chunk(0);
	emu_mem_set_pin_mode(EMU_PIN_AUTO);
	emu__mem_probe_force_smaps(0);
	tu_assert_emu_clean();
}

static void setup(void)
{
}

/* Pins and returns the pin, asserting success. */
static struct emu_pin *pin_ok(void *p, uint64_t npages)
{
	struct emu_pin *pin = NULL;

	TU_OK(emu_mem_pin((uintptr_t)p, npages, &pin));
	ck_assert_ptr_nonnull(pin);
	return pin;
}

static uint64_t vmlck_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kb = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ------------------------------------------------------------ hpa space */

START_TEST(hpa_roundtrip_every_zone)
{
	static const unsigned shifts[] = { 12, 16, 21, 24, 30, 34 };

	for (unsigned s = 0; s < sizeof(shifts) / sizeof(shifts[0]); s++) {
		for (uint64_t i = 0; i < 4096; i++) {
			uint64_t ua = (i * 0x123456789ull + 0x1000) & ((1ull << EMU_UA_BITS) - 1), back;
			uint64_t hpa = emu_mem_ua_to_hpa(ua, shifts[s]);

			ck_assert_uint_eq(hpa >> EMU_HPA_ZONE_SHIFT, shifts[s]);
			ck_assert(emu_mem_hpa_to_ua(hpa, &back));
			ck_assert_uint_eq(back, ua);
			/* The offset inside the backing page is kept. */
			ck_assert_uint_eq(hpa & ((1ull << shifts[s]) - 1), ua & ((1ull << shifts[s]) - 1));
		}
	}
}
END_TEST

START_TEST(hpa_scattered_for_normal_pages)
{
	uint64_t base = 0x7f0000000000ull, adjacent = 0;

	for (uint64_t i = 0; i < 10000; i++) {
		uint64_t a = emu_mem_ua_to_hpa(base + i * PS, 12);
		uint64_t b = emu_mem_ua_to_hpa(base + (i + 1) * PS, 12);

		adjacent += b == a + PS || a == b + PS;
		ck_assert_uint_ne(a, b);
	}
	ck_assert_uint_eq(adjacent, 0);
}
END_TEST

START_TEST(hpa_contiguous_inside_huge_page)
{
	uint64_t base = 0x7f0000200000ull;
	uint64_t h0 = emu_mem_ua_to_hpa(base, 21);

	ck_assert_uint_eq(h0 & ((1ull << 21) - 1), 0);
	for (uint64_t off = 0; off < (1ull << 21); off += PS)
		ck_assert_uint_eq(emu_mem_ua_to_hpa(base + off, 21), h0 + off);
	/* The next huge page is somewhere else. */
	ck_assert_uint_ne(emu_mem_ua_to_hpa(base + (1ull << 21), 21), h0 + (1ull << 21));
}
END_TEST

START_TEST(hpa_other_zones_are_not_user_memory)
{
	uint64_t ua;

	ck_assert(!emu_mem_hpa_to_ua(0, &ua));
	ck_assert(!emu_mem_hpa_to_ua((uint64_t)EMU_HPA_ZONE_TABLE << EMU_HPA_ZONE_SHIFT, &ua));
	ck_assert_uint_eq(emu_mem_hpa_pins(0x1000), 0);
}
END_TEST

/* -------------------------------------------------------------- pinning */

START_TEST(pin_counts_per_frame)
{
	uint8_t *p = tu_map(16);
	struct emu_pin *a, *b;
	struct emu_mem_stats st;

	a = pin_ok(p, 16);
	b = pin_ok(p + 4 * PS, 4);
	for (int i = 0; i < 16; i++) {
		uint32_t want = i >= 4 && i < 8 ? 2 : 1;

		ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + i * PS), want);
		ck_assert_uint_eq(emu_mem_hpa_pins(emu_pin_hpa(a, (uintptr_t)p + i * PS)), want);
	}
	/* The same page pinned twice has the same hpa, as on hardware. */
	ck_assert_uint_eq(emu_pin_hpa(a, (uintptr_t)p + 5 * PS + 17), emu_pin_hpa(b, (uintptr_t)p + 5 * PS + 17));
	emu_mem_get_stats(&st);
	ck_assert_uint_eq(st.pins, 2);
	ck_assert_uint_eq(st.pinned_pages, 16);
	ck_assert_uint_eq(st.pin_refs, 20);
	TU_OK(emu_mem_check());
	emu_mem_unpin(a);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p), 0);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + 5 * PS), 1);
	emu_mem_unpin(b);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + 5 * PS), 0);
	tu_unmap(p, 16);
}
END_TEST

START_TEST(pinned_pages_per_node)
{
	uint8_t *p = tu_map(24);
	struct emu_pin *a = pin_ok(p, 16), *b = pin_ok(p + 8 * PS, 16);
	uint64_t per_node[4] = { 0 }, unknown = 0, sum = 0;

	TU_OK(emu_mem_pinned_per_node(per_node, 4, &unknown));
	for (int n = 0; n < 4; n++)
		sum += per_node[n];
	ck_assert_uint_eq(sum + unknown, 24);	/* pages, not pin references */
	if (numa_available() < 0 || numa_max_node() == 0)
		ck_assert_uint_eq(per_node[0], 24);	/* one node: all of them there */
	emu_mem_unpin(a);
	emu_mem_unpin(b);
	memset(per_node, 0, sizeof(per_node));
	TU_OK(emu_mem_pinned_per_node(per_node, 4, &unknown));
	ck_assert_uint_eq(per_node[0] + unknown, 0);
	tu_unmap(p, 24);
}
END_TEST

START_TEST(pin_faults_pages_in_writable)
{
	uint8_t *p = tu_map(8);
	unsigned char vec[8];
	struct emu_pin *pin;

	TU_OK(emu_mem_set_pin_mode(EMU_PIN_POPULATE));
	pin = pin_ok(p, 8);
	ck_assert_int_eq(mincore(p, 8 * PS, vec), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_msg(vec[i] & 1, "page %d not resident after pin", i);
	ck_assert_uint_eq(emu_pin_page_shift(pin, (uintptr_t)p), 12);
	ck_assert_uint_eq(emu_pin_min_page_shift(pin), 12);
	emu_mem_unpin(pin);
	tu_unmap(p, 8);
}
END_TEST

START_TEST(pin_mlock_mode_locks_and_unpin_unlocks)
{
	uint8_t *p;
	uint64_t before;
	struct emu_pin *pin;
	struct emu_mem_stats st;

	SKIP_UNDER_SANITIZER("pin_mlock_mode_locks_and_unpin_unlocks");
	p = tu_map(256);
	before = vmlck_kb();
	TU_OK(emu_mem_set_pin_mode(EMU_PIN_MLOCK));
	pin = pin_ok(p, 256);
	ck_assert_uint_eq(vmlck_kb(), before + 1024);
	emu_mem_get_stats(&st);
	ck_assert(st.mlocked);
	emu_mem_unpin(pin);
	ck_assert_uint_eq(vmlck_kb(), before);
	tu_unmap(p, 256);
}
END_TEST

START_TEST(pin_overlapping_unpin_keeps_lock_of_the_other)
{
	uint8_t *p;
	uint64_t before;
	struct emu_pin *a, *b;

	SKIP_UNDER_SANITIZER("pin_overlapping_unpin_keeps_lock_of_the_other");
	p = tu_map(64);
	before = vmlck_kb();
	TU_OK(emu_mem_set_pin_mode(EMU_PIN_MLOCK));
	a = pin_ok(p, 64);
	b = pin_ok(p + 32 * PS, 32);
	emu_mem_unpin(a);
	/* Pages 32..63 are still pinned by b: they must stay locked. */
	ck_assert_uint_eq(vmlck_kb(), before + 128);
	emu_mem_unpin(b);
	ck_assert_uint_eq(vmlck_kb(), before);
	tu_unmap(p, 64);
}
END_TEST

START_TEST(pin_efault_unmapped_tail)
{
	uint8_t *p = tu_map(8);
	struct emu_pin *pin = NULL;

	tu_unmap(p + 7 * PS, 1);
	TU_ERR(emu_mem_pin((uintptr_t)p, 8, &pin), EFAULT);
	ck_assert_ptr_null(pin);
	tu_assert_emu_clean();
	tu_unmap(p, 7);
}
END_TEST

START_TEST(pin_efault_hole_in_the_middle)
{
	uint8_t *p = tu_map(8);
	struct emu_pin *pin = NULL;

	tu_unmap(p + 3 * PS, 1);
	TU_ERR(emu_mem_pin((uintptr_t)p, 8, &pin), EFAULT);
	tu_assert_emu_clean();
	tu_unmap(p, 3);
	tu_unmap(p + 4 * PS, 4);
}
END_TEST

START_TEST(pin_efault_read_only_and_no_access)
{
	uint8_t *p = tu_map(8);
	struct emu_pin *pin = NULL;

	ck_assert_int_eq(mprotect(p + 6 * PS, PS, PROT_READ), 0);
	TU_ERR(emu_mem_pin((uintptr_t)p, 8, &pin), EFAULT);
	tu_assert_emu_clean();
	ck_assert_int_eq(mprotect(p + 6 * PS, PS, PROT_NONE), 0);
	TU_ERR(emu_mem_pin((uintptr_t)p, 8, &pin), EFAULT);
	tu_assert_emu_clean();
	/* The writable part alone pins. */
	pin = pin_ok(p, 6);
	emu_mem_unpin(pin);
	tu_unmap(p, 8);
}
END_TEST

START_TEST(pin_einval_and_efault_arguments)
{
	struct emu_pin *pin = NULL;
	uint8_t *p = tu_map(2);

	TU_ERR(emu_mem_pin((uintptr_t)p + 1, 1, &pin), EINVAL);
	TU_ERR(emu_mem_pin((uintptr_t)p, 0, &pin), EINVAL);
	TU_ERR(emu_mem_pin(UINT64_MAX & ~(PS - 1), 2, &pin), EINVAL);
	TU_ERR(emu_mem_pin(0, UINT64_MAX, &pin), EINVAL);
	TU_ERR(emu_mem_pin(1ull << EMU_UA_BITS, 1, &pin), EFAULT);
	TU_ERR(emu_mem_pin((1ull << EMU_UA_BITS) - PS, 2, &pin), EFAULT);
	ck_assert_ptr_null(pin);
	tu_unmap(p, 2);
}
END_TEST

START_TEST(pin_smaps_fallback_agrees)
{
	uint8_t *p = tu_map(8);
	struct emu_pin *pin;

	emu__mem_probe_force_smaps(1);
	pin = pin_ok(p, 8);
	ck_assert_uint_eq(emu_pin_min_page_shift(pin), 12);
	emu_mem_unpin(pin);
	tu_unmap(p + 7 * PS, 1);
	TU_ERR(emu_mem_pin((uintptr_t)p, 8, &pin), EFAULT);
	ck_assert_int_eq(mprotect(p, PS, PROT_READ), 0);
	TU_ERR(emu_mem_pin((uintptr_t)p, 2, &pin), EFAULT);
	tu_unmap(p, 7);
}
END_TEST

static unsigned oracle_24_then_12(void *ctx, uint64_t ua, uint64_t *run_end)
{
	uint64_t split = *(uint64_t *)ctx;

	if (ua < split) {
		*run_end = split;
		return 24;
	}
	*run_end = UINT64_MAX;
	return 12;
}

START_TEST(pin_oracle_sets_backing)
{
	uint8_t *p = tu_map(8);
	uint64_t split = (uintptr_t)p + 4 * PS;
	struct emu_pin *pin;

	emu_mem_set_page_shift_oracle(oracle_24_then_12, &split);
	pin = pin_ok(p, 8);
	ck_assert_uint_eq(emu_pin_page_shift(pin, (uintptr_t)p), 24);
	ck_assert_uint_eq(emu_pin_page_shift(pin, (uintptr_t)p + 3 * PS), 24);
	ck_assert_uint_eq(emu_pin_page_shift(pin, split), 12);
	ck_assert_uint_eq(emu_pin_min_page_shift(pin), 12);
	ck_assert_uint_eq(emu_pin_hpa(pin, (uintptr_t)p + 5) >> EMU_HPA_ZONE_SHIFT, 24);
	ck_assert_uint_eq(emu_pin_hpa(pin, split), emu_mem_ua_to_hpa(split, 12));
	/* Pin counts stay per system page whatever the backing. */
	ck_assert_uint_eq(emu_mem_hpa_pins(emu_pin_hpa(pin, (uintptr_t)p + PS)), 1);
	/* The batched forms across the change of backing, plain and as table entries. */
	{
		uint64_t hpas[8], tces[9];

		emu_pin_hpas(pin, (uintptr_t)p, 8, 12, hpas);
		tces[8] = 7;
		emu_pin_hpas_be(pin, (uintptr_t)p, 8, 12, 3, tces);
		for (int i = 0; i < 8; i++) {
			ck_assert_uint_eq(hpas[i], emu_pin_hpa(pin, (uintptr_t)p + i * PS));
			ck_assert_uint_eq(tces[i], htobe64(hpas[i] | 3));
		}
		ck_assert_uint_eq(tces[8], 7);
	}
	emu_mem_unpin(pin);
	tu_unmap(p, 8);
}
END_TEST


/*
 * A writable MAP_SHARED mapping of a file on a disk filesystem may not be
 * pinned (Linux 6.5+, mm/gup.c: check_vma_flags refuses FOLL_LONGTERM
 * writes where writable_file_mapping_allowed / vma_needs_dirty_tracking
 * say the file needs dirty tracking): EFAULT, nothing pinned.  A private
 * mapping of the same file, a read-write memfd (shmem) and shared
 * anonymous memory are pinned, with both VMA readers.
 */
START_TEST(pin_shared_file_mapping_needs_dirty_tracking)
{
	char path[] = "build/pin-shared-file-XXXXXX";
	struct statfs sf;
	struct emu_pin *pin;
	struct emu_mem_stats st;
	uint8_t *shared, *priv, *mfd, *anon;
	int fd, m, smaps;

	fd = mkstemp(path);
	if (fd < 0) {
		printf("SKIP pin_shared_file_mapping_needs_dirty_tracking: no build/ folder here\n");
		return;
	}
	unlink(path);
	ck_assert_int_eq(fstatfs(fd, &sf), 0);
	if ((uint32_t)sf.f_type == 0x01021994u) {	/* TMPFS_MAGIC */
		printf("SKIP pin_shared_file_mapping_needs_dirty_tracking: build/ is on tmpfs\n");
		close(fd);
		return;
	}
	ck_assert_int_eq(ftruncate(fd, 4 * PS), 0);
	m = (int)syscall(SYS_memfd_create, "pin-shared", 0u);
	ck_assert_int_ge(m, 0);
	ck_assert_int_eq(ftruncate(m, 4 * PS), 0);
	shared = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	priv = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	mfd = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	anon = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(shared != MAP_FAILED && priv != MAP_FAILED && mfd != MAP_FAILED &&
		  anon != MAP_FAILED);
	for (smaps = 0; smaps < 2; smaps++) {
		emu__mem_probe_force_smaps(smaps);
		TU_ERR(emu_mem_pin((uintptr_t)shared, 4, &pin), EFAULT);
		TU_ERR(emu_mem_pin((uintptr_t)shared + PS, 1, &pin), EFAULT);
		emu_mem_get_stats(&st);
		ck_assert_uint_eq(st.pins, 0);
		ck_assert_uint_eq(st.pinned_pages, 0);
		TU_OK(emu_mem_pin((uintptr_t)priv, 4, &pin));
		emu_mem_unpin(pin);
		TU_OK(emu_mem_pin((uintptr_t)mfd, 4, &pin));
		emu_mem_unpin(pin);
		TU_OK(emu_mem_pin((uintptr_t)anon, 4, &pin));
		emu_mem_unpin(pin);
	}
	emu__mem_probe_force_smaps(0);
	munmap(shared, 4 * PS);
	munmap(priv, 4 * PS);
	munmap(mfd, 4 * PS);
	munmap(anon, 4 * PS);
	close(fd);
	close(m);
}
END_TEST


/* A memfd of @npages pages mapped MAP_SHARED (DPDK's --no-huge memory); *fd stays open. */
static uint8_t *shared_map(uint64_t npages, int *fd)
{
	uint8_t *p;

	*fd = (int)syscall(SYS_memfd_create, "pin-alias", 0u);
	ck_assert_int_ge(*fd, 0);
	ck_assert_int_eq(ftruncate(*fd, (off_t)(npages * PS)), 0);
	p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	ck_assert(p != MAP_FAILED);
	return p;
}

/* Mappings of the file behind @fd outside [@p, @p + @len) in /proc/self/maps: the pins' aliases. */
static unsigned aliases_of(int fd, const uint8_t *p, uint64_t len)
{
	struct stat sb;
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned n = 0;

	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e, ino;

		if (sscanf(line, "%llx-%llx %*s %*x %*x:%*x %llu", &s, &e, &ino) == 3 &&
		    ino == (unsigned long long)sb.st_ino && strstr(line, "/memfd:pin-alias") &&
		    (e <= (uintptr_t)p || s >= (uintptr_t)p + len))
			n++;
	}
	fclose(f);
	return n;
}

/* The device's way to the pinned page at @ua: its alias, which must show the process's bytes. */
static void assert_alias_reaches(uint8_t *ua, uint8_t byte)
{
	uint64_t alias, tag;

	ck_assert_uint_ge(emu__mem_dma_page((uintptr_t)ua + 8, &alias, &tag), 1);
	ck_assert_uint_ne(alias, 0);
	ck_assert_uint_eq(tag, 0);
	ck_assert_uint_ne(alias, (uintptr_t)ua + 8);
	ua[8] = byte;
	ck_assert_uint_eq(*(volatile uint8_t *)(uintptr_t)alias, byte);
	*(volatile uint8_t *)(uintptr_t)alias = (uint8_t)~byte;
	ck_assert_uint_eq(ua[8], (uint8_t)~byte);
}

/*
 * What DPDK's --no-huge set-up does: one pin (and one alias) per page of a
 * shared memfd mapping, then the pins dropped in random order.  Each page's
 * alias shows the process's bytes while pinned; the table and the leaves
 * stay consistent all along (emu_mem_check); at the end no alias is left,
 * in the stats or in the address space, and the pages are not pinned (a
 * DMA there faults: emu__mem_dma_page finds no pin and no way in).
 */
START_TEST(pin_shared_one_page_each_random_unpin)
{
	enum { N = 1536 };	/* a leaf and a half: leaves come and go */
	static struct emu_pin *pins[N];
	static unsigned order[N];
	struct emu_mem_stats st;
	uint64_t alias, tag;
	unsigned seed = 0x5eed;
	int fd;
	uint8_t *p = shared_map(N, &fd);

	for (unsigned i = 0; i < N; i++) {
		pins[i] = pin_ok(p + (uint64_t)i * PS, 1);
		order[i] = i;
	}
	emu_mem_get_stats(&st);
	ck_assert_uint_eq(st.pins, N);
	ck_assert_uint_eq(st.pinned_pages, N);
	ck_assert_uint_eq(st.pin_aliases, N);
	ck_assert_uint_eq(aliases_of(fd, p, N * PS), N);
	TU_OK(emu_mem_check());
	for (unsigned i = 0; i < N; i += 97)
		assert_alias_reaches(p + (uint64_t)i * PS, (uint8_t)i);
	for (unsigned i = N - 1; i > 0; i--) {
		unsigned j = (unsigned)(rand_r(&seed) % (i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned k = 0; k < N; k++) {
		unsigned i = order[k];

		emu_mem_unpin(pins[i]);
		ck_assert_uint_eq(emu__mem_dma_page((uintptr_t)p + (uint64_t)i * PS, &alias, &tag), 0);
		ck_assert_uint_eq(alias, 0);
		ck_assert_uint_eq(tag, 0);
		if (k % 256 == 0) {
			TU_OK(emu_mem_check());
			emu_mem_get_stats(&st);
			ck_assert_uint_eq(st.pin_aliases, N - 1 - k);
			ck_assert_uint_eq(st.pinned_pages, N - 1 - k);
		}
	}
	emu_mem_get_stats(&st);
	ck_assert_uint_eq(st.pins, 0);
	ck_assert_uint_eq(st.pin_aliases, 0);
	ck_assert_uint_eq(aliases_of(fd, p, N * PS), 0);
	munmap(p, N * PS);
	close(fd);
}
END_TEST

/*
 * emu__mem_dma_pages, the DMA path's one-round lookup, answers what
 * emu__mem_dma_page answers page by page (aliases with the byte's offset,
 * private pages' tags), across a leaf boundary (1024 pages) and mixed
 * with shared pages; it stops at the first page that is not pinned,
 * leaving the entries after it untouched.
 */
START_TEST(dma_pages_batch_matches_single_lookups)
{
	enum { NP = 1028, HOLE = 1026 };
	static const uint64_t order[] = { 1020, 1021, 1022, 1023, 1024, 1025 };
	struct emu__dma_page p[10];
	struct emu_pin *lo, *hi, *sh;
	uint8_t *area = tu_map_aligned(NP, 22), *shared;
	uint64_t k, alias, tag;
	int fd;

	shared = shared_map(2, &fd);
	lo = pin_ok(area, HOLE);
	hi = pin_ok(area + (HOLE + 1) * PS, NP - HOLE - 1);
	sh = pin_ok(shared, 2);
	p[0].ua = (uintptr_t)shared + 16;
	for (k = 0; k < 6; k++)
		p[1 + k].ua = (uintptr_t)area + order[k] * PS + k;
	p[7].ua = (uintptr_t)shared + PS + 4095;
	p[8].ua = (uintptr_t)area + HOLE * PS;
	p[9].ua = (uintptr_t)area + (HOLE + 1) * PS;
	for (k = 0; k < 10; k++)
		p[k].alias = p[k].tag = 0xdead;
	ck_assert_uint_eq(emu__mem_dma_pages(p, 0), 0);
	ck_assert_uint_eq(p[0].alias, 0xdead);
	ck_assert_uint_eq(emu__mem_dma_pages(p, 10), 8);
	for (k = 0; k < 8; k++) {
		ck_assert_uint_ge(emu__mem_dma_page(p[k].ua, &alias, &tag), 1);
		ck_assert_uint_eq(p[k].alias, alias);
		ck_assert_uint_eq(p[k].tag, tag);
		ck_assert((alias != 0) == (k == 0 || k == 7));
		ck_assert(alias != 0 || tag != 0);
	}
	ck_assert_uint_eq(p[7].alias, p[0].alias - 16 + PS + 4095);
	ck_assert_uint_eq(p[8].alias, 0);	/* the unpinned page: filled as emu__mem_dma_page does */
	ck_assert_uint_eq(p[8].tag, 0);
	ck_assert_uint_eq(p[9].alias, 0xdead);
	ck_assert_uint_eq(p[9].tag, 0xdead);
	/* From the page after the hole on, everything is pinned. */
	ck_assert_uint_eq(emu__mem_dma_pages(p + 9, 1), 1);
	ck_assert_uint_ne(p[9].tag, 0);
	emu_mem_unpin(sh);
	emu_mem_unpin(hi);
	emu_mem_unpin(lo);
	ck_assert_uint_eq(emu__mem_dma_pages(p, 10), 0);
	munmap(shared, 2 * PS);
	close(fd);
	tu_unmap(area, NP);
}
END_TEST

/*
 * Overlapping pins of shared memory: a page keeps the alias of the pin that
 * took it first, and that alias lives while any such page is pinned, by
 * whichever pin.  A pins [0, 4), B pins [2, 6): pages 2 and 3 stay A's
 * after A goes (B still pins them), so A's alias stays until B goes too.
 */
START_TEST(pin_shared_overlap_keeps_first_alias)
{
	struct emu_mem_stats st;
	struct emu_pin *a, *b;
	uint64_t alias_a, alias_b, alias, tag;
	int fd;
	uint8_t *p = shared_map(8, &fd);

	a = pin_ok(p, 4);
	b = pin_ok(p + 2 * PS, 4);
	emu_mem_get_stats(&st);
	ck_assert_uint_eq(st.pin_aliases, 2);
	ck_assert_uint_eq(emu__mem_dma_page((uintptr_t)p + 2 * PS, &alias_a, &tag), 2);
	ck_assert_uint_eq(emu__mem_dma_page((uintptr_t)p + 4 * PS, &alias_b, &tag), 1);
	ck_assert_uint_eq(emu__mem_dma_page((uintptr_t)p, &alias, &tag), 1);
	ck_assert_uint_eq(alias_a, alias + 2 * PS);	/* pages 0..3 in A's alias */
	TU_OK(emu_mem_check());
	emu_mem_unpin(a);
	emu_mem_get_stats(&st);
	ck_assert_uint_eq(st.pin_aliases, 2);
	ck_assert_uint_eq(aliases_of(fd, p, 8 * PS), 2);
	ck_assert_uint_eq(emu__mem_dma_page((uintptr_t)p + 2 * PS, &alias, &tag), 1);
	ck_assert_uint_eq(alias, alias_a);
	assert_alias_reaches(p + 3 * PS, 0x3c);
	assert_alias_reaches(p + 5 * PS, 0x5c);
	ck_assert_uint_eq(emu__mem_dma_page((uintptr_t)p + PS, &alias, &tag), 0);
	TU_OK(emu_mem_check());
	emu_mem_unpin(b);
	emu_mem_get_stats(&st);
	ck_assert_uint_eq(st.pin_aliases, 0);
	ck_assert_uint_eq(aliases_of(fd, p, 8 * PS), 0);
	munmap(p, 8 * PS);
	close(fd);
}
END_TEST

/*
 * A page holds at most the count limit's pins (about four million; the
 * kernel's reference count overflows near two million): a pin past it fails
 * with ENOMEM and changes nothing, also when only its last page is full.
 */
START_TEST(pin_count_limit_is_enomem)
{
	enum { MAX = 3 };
	struct emu_pin *full[MAX], *pin;
	struct emu_mem_stats before, after;
	uint8_t *p = tu_map(LEAF_TEST_PAGES);

	emu__mem_set_pin_count_max(MAX);
	for (int i = 0; i < MAX; i++)
		full[i] = pin_ok(p + (LEAF_TEST_PAGES - 1) * PS, 1);
	emu_mem_get_stats(&before);
	TU_ERR(emu_mem_pin((uintptr_t)p + (LEAF_TEST_PAGES - 1) * PS, 1, &pin), ENOMEM);
	/* Across a leaf boundary, the full page last: every page before it is taken back. */
	TU_ERR(emu_mem_pin((uintptr_t)p, LEAF_TEST_PAGES, &pin), ENOMEM);
	emu_mem_get_stats(&after);
	ck_assert_uint_eq(after.pins, before.pins);
	ck_assert_uint_eq(after.pinned_pages, before.pinned_pages);
	ck_assert_uint_eq(after.pin_refs, before.pin_refs);
	ck_assert_uint_eq(after.pin_meta_bytes, before.pin_meta_bytes);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p), 0);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + (LEAF_TEST_PAGES - 1) * PS), MAX);
	TU_OK(emu_mem_check());
	emu_mem_unpin(full[0]);
	pin = pin_ok(p, LEAF_TEST_PAGES);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + (LEAF_TEST_PAGES - 1) * PS), MAX);
	emu_mem_unpin(pin);
	for (int i = 1; i < MAX; i++)
		emu_mem_unpin(full[i]);
	emu__mem_set_pin_count_max(0);
	tu_unmap(p, LEAF_TEST_PAGES);
}
END_TEST

/* Bookkeeping per pinned page: under 8 bytes (issue 17's goal for a registered page). */
START_TEST(pin_metadata_under_8_bytes_per_page)
{
	enum { N = 16384 };
	struct emu_mem_stats st;
	uint8_t *p = tu_map(N);
	struct emu_pin *pin = pin_ok(p, N);

	emu_mem_get_stats(&st);
	ck_assert_msg(st.pin_meta_bytes < 8 * N, "%llu bytes for %u pages",
		      (unsigned long long)st.pin_meta_bytes, N);
	emu_mem_unpin(pin);
	tu_unmap(p, N);
}
END_TEST

static void sweep_pin_check(void *ctx, int rc);

static unsigned shared_sites;	/* bit 0: an alias failed, bit 1: the alias table */

/* Notes which of the alias sites the run's injected failure hit. */
static int shared_site_seen(int rc)
{
	if (util_fail_nth_fired()) {
		shared_sites |= !strcmp(util_fail_nth_site(), "emu_pin_alias") ? 1u : 0u;
		shared_sites |= !strcmp(util_fail_nth_site(), "emu_pin_alias_table") ? 2u : 0u;
	}
	return rc;
}

/* Fail-nth over pins of shared memory next to a live one: aliases and their table fail cleanly. */
static int sweep_shared_run(void *ctx)
{
	struct emu_pin *a, *b;
	int rc = emu_mem_pin((uintptr_t)ctx, 8, &a);

	if (rc)
		return shared_site_seen(rc);
	rc = emu_mem_pin((uintptr_t)ctx + 4 * PS, 8, &b);
	if (!rc) {
		uint64_t alias, tag;

		/* Without an alias (its creation failed) the page is tagged by frame instead. */
		ck_assert_uint_eq(emu__mem_dma_page((uintptr_t)ctx + 9 * PS, &alias, &tag), 1);
		if (alias)
			assert_alias_reaches((uint8_t *)ctx + 9 * PS, 0x66);
		else
			ck_assert_uint_ne(tag, 0);
		emu_mem_unpin(b);
	}
	emu_mem_unpin(a);
	return shared_site_seen(rc);
}


START_TEST(pin_shared_fail_nth_sweep)
{
	int fd;
	uint8_t *p = shared_map(12, &fd);
	unsigned points;

	shared_sites = 0;
	points = tu_sweep(sweep_shared_run, sweep_pin_check, p);
	ck_assert_uint_eq(shared_sites, 3);
	/* two pins: alloc, runs, alias, aliases array, alias table, chunk, leaf each at least */
	ck_assert_uint_ge(points, 10);
	ck_assert_uint_eq(aliases_of(fd, p, 12 * PS), 0);
	munmap(p, 12 * PS);
	close(fd);
}
END_TEST

/* ------------------------------------------------------- the hugepage pool */

#define POOL "/sys/kernel/mm/hugepages/hugepages-2048kB/"

static long pool_read(const char *file)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), POOL "%s", file);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * The test's own restoration, even when the code under test failed: only
 * ever lowers the pool back to @v (another process's tests may move the
 * same pool meanwhile; raising it here could leave the host changed).
 */
static void pool_write(long v)
{
	if (pool_read("nr_hugepages") <= v)
		return;

	FILE *f = fopen(POOL "nr_hugepages", "w");

	if (f) {
		fprintf(f, "%ld\n", v);
		fclose(f);
	}
}

/* Why the pool tests cannot run here, or NULL. */
static const char *pool_unusable(void)
{
	if (geteuid() != 0)
		return "not root";
	if (pool_read("nr_hugepages") < 0)
		return "no 2 MiB hugetlbfs pool";
	if (pool_read("free_hugepages") > 64)
		return "more than 64 free 2 MiB pages already: nothing to raise";
	return NULL;
}

/* Waits until the pool is above @start (true) or @ms milliseconds pass. */
static bool pool_wait_raised(long start, unsigned ms)
{
	struct timespec d = { 0, 1000000 };

	for (unsigned i = 0; i < ms; i++) {
		if (pool_read("nr_hugepages") > start)
			return true;
		nanosleep(&d, NULL);
	}
	return false;
}

/* The bounds: over EMU_HUGETLB_MAX_RAISE or over half of MemAvailable, nothing changes. */
START_TEST(hugetlb_reserve_is_bounded)
{
	const char *why = pool_unusable();
	long start, prev = 0;

	if (why) {
		printf("SKIP hugetlb_reserve_is_bounded: %s\n", why);
		return;
	}
	start = pool_read("nr_hugepages");
	TU_ERR(emu_mem_hugetlb_reserve(21, (EMU_HUGETLB_MAX_RAISE >> 21) + 65, &prev), E2BIG);
	ck_assert_int_eq(prev, -1);
	TU_ERR(emu_mem_hugetlb_reserve(30, (EMU_HUGETLB_MAX_RAISE >> 30) + 1000, &prev), E2BIG);
	ck_assert_int_eq(pool_read("nr_hugepages"), start);
	TU_ERR(emu_mem_hugetlb_reserve(5, 1, &prev), EINVAL);
}
END_TEST

/*
 * A child that raises the pool and then leaves without restoring it: by
 * exit(), or by a fatal signal whose earlier handler (installed by the
 * program before the pool was raised) must still run.  The pool is back at
 * its start either way.
 */
static volatile sig_atomic_t chained;

static void program_handler(int sig)
{
	(void)sig;
	chained = 1;
	_exit(7);
}

static int pool_child(int how)
{
	long prev;
	long want = pool_read("free_hugepages") + 1;

	if (how == 2)
		signal(SIGTERM, program_handler);
	if (emu_mem_hugetlb_reserve(21, (uint64_t)want, &prev) || prev < 0)
		_exit(99);	/* could not raise */
	if (how == 0)
		exit(3);
	if (how == 1)
		abort();
	raise(SIGTERM);
	_exit(98);
}

START_TEST(hugetlb_pool_restored_by_the_library)
{
	const char *why = pool_unusable();
	long start, after[3];
	int status[3];

	if (why) {
		printf("SKIP hugetlb_pool_restored_by_the_library: %s\n", why);
		return;
	}
	start = pool_read("nr_hugepages");
	for (int how = 0; how < 3; how++) {
		pid_t pid = fork();

		ck_assert_int_ge(pid, 0);
		if (!pid)
			pool_child(how);
		waitpid(pid, &status[how], 0);
		after[how] = pool_read("nr_hugepages");
		if (after[how] != start)
			pool_write(start);	/* the test restores it even when it fails */
	}
	if (WIFEXITED(status[0]) && WEXITSTATUS(status[0]) == 99) {
		printf("SKIP hugetlb_pool_restored_by_the_library: the pool cannot be raised\n");
		return;
	}
	if (after[0] < start || after[1] < start || after[2] < start) {
		printf("SKIP hugetlb_pool_restored_by_the_library: another process lowered the pool\n");
		return;
	}
	ck_assert_msg(WIFEXITED(status[0]) && WEXITSTATUS(status[0]) == 3, "exit: status %#x",
		      status[0]);
	ck_assert_int_eq(after[0], start);
	ck_assert_msg(WIFSIGNALED(status[1]) && WTERMSIG(status[1]) == SIGABRT, "abort: status %#x",
		      status[1]);
	ck_assert_int_eq(after[1], start);
	ck_assert_msg(WIFEXITED(status[2]) && WEXITSTATUS(status[2]) == 7,
		      "chained SIGTERM: status %#x", status[2]);
	ck_assert_int_eq(after[2], start);
}
END_TEST

/* build/spaprtce next to build/tests/check_mem, or NULL. */
static const char *spaprtce_program(void)
{
	static char prog[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", prog, sizeof(prog) - 32);
	char *slash;

	if (n <= 0)
		return NULL;
	prog[n] = 0;
	slash = strrchr(prog, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	slash = strrchr(prog, '/');
	if (!slash)
		return NULL;
	strcpy(slash, "/spaprtce");
	return access(prog, X_OK) ? NULL : prog;
}

/*
 * `spaprtce replay` of a trace that asks for huge pages (the pool is
 * raised at its first line) and then runs for a long time, killed
 * mid-trace by SIGSEGV, SIGABRT, SIGTERM and SIGINT: each time the pool is
 * back at its start value.  The trace blocks nothing: it is long (a
 * hundred thousand 2 MiB fills) and the test kills it as soon as it sees
 * the pool raised.  Also a trace that ends normally and one that ends with
 * a divergence (exit status 1).
 */
START_TEST(hugetlb_pool_restored_after_replay_dies)
{
	static const int sigs[] = { SIGSEGV, SIGABRT, SIGTERM, SIGINT };
	const char *why = pool_unusable(), *prog = spaprtce_program();
	char path[] = "/tmp/spaprtce-pool-XXXXXX", fail[160] = "";
	long start, free_now, size;
	FILE *f;
	int fd;

	if (why || !prog) {
		printf("SKIP hugetlb_pool_restored_after_replay_dies: %s\n",
		       why ? why : "no spaprtce program next to the suite");
		return;
	}
	start = pool_read("nr_hugepages");
	free_now = pool_read("free_hugepages");
	size = (free_now + 1) << 21;
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "mem h %#lx huge => ok\n", size);
	for (int i = 0; i < 100000; i++)
		fprintf(f, "fill h 0x200000 0x5a => ok\n");
	fclose(f);

	for (unsigned k = 0; k < 4 + 2 && !fail[0]; k++) {
		char shortpath[] = "/tmp/spaprtce-pool-short-XXXXXX";
		const char *trace = path;
		int status;
		long after;
		pid_t pid;

		if (k >= 4) {	/* a trace that ends: normally, or with a divergence */
			fd = mkstemp(shortpath);
			ck_assert_int_ge(fd, 0);
			f = fdopen(fd, "w");
			fprintf(f, "mem h %#lx huge => ok\nfill h 0x200000 0x5a => ok\n%s", size,
				k == 5 ? "pinned => 12345\n" : "");
			fclose(f);
			trace = shortpath;
		}
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (!pid) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			dup2(null, 2);
			execl(prog, prog, "replay", trace, (char *)NULL);
			_exit(127);
		}
		if (k < 4) {
			if (!pool_wait_raised(start, 20000)) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				pool_write(start);
				unlink(path);
				printf("SKIP hugetlb_pool_restored_after_replay_dies: the pool was not raised\n");
				return;
			}
			kill(pid, sigs[k]);
		}
		waitpid(pid, &status, 0);
		after = pool_read("nr_hugepages");
		if (after < start) {
			printf("SKIP hugetlb_pool_restored_after_replay_dies: another process lowered the pool\n");
			break;
		}
		if (after != start) {
			pool_write(start);	/* the test restores it even when it fails */
			snprintf(fail, sizeof(fail), "case %u: nr_hugepages %ld after, %ld before", k,
				 after, start);
		} else if (k < 4 && !(WIFSIGNALED(status) && WTERMSIG(status) == sigs[k]) &&
			   !(sigs[k] == SIGSEGV && WIFEXITED(status) && WEXITSTATUS(status))) {
			/* (a sanitizer runtime reports a SIGSEGV and exits instead) */
			snprintf(fail, sizeof(fail), "signal %d: status %#x", sigs[k], status);
		} else if (k >= 4 && !(WIFEXITED(status) && WEXITSTATUS(status) == (k == 5))) {
			snprintf(fail, sizeof(fail), "trace %u: status %#x", k, status);
		}
		if (k >= 4)
			unlink(shortpath);
	}
	unlink(path);
	ck_assert_msg(!fail[0], "%s", fail);
}
END_TEST

START_TEST(pin_hugetlb_backing)
{
	uint64_t len = 4ull << 20;
	const char *why = "";
	long prev = tu_hugetlb_reserve(2, &why);
	uint8_t *p;
	struct emu_pin *pin;

	if (prev < 0) {
		printf("SKIP pin_hugetlb_backing: %s\n", why);
		return;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED) {
		printf("SKIP pin_hugetlb_backing: MAP_HUGETLB failed: %s\n", strerror(errno));
		tu_hugetlb_restore(prev);
		return;
	}
	pin = pin_ok(p, len / PS);
	ck_assert_uint_eq(emu_pin_min_page_shift(pin), 21);
	/* One contiguous hpa run per huge page, scattered across huge pages. */
	for (uint64_t off = 0; off < (2u << 20); off += PS)
		ck_assert_uint_eq(emu_pin_hpa(pin, (uintptr_t)p + off), emu_pin_hpa(pin, (uintptr_t)p) + off);
	ck_assert_uint_ne(emu_pin_hpa(pin, (uintptr_t)p + (2u << 20)), emu_pin_hpa(pin, (uintptr_t)p) + (2u << 20));
	emu__mem_probe_force_smaps(1);
	{
		struct emu_pin *again = pin_ok(p + (2u << 20), (2u << 20) / PS);

		ck_assert_uint_eq(emu_pin_min_page_shift(again), 21);
		emu_mem_unpin(again);
	}
	emu_mem_unpin(pin);
	munmap(p, len);
	tu_hugetlb_restore(prev);
}
END_TEST

/* Fail-nth sweep over a pin in four chunks: every failure leaves nothing pinned. */
static int sweep_pin_run(void *ctx)
{
	struct emu_pin *pin;
	int rc = emu_mem_pin((uintptr_t)ctx, 16, &pin);

	if (!rc)
		emu_mem_unpin(pin);
	return rc;
}

static void sweep_pin_check(void *ctx, int rc)
{
	(void)ctx;
	ck_assert_msg(rc == 0 || rc == -ENOMEM, "unexpected rc %s", tu_errname(rc));
	tu_assert_emu_clean();
}

START_TEST(pin_fail_nth_sweep)
{
	uint8_t *p = tu_map(16);
	unsigned points;

	emu_mem_set_pin_chunk(4);
	points = tu_sweep(sweep_pin_run, sweep_pin_check, p);
	/* alloc, runs array, 4 chunks, leaf, hash growth at least */
	ck_assert_uint_ge(points, 7);
	tu_unmap(p, 16);
}
END_TEST

static int cap_drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[0].effective &= ~(1u << CAP_IPC_LOCK);
	return (int)syscall(SYS_capset, &hdr, data);
}

/* Child part of the next test; exit code 0 on success. */
static int mlock_refused_child(void)
{
	struct rlimit rl = { 0, 0 };
	struct emu_pin *pin;
	struct emu_mem_stats st;
	uint8_t *p = mmap(NULL, 8 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || cap_drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
		return 10;
	if (emu_mem_set_pin_mode(EMU_PIN_MLOCK) || emu_mem_pin((uintptr_t)p, 8, &pin) != -ENOMEM)
		return 11;
	emu_mem_get_stats(&st);
	if (st.pinned_pages || st.pins)
		return 12;
	/* AUTO falls back to populate-only. */
	if (emu_mem_set_pin_mode(EMU_PIN_AUTO) || emu_mem_pin((uintptr_t)p, 8, &pin))
		return 13;
	emu_mem_get_stats(&st);
	if (st.mlocked || st.pinned_pages != 8)
		return 14;
	emu_mem_unpin(pin);
	return 0;
}

START_TEST(pin_mlock_refused_without_cap_ipc_lock)
{
	pid_t pid;
	int status;

	SKIP_UNDER_SANITIZER("pin_mlock_refused_without_cap_ipc_lock");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid)
		_exit(mlock_refused_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
}
END_TEST

START_TEST(pin_fork_child_starts_unpinned)
{
	uint8_t *p = tu_map(4);
	struct emu_pin *pin = pin_ok(p, 4);
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		struct emu_mem_stats st;
		struct emu_pin *mine;

		emu_mem_get_stats(&st);
		if (st.pins || st.pinned_pages || emu_mem_ua_pins((uintptr_t)p))
			_exit(1);
		if (emu_mem_pin((uintptr_t)p, 4, &mine))
			_exit(2);
		emu_mem_unpin(mine);
		emu_mem_unpin(pin);	/* the parent's pin: must not count down the child's */
		emu_mem_get_stats(&st);
		if (st.pinned_pages || st.unpin_underflows)
			_exit(3);
		/* The child's probe asks about the child's mappings, not the parent's. */
		{
			void *q = mmap(NULL, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (q == MAP_FAILED || emu_mem_pin((uintptr_t)q, 2, &mine))
				_exit(4);
			emu_mem_unpin(mine);
		}
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p), 1);
	emu_mem_unpin(pin);
	tu_unmap(p, 4);
}
END_TEST

/* ---------------------------------------------------------- table memory */

START_TEST(table_alloc_zeroed_aligned_contiguous)
{
	for (unsigned shift = 12; shift <= 23; shift++) {
		uint64_t size = 1ull << shift, hpa;
		uint8_t *hva;

		TU_OK(emu_mem_table_alloc(emu_mem_node(), size, (void **)&hva, &hpa));
		ck_assert_uint_eq(hpa >> EMU_HPA_ZONE_SHIFT, EMU_HPA_ZONE_TABLE);
		ck_assert_uint_eq(hpa & (size - 1), 0);
		for (uint64_t i = 0; i < size; i += 512)
			ck_assert_uint_eq(hva[i], 0);
		ck_assert_ptr_eq(emu_mem_table_hva(hpa, size), hva);
		ck_assert_ptr_eq(emu_mem_table_hva(hpa + size - 8, 8), hva + size - 8);
		ck_assert_ptr_null(emu_mem_table_hva(hpa + size - 8, 16));
		memset(hva, 0xa5, size);
		emu_mem_table_free(hva, size);
		ck_assert_ptr_null(emu_mem_table_hva(hpa, 8));
	}
}
END_TEST

/* Looks @hpa up from a fresh thread (an empty lookup cache). */
struct hva_probe {
	uint64_t hpa, len;
	void *found;
};

static void *hva_probe_thread(void *arg)
{
	struct hva_probe *pr = arg;

	pr->found = emu_mem_table_hva(pr->hpa, pr->len);
	return NULL;
}

static void *hva_in_thread(uint64_t hpa, uint64_t len)
{
	struct hva_probe pr = { hpa, len, NULL };
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, hva_probe_thread, &pr), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	return pr.found;
}

/* Frees a 4 KiB table block from another thread. */
static void *free_4k_thread(void *arg)
{
	emu_mem_table_free(arg, 4096);
	return NULL;
}

/*
 * emu_mem_table_hva remembers the blocks a thread found live: a block found
 * once and freed since, by this thread or another, is refused all the same;
 * so is memory next to a remembered block, and a remembered block's range
 * is never stretched past the block.
 */
START_TEST(table_hva_cache_refuses_freed)
{
	uint64_t ha, hb, hbig, hc;
	uint8_t *a, *b, *big, *c;
	pthread_t th;

	TU_OK(emu_mem_table_alloc(0, 4096, (void **)&a, &ha));
	TU_OK(emu_mem_table_alloc(0, 4096, (void **)&b, &hb));
	TU_OK(emu_mem_table_alloc(0, 4ull << 20, (void **)&big, &hbig));
	ck_assert_ptr_eq(emu_mem_table_hva(ha + 8, 8), a + 8);
	ck_assert_ptr_eq(emu_mem_table_hva(hb, 4096), b);
	ck_assert_ptr_eq(emu_mem_table_hva(hbig + (3ull << 20), 8), big + (3ull << 20));
	/* Remembered, but not stretched: one byte past the block is refused. */
	ck_assert_ptr_null(emu_mem_table_hva(ha + 4088, 16));
	ck_assert_ptr_null(emu_mem_table_hva(hbig + (4ull << 20) - 8, 16));
	/* Another block freed: a and big stay live. */
	emu_mem_table_free(b, 4096);
	ck_assert_ptr_null(emu_mem_table_hva(hb, 8));
	ck_assert_ptr_eq(emu_mem_table_hva(ha, 8), a);
	ck_assert_ptr_eq(emu_mem_table_hva(hbig, 8), big);
	/* Freed by another thread: this thread's memory of a is void. */
	ck_assert_ptr_eq(hva_in_thread(ha, 8), a);
	ck_assert_int_eq(pthread_create(&th, NULL, free_4k_thread, a), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_ptr_null(emu_mem_table_hva(ha + 8, 8));
	ck_assert_ptr_null(hva_in_thread(ha + 8, 8));
	/* Reused (LIFO free list): live again, found again. */
	TU_OK(emu_mem_table_alloc(0, 4096, (void **)&c, &hc));
	ck_assert_ptr_eq(c, a);
	ck_assert_ptr_eq(emu_mem_table_hva(hc, 4096), c);
	emu_mem_table_free(big, 4ull << 20);
	ck_assert_ptr_null(emu_mem_table_hva(hbig + (3ull << 20), 8));
	ck_assert_ptr_null(hva_in_thread(hbig, 8));
	emu_mem_table_free(c, 4096);
	ck_assert_ptr_null(emu_mem_table_hva(hc, 8));
}
END_TEST

START_TEST(table_reuse_is_zeroed)
{
	uint64_t hpa, hpa2;
	uint8_t *a, *b;

	TU_OK(emu_mem_table_alloc(0, 8192, (void **)&a, &hpa));
	memset(a, 0xff, 8192);
	emu_mem_table_free(a, 8192);
	TU_OK(emu_mem_table_alloc(0, 8192, (void **)&b, &hpa2));
	ck_assert_ptr_eq(a, b);	/* LIFO free list: the same block comes back */
	for (int i = 0; i < 8192; i++)
		ck_assert_uint_eq(b[i], 0);
	emu_mem_table_free(b, 8192);
}
END_TEST

START_TEST(table_alloc_errors)
{
	uint64_t hpa = 7;
	void *hva = NULL;

	TU_ERR(emu_mem_table_alloc(0, 0, &hva, &hpa), EINVAL);
	TU_ERR(emu_mem_table_alloc(0, 2048, &hva, &hpa), EINVAL);
	TU_ERR(emu_mem_table_alloc(0, 6000, &hva, &hpa), EINVAL);
	TU_ERR(emu_mem_table_alloc(-1, 4096, &hva, &hpa), EINVAL);
	TU_ERR(emu_mem_table_alloc(4096, 4096, &hva, &hpa), EINVAL);
	ck_assert_ptr_null(hva);
	ck_assert_uint_eq(hpa, 7);
	ck_assert(emu_mem_node_exists(0));
	ck_assert(!emu_mem_node_exists(numa_available() < 0 ? 1 : numa_max_node() + 1));
	TU_ERR(emu_mem_set_node(-3), EINVAL);
	ck_assert_int_eq(emu_mem_node(), 0);
}
END_TEST

START_TEST(table_blocks_placed_on_node)
{
	uint64_t hpa;
	uint8_t *hva;
	int node = -1;

	if (numa_available() < 0) {
		printf("SKIP table_blocks_placed_on_node: no NUMA support\n");
		return;
	}
	TU_OK(emu_mem_table_alloc(0, 4096, (void **)&hva, &hpa));
	hva[0] = 1;	/* fault it in */
	ck_assert_int_eq(syscall(SYS_get_mempolicy, &node, NULL, 0, hva, 3 /* MPOL_F_NODE|ADDR */), 0);
	ck_assert_int_eq(node, 0);
	hva[0] = 0;
	emu_mem_table_free(hva, 4096);
}
END_TEST

static int sweep_table_run(void *ctx)
{
	void *h[4];
	uint64_t hpa;
	int rc = 0, n;

	(void)ctx;
	for (n = 0; n < 4; n++) {
		rc = emu_mem_table_alloc(0, 4096u << n, &h[n], &hpa);
		if (rc)
			break;
	}
	while (n--)
		emu_mem_table_free(h[n], 4096u << n);
	return rc;
}

START_TEST(table_fail_nth_sweep)
{
	ck_assert_uint_ge(tu_sweep(sweep_table_run, sweep_pin_check, NULL), 4);
}
END_TEST

/* ---------------------------------------------------------------- util */

START_TEST(u64map_matches_reference)
{
	struct util_u64map m = UTIL_U64MAP_INIT;
	static uint64_t ref[4096];
	uint64_t x = 88172645463325252ull;

	for (int round = 0; round < 200000; round++) {
		uint64_t key;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		key = x % 4096;
		ck_assert_uint_eq(util_u64map_get(&m, key * 0x10000), ref[key]);
		if (ref[key]) {
			util_u64map_remove(&m, key * 0x10000);
			ref[key] = 0;
		} else {
			TU_OK(util_u64map_insert(&m, key * 0x10000, key + 1));
			ref[key] = key + 1;
		}
	}
	for (uint64_t k = 0; k < 4096; k++)
		ck_assert_uint_eq(util_u64map_get(&m, k * 0x10000), ref[k]);
	util_u64map_destroy(&m);
}
END_TEST

START_TEST(range_end_overflow)
{
	uint64_t end = 5;

	ck_assert(util_range_end(1, 2, &end));
	ck_assert_uint_eq(end, 3);
	ck_assert(!util_range_end(UINT64_MAX, 1, &end));
	ck_assert(!util_range_end(1, UINT64_MAX, &end));
	ck_assert_uint_eq(end, 3);
	ck_assert(util_range_end(UINT64_MAX - 1, 1, &end));
	ck_assert(util_is_pow2(4096) && !util_is_pow2(0) && !util_is_pow2(6000));
}
END_TEST

START_TEST(fail_nth_fires_once)
{
	util_fail_nth_arm(3);
	ck_assert(!util_should_fail("a"));
	ck_assert(!util_should_fail("b"));
	ck_assert(util_should_fail("c"));
	ck_assert(!util_should_fail("d"));
	ck_assert(util_fail_nth_fired());
	ck_assert_str_eq(util_fail_nth_site(), "c");
	ck_assert_uint_eq(util_fail_nth_calls(), 4);
	util_fail_nth_arm(0);
	ck_assert(!util_should_fail("e"));
	ck_assert(!util_fail_nth_fired());
}
END_TEST

static Suite *mem_suite(void)
{
	Suite *s = suite_create("emu_mem");
	TCase *t;

	t = tcase_create("hpa");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, hpa_roundtrip_every_zone);
	tcase_add_test(t, hpa_scattered_for_normal_pages);
	tcase_add_test(t, hpa_contiguous_inside_huge_page);
	tcase_add_test(t, hpa_other_zones_are_not_user_memory);
	suite_add_tcase(s, t);

	t = tcase_create("pin");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, pin_counts_per_frame);
	tcase_add_test(t, pin_faults_pages_in_writable);
	tcase_add_test(t, pinned_pages_per_node);
	tcase_add_test(t, pin_mlock_mode_locks_and_unpin_unlocks);
	tcase_add_test(t, pin_overlapping_unpin_keeps_lock_of_the_other);
	tcase_add_test(t, pin_efault_unmapped_tail);
	tcase_add_test(t, pin_efault_hole_in_the_middle);
	tcase_add_test(t, pin_efault_read_only_and_no_access);
	tcase_add_test(t, pin_einval_and_efault_arguments);
	tcase_add_test(t, pin_smaps_fallback_agrees);
	tcase_add_test(t, pin_oracle_sets_backing);
	tcase_add_test(t, pin_hugetlb_backing);
	tcase_add_test(t, pin_shared_file_mapping_needs_dirty_tracking);
	tcase_add_test(t, pin_shared_one_page_each_random_unpin);
	tcase_add_test(t, pin_shared_overlap_keeps_first_alias);
	tcase_add_test(t, dma_pages_batch_matches_single_lookups);
	tcase_add_test(t, pin_count_limit_is_enomem);
	tcase_add_test(t, pin_metadata_under_8_bytes_per_page);
	tcase_add_test(t, hugetlb_reserve_is_bounded);
	tcase_add_test(t, hugetlb_pool_restored_by_the_library);
	tcase_add_test(t, hugetlb_pool_restored_after_replay_dies);
	tcase_add_test(t, pin_fail_nth_sweep);
	tcase_add_test(t, pin_shared_fail_nth_sweep);
	tcase_add_test(t, pin_mlock_refused_without_cap_ipc_lock);
	tcase_add_test(t, pin_fork_child_starts_unpinned);
	suite_add_tcase(s, t);

	t = tcase_create("table");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, table_alloc_zeroed_aligned_contiguous);
	tcase_add_test(t, table_reuse_is_zeroed);
	tcase_add_test(t, table_hva_cache_refuses_freed);
	tcase_add_test(t, table_alloc_errors);
	tcase_add_test(t, table_blocks_placed_on_node);
	tcase_add_test(t, table_fail_nth_sweep);
	suite_add_tcase(s, t);

	t = tcase_create("util");
	tcase_add_test(t, u64map_matches_reference);
	tcase_add_test(t, range_end_overflow);
	tcase_add_test(t, fail_nth_fires_once);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(mem_suite());
}
