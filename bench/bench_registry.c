/* SPDX-License-Identifier: MIT */
/*
 * Registration at scale (issue 17): what DPDK without hugepages does, one
 * VFIO_IOMMU_SPAPR_REGISTER_MEMORY per 4 KiB page.
 *
 *   (a) REGISTER of 32,768 regions of 4 KiB one after another, through
 *       spapr_ioctl on a v2 container: the total time against the kernel's
 *       algorithm (goal: at least 10 times faster, ratio = kernel / ours),
 *       and the time of the last 1,024 registrations against the first
 *       1,024 (goal: at most 1.5: an insert must not cost more as the
 *       registry grows);
 *   (b) UNREGISTER of the same regions in a random order: the same two goals.
 *
 * The kernel baseline, reimplemented plainly below, does per request what
 * tce_iommu_register_pages and mm_iommu_do_alloc
 * (drivers/vfio/vfio_iommu_spapr_tce.c, arch/powerpc/mm/book3s64/iommu_api.c)
 * do, in this process:
 *   - one real system call (an ioctl on an eventfd), standing for the
 *     kernel's entry, exit and argument copy;
 *   - REGISTER: mm_iommu_get (under the list mutex, a walk of the mm's
 *     region list for an exact match, none here); the locked_vm charge (an
 *     atomic add); the region and its hpas[] array allocated (calloc);
 *     the pages pinned with emu_mem_pin, the same pinning our registration
 *     does (standing for get_user_pages), and hpas[] filled from it; then
 *     under the mutex the overlap walk of the whole list and list_add at its
 *     head; then the container's prereg entry allocated and added to its
 *     list;
 *   - UNREGISTER: mm_iommu_get (a list walk to the region), the walk of the
 *     container's prereg list to its entry, that entry freed, then
 *     mm_iommu_put under the mutex (used, the mapped 1 -> 0 exchange,
 *     list_del), the uncharge, and the unpin and frees that the kernel
 *     defers to an RCU callback (done at once here: the cost is the same).
 * Not included: the mmap_lock the kernel takes around the charge and the
 * pinning, and its vmalloc of hpas[] (calloc here), so the baseline is if
 * anything cheaper than the kernel.
 *
 * The memory is faulted in before either side runs, so both pin the same
 * resident pages.  Our figures are the best of 3 runs (argument 1: another
 * count); the baseline, quadratic, takes about a minute and runs once,
 * after our first run.  Argument 2 "ours" skips it (for profiling).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench/bench_util.h"
#include "emu/mem.h"
#include "spapr/spapr.h"

#define PS EMU_PAGE_SIZE
#define N 32768u
#define CHUNK 1024u
#define NCHUNKS (N / CHUNK)

/* ------------------------------------------------ the kernel's algorithm */

/* A kernel list_head, simplified: a NULL-terminated doubly linked list. */
struct klink {
	struct klink *next, *prev;
};

static void klist_add(struct klink **head, struct klink *n)
{
	n->prev = NULL;
	n->next = *head;
	if (*head)
		(*head)->prev = n;
	*head = n;
}

static void klist_del(struct klink **head, struct klink *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		*head = n->next;
	if (n->next)
		n->next->prev = n->prev;
}

struct kmem {				/* mm_iommu_table_group_mem_t */
	struct klink link;		/* first: mm->context.iommu_group_mem_list */
	uint64_t ua, entries, used, mapped;
	uint64_t *hpas;
	struct emu_pin *pin;
};

struct kprereg {			/* tce_iommu_prereg */
	struct klink link;		/* first: container->prereg_list */
	struct kmem *mem;
};

static struct klink *kmem_list, *kprereg_list;
static pthread_mutex_t kmem_mutex = PTHREAD_MUTEX_INITIALIZER;
static uint64_t klocked_vm;

/* The kernel's entry and exit: one real system call. */
static void kernel_syscall(void)
{
	bench_syscall();
}

static struct kmem *kernel_mm_iommu_get(uint64_t ua, uint64_t entries)
{
	struct kmem *m, *ret = NULL;

