/* SPDX-License-Identifier: MIT */
/*
 * The per-process mm and its locked_vm accounting (the kernel's account_locked_vm).
 *
 * "Current" is tracked with a fork generation rather than getpid(): glibc no
 * longer caches the pid, and this is called on every request.  The fork
 * registry's child hook (util/lock.h) bumps the generation, so the first
 * call in a child creates the child's own mm (empty registry, locked_vm 0),
 * inheriting the parent's emulated RLIMIT_MEMLOCK and CAP_IPC_LOCK; the
 * parent's mm is left alone in the child (its release would touch the
 * parent's pins and locks).
 *
 * Charges use a compare-and-swap loop on locked_vm instead of a lock: the
 * kernel holds the mmap write lock only to make check-and-add atomic.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "emu/quirk.h"
#include "mmreg/mmreg_priv.h"
#include "util/fail.h"
#include "util/lock.h"

static pthread_mutex_t mm_current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mmreg_mm *mm_current;	/* holds one reference (in the process that made it) */
static unsigned mm_generation;

static void mm_atfork_child(void)
{
	mm_generation++;
}

UTIL_FORK_LOCK(mm_fork, .rank = UTIL_RANK_MM_CURRENT, .name = "mm_current_lock",
	       .mutex = &mm_current_lock, .child = mm_atfork_child)

static uint64_t real_memlock(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	return rl.rlim_cur;
}

static bool real_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32));
}

static int mm_create(const struct mmreg_mm *inherit, struct mmreg_mm **out)
{
	struct mmreg_mm *mm;

	if (util_should_fail("mmreg_mm_alloc"))
		return -ENOMEM;
	mm = calloc(1, sizeof(*mm));
	if (!mm)
		return -ENOMEM;
	mm->refs = 1;
	mm->generation = mm_generation;
	pthread_mutex_init(&mm->lock, NULL);
	if (inherit) {
		mm->memlock_limit = __atomic_load_n(&inherit->memlock_limit, __ATOMIC_RELAXED);
		mm->cap_ipc_lock = __atomic_load_n(&inherit->cap_ipc_lock, __ATOMIC_RELAXED);
	} else {
		mm->memlock_limit = real_memlock();
		mm->cap_ipc_lock = real_cap_ipc_lock();
	}
	*out = mm;
	return 0;
}

int mmreg_mm_current(struct mmreg_mm **out)
{
	int rc = 0;

	pthread_mutex_lock(&mm_current_lock);
	if (!mm_current || mm_current->generation != __atomic_load_n(&mm_generation, __ATOMIC_RELAXED)) {
		struct mmreg_mm *mm;

		rc = mm_create(mm_current, &mm);
		if (rc)
			goto out_unlock;
		/*
		 * The parent's mm (another generation) is not ours to put: its
		 * reference and whatever else points to it are the parent's,
		 * and its release would unpin the parent's pins.  Left as is.
		 */
		__atomic_store_n(&mm_current, mm, __ATOMIC_RELEASE);
	}
	*out = mmreg_mm_get(mm_current);
out_unlock:
	pthread_mutex_unlock(&mm_current_lock);
	return rc;
}

bool mmreg_mm_is_current(const struct mmreg_mm *mm)
{
	return mm->generation == __atomic_load_n(&mm_generation, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&mm_current, __ATOMIC_RELAXED) == mm;
}

struct mmreg_mm *mmreg_mm_get(struct mmreg_mm *mm)
{
	__atomic_add_fetch(&mm->refs, 1, __ATOMIC_RELAXED);
	return mm;
}

void mmreg_mm_put(struct mmreg_mm *mm)
{
	struct mmreg_region *r, *next;

	if (__atomic_sub_fetch(&mm->refs, 1, __ATOMIC_ACQ_REL))
		return;
	/* Nobody can reach the mm any more: no lock, no reader to wait for. */
	for (r = mm->regions; r; r = next) {
		next = r->next;
		mmreg__region_free(mm, r);
	}
	mmreg__registry_destroy(mm);
	pthread_mutex_destroy(&mm->lock);
	free(mm);
}

/*
 * A charge refused by the memlock limit is the one ENOMEM a user cannot tell
 * from the errno alone (table memory, allocations and wrapping give it too):
 * when the request log is on (SPAPRTCE_LOG, docs/environment.md), say so
 * once per process on stderr, with what to change.
 */