	pthread_mutex_lock(&kmem_mutex);
	for (m = (struct kmem *)kmem_list; m; m = (struct kmem *)m->link.next)
		if (m->ua == ua && m->entries == entries) {
			m->used++;
			ret = m;
			break;
		}
	pthread_mutex_unlock(&kmem_mutex);
	return ret;
}

static int kernel_register(uint64_t ua, uint64_t size)
{
	uint64_t entries = size / PS;
	struct kmem *m, *m2;
	struct kprereg *t;

	kernel_syscall();
	if (kernel_mm_iommu_get(ua, entries))
		return -EBUSY;	/* (the prereg walk would follow; never here) */
	__atomic_add_fetch(&klocked_vm, entries, __ATOMIC_RELAXED);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->hpas = calloc(entries, sizeof(uint64_t));
	if (!m->hpas || emu_mem_pin(ua, entries, &m->pin))
		bench_die("kernel baseline pin", ENOMEM);
	emu_pin_hpas(m->pin, ua, entries, EMU_PAGE_SHIFT, m->hpas);
	m->ua = ua;
	m->entries = entries;
	m->used = 1;
	m->mapped = 1;
	pthread_mutex_lock(&kmem_mutex);
	for (m2 = (struct kmem *)kmem_list; m2; m2 = (struct kmem *)m2->link.next)
		if (m2->ua < ua + size && ua < m2->ua + m2->entries * PS) {
			pthread_mutex_unlock(&kmem_mutex);
			bench_die("kernel baseline overlap", EINVAL);
		}
	klist_add(&kmem_list, &m->link);
	pthread_mutex_unlock(&kmem_mutex);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->mem = m;
	klist_add(&kprereg_list, &t->link);
	return 0;
}

static void kernel_mm_iommu_put(struct kmem *m)
{
	pthread_mutex_lock(&kmem_mutex);
	if (--m->used) {
		pthread_mutex_unlock(&kmem_mutex);
		return;
	}
	if (!__atomic_compare_exchange_n(&m->mapped, &(uint64_t){ 1 }, 0, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		bench_die("kernel baseline mapped", EBUSY);
	klist_del(&kmem_list, &m->link);
	pthread_mutex_unlock(&kmem_mutex);
	__atomic_sub_fetch(&klocked_vm, m->entries, __ATOMIC_RELAXED);
	emu_mem_unpin(m->pin);
	free(m->hpas);
	free(m);
}

static int kernel_unregister(uint64_t ua, uint64_t size)
{
	struct kmem *m;
	struct kprereg *t;

	kernel_syscall();
	m = kernel_mm_iommu_get(ua, size / PS);
	if (!m)
		return -ENOENT;
	for (t = (struct kprereg *)kprereg_list; t && t->mem != m; t = (struct kprereg *)t->link.next)
		;
	if (!t)
		bench_die("kernel baseline prereg", ENOENT);
	/* tce_iommu_prereg_free: its own put, then the entry goes. */
	kernel_mm_iommu_put(m);
	klist_del(&kprereg_list, &t->link);
	free(t);
	kernel_mm_iommu_put(m);
	return 0;
}

/* ------------------------------------------------------------------ ours */

static uint8_t *mem;
static uint32_t order[N];
static int cfd, gfd;

static int ours_register(uint64_t ua, uint64_t size)
{
	struct vfio_iommu_spapr_register_memory r = { .argsz = sizeof(r), .vaddr = ua, .size = size };

	return spapr_ioctl(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r) ? -errno : 0;
}

static int ours_unregister(uint64_t ua, uint64_t size)
{
	struct vfio_iommu_spapr_register_memory r = { .argsz = sizeof(r), .vaddr = ua, .size = size };

	return spapr_ioctl(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r) ? -errno : 0;
}

static void container_close(void)
{
	if (spapr_close(gfd) || spapr_close(cfd))
		bench_die("close", errno);
}

/*
 * Runs @op on the N pages in the order @ord (NULL: ascending); chunk[c] gets
 * the time of the c-th 1,024 requests.  Returns the total.
 */
static double run(int (*op)(uint64_t, uint64_t), const uint32_t *ord, double *chunk, const char *what)
{
	double total = 0;

	for (unsigned c = 0; c < NCHUNKS; c++) {
		double t0 = bench_now();

		for (unsigned i = c * CHUNK; i < (c + 1) * CHUNK; i++) {
			uint64_t k = ord ? ord[i] : i;
			int rc = op((uintptr_t)mem + k * PS, PS);

			if (rc)
				bench_die(what, rc);
		}
		chunk[c] = bench_now() - t0;
		total += chunk[c];
	}
	return total;
}

struct figures {
	double total, first, last;
};

static void keep_best(struct figures *f, double total, const double *chunk)
{
	f->total = bench_min(f->total, total);
	f->first = bench_min(f->first, chunk[0]);
	f->last = bench_min(f->last, chunk[NCHUNKS - 1]);
}

static void report(const char *op, const struct figures *ours, const struct figures *kern)
{
	char name[96], base[160];
	double r = kern->total / ours->total;

	snprintf(name, sizeof(name), "%s of 32,768 x 4 KiB, total", op);
	snprintf(base, sizeof(base), "kernel algorithm %.3f s (ratio = kernel / ours)", kern->total);
	bench_report(name, ours->total, "s", base, r, ">= 10", r >= 10);
	snprintf(name, sizeof(name), "%s, last 1,024 vs first 1,024", op);
	snprintf(base, sizeof(base), "first 1,024 %.2f ms (kernel: last/first %.1f)",
		 ours->first * 1e3, kern->last / kern->first);
	r = ours->last / ours->first;
	bench_report(name, ours->last * 1e3, "ms", base, r, "<= 1.5", r <= 1.5);
}

int main(int argc, char **argv)
{
	struct figures oreg = { 1e9, 1e9, 1e9 }, ounreg = oreg, kreg = oreg, kunreg = oreg;
	double chunk[NCHUNKS], t0 = bench_now();
	int reps = argc > 1 ? atoi(argv[1]) : 3;
	bool ours_only = argc > 2 && !strcmp(argv[2], "ours");	/* for profiling */
	uint64_t x = 0x2545f4914f6cdd1dull;

	if (spapr_mm_set_memlock(UINT64_MAX, 1))
		bench_die("spapr_mm_set_memlock", errno);
	mem = mmap(NULL, (uint64_t)N * PS, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		bench_die("setup", errno);
	for (unsigned i = 0; i < N; i++)
		order[i] = i;
	for (unsigned i = N - 1; i > 0; i--) {
		uint32_t j, t;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		j = (uint32_t)(x % (i + 1));
		t = order[i], order[i] = order[j], order[j] = t;
	}
	bench_title("registry: REGISTER / UNREGISTER of 32,768 regions of 4 KiB");
	for (int rep = 0; rep < reps; rep++) {
		double t;

		bench_container_v2(0, &cfd, &gfd);
		t = run(ours_register, NULL, chunk, "REGISTER");
		keep_best(&oreg, t, chunk);
		t = run(ours_unregister, order, chunk, "UNREGISTER");
		keep_best(&ounreg, t, chunk);
		container_close();
		if (spapr_mm_locked_vm())
			bench_die("locked_vm left after close", EBUSY);

		/* The baseline takes about a minute: once per run (its spread: see docs/bench.md). */
		if (ours_only || rep)
			continue;
		t = run(kernel_register, NULL, chunk, "kernel REGISTER");
		keep_best(&kreg, t, chunk);
		t = run(kernel_unregister, order, chunk, "kernel UNREGISTER");
		keep_best(&kunreg, t, chunk);
		if (kmem_list || kprereg_list || klocked_vm)
			bench_die("kernel baseline left regions", EBUSY);
	}
	report("REGISTER", &oreg, &kreg);
	report("UNREGISTER (random order)", &ounreg, &kunreg);
	printf("bench_registry: %.1f s\n", bench_now() - t0);
	munmap(mem, (uint64_t)N * PS);
	return 0;
}