static void say_memlock_once(uint64_t locked, uint64_t npages, uint64_t limit)
{
	static int said;

	if (!getenv("SPAPRTCE_LOG") || __atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		return;
	fprintf(stderr,
		"spaprtce: ENOMEM from RLIMIT_MEMLOCK: locked_vm %llu + %llu pages > limit %llu pages"
		" (raise the limit, run with CAP_IPC_LOCK, or set SPAPRTCE_MEMLOCK)\n",
		(unsigned long long)locked, (unsigned long long)npages, (unsigned long long)limit);
}

int mmreg_mm_charge(struct mmreg_mm *mm, uint64_t npages)
{
	uint64_t old, new, limit;
	bool cap;

	if (!npages)
		return 0;
	if (util_should_fail("mmreg_charge"))
		return -ENOMEM;
	limit = __atomic_load_n(&mm->memlock_limit, __ATOMIC_RELAXED) >> EMU_PAGE_SHIFT;
	cap = __atomic_load_n(&mm->cap_ipc_lock, __ATOMIC_RELAXED);
	old = __atomic_load_n(&mm->locked_vm, __ATOMIC_RELAXED);
	do {
		/* Q11 under quirks=kernel: __account_locked_vm's sum wraps as unsigned long does. */
		if (__builtin_add_overflow(old, npages, &new) && !emu__quirk(EMU_Q11))
			return -ENOMEM;
		if (!cap && new > limit) {
			say_memlock_once(old, npages, limit);
			return -ENOMEM;
		}
	} while (!__atomic_compare_exchange_n(&mm->locked_vm, &old, new, false, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return 0;
}

void mmreg_mm_uncharge(struct mmreg_mm *mm, uint64_t npages)
{
	uint64_t old = __atomic_load_n(&mm->locked_vm, __ATOMIC_RELAXED), new;

	if (!npages)
		return;
	bool wrap = emu__quirk(EMU_Q11);

	/*
	 * Q11: the kernel's __account_locked_vm warns once and subtracts, so
	 * locked_vm wraps below 0 (quirks=kernel); we clamp at 0.  Both count
	 * it: it is a bookkeeping bug somewhere.
	 */
	do {
		new = old >= npages || wrap ? old - npages : 0;
	} while (!__atomic_compare_exchange_n(&mm->locked_vm, &old, new, false, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	if (old < npages && !__atomic_fetch_add(&mm->uncharge_clamps, 1, __ATOMIC_RELAXED))
		fprintf(stderr, "mmreg: uncharge of %llu pages with locked_vm %llu, %s\n",
			(unsigned long long)npages, (unsigned long long)old,
			wrap ? "wrapped (quirks=kernel)" : "clamped at 0");
}

uint64_t mmreg_mm_locked_vm(const struct mmreg_mm *mm)
{
	return __atomic_load_n(&mm->locked_vm, __ATOMIC_RELAXED);
}

uint64_t mmreg_mm_uncharge_clamps(const struct mmreg_mm *mm)
{
	return __atomic_load_n(&mm->uncharge_clamps, __ATOMIC_RELAXED);
}

void mmreg_mm_set_memlock(struct mmreg_mm *mm, uint64_t limit_bytes, bool cap_ipc_lock)
{
	__atomic_store_n(&mm->memlock_limit, limit_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&mm->cap_ipc_lock, cap_ipc_lock, __ATOMIC_RELAXED);
}

void mmreg_mm_get_memlock(const struct mmreg_mm *mm, uint64_t *limit_bytes, bool *cap_ipc_lock)
{
	*limit_bytes = __atomic_load_n(&mm->memlock_limit, __ATOMIC_RELAXED);
	*cap_ipc_lock = __atomic_load_n(&mm->cap_ipc_lock, __ATOMIC_RELAXED);
}

void mmreg_mm_get_stats(struct mmreg_mm *mm, struct mmreg_mm_stats *st)
{
	pthread_mutex_lock(&mm->lock);
	st->regions = mm->nregions;
	st->dev_regions = mm->ndev;
	st->registered_pages = mm->registered_pages;
	st->meta_bytes = mm->region_bytes + mm->nnodes * sizeof(struct mmreg_node);
	pthread_mutex_unlock(&mm->lock);
	st->locked_vm = mmreg_mm_locked_vm(mm);
}
