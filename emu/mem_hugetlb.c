/* SPDX-License-Identifier: MIT */
/*
 * The host's hugetlbfs pool (/sys/kernel/mm/hugepages): making huge pages
 * free for guest memory, and giving the pool back its size.
 *
 * Why here: the demo, the replay engine and the tests all back guest RAM
 * with 2 MiB pages when they can; reserving them is a property of the
 * host's memory, and one implementation keeps "restore what you changed"
 * in one place.
 *
 * This is the one piece of host-global state the library changes, so two
 * rules hold:
 *   Bounded.  One reserve raises a pool by at most EMU_HUGETLB_MAX_RAISE
 *   bytes and by at most half of MemAvailable (/proc/meminfo): an untrusted
 *   trace cannot take the host's memory.  Above either bound the reserve
 *   changes nothing and fails.
 *   Restored on every exit path.  The first raise of a pool records its
 *   original size (with the owning pid: a forked child never restores its
 *   parent's pool), and from then on: emu_mem_hugetlb_restore puts it back;
 *   exit() and a return from main do through an atexit handler; the fatal
 *   signals SIGSEGV, SIGBUS, SIGABRT, SIGTERM, SIGINT, SIGHUP and SIGQUIT
 *   do through a handler that uses only async-signal-safe calls
 *   (open/write/close of a path and a number formatted in advance), then
 *   calls the handler the program had installed before, or restores the
 *   previous disposition and re-raises the signal so that the process dies
 *   of it as it would have.  A signal the program ignored is left ignored.
 *   SIGKILL and _exit() cannot be caught: documented in docs/emu.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu/mem.h"
#include "util/lock.h"

#define POOL_SLOTS 4u
#define PATH_LEN 96u

/*
 * A raised pool: where to write what to give it its size back.  Filled
 * before @armed is set (release), read by the signal handler after it
 * (acquire); under pool_lock otherwise.
 */
struct pool_rec {
	int armed;
	pid_t owner;
	unsigned shift;
	long orig;
	char path[PATH_LEN];
	char value[24];
	size_t value_len;
};

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGTERM, SIGINT, SIGHUP, SIGQUIT };
#define NFATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pool_rec pools[POOL_SLOTS];
static struct sigaction old_actions[NFATAL];
static bool guards_installed;

/* Held across fork() (util/lock.h); the child's records are the parent's (owner pid). */
UTIL_FORK_LOCK(pool_fork, .rank = UTIL_RANK_EMU_HUGETLB, .name = "emu pool_lock",
	       .mutex = &pool_lock)

static int pool_path(char *buf, size_t n, unsigned shift, const char *file)
{
	int len = snprintf(buf, n, "/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
			   (unsigned long long)(1ull << (shift - 10)), file);

	return len > 0 && (size_t)len < n ? 0 : -EINVAL;
}

static long read_long(unsigned shift, const char *file)
{
	char path[PATH_LEN];
	long v = -1;
	FILE *f;

	if (pool_path(path, sizeof(path), shift, file))
		return -1;
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_long(unsigned shift, const char *file, long v)
{
	char path[PATH_LEN];
	FILE *f;
	int bad;

	if (pool_path(path, sizeof(path), shift, file))
		return -EINVAL;
	f = fopen(path, "we");
	if (!f)
		return -EPERM;
	bad = fprintf(f, "%ld\n", v) < 0;
	bad |= fclose(f);
	return bad ? -EPERM : 0;
}

/* MemAvailable from /proc/meminfo in bytes; 0 when unreadable. */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

/* ------------------------------------------------- restoring on every exit */

/* Async-signal-safe: gives every pool this process raised its size back. */
static void restore_all_raw(void)
{
	pid_t self = getpid();
	unsigned i;

	for (i = 0; i < POOL_SLOTS; i++) {
		struct pool_rec *p = &pools[i];
		int fd;

		if (!__atomic_load_n(&p->armed, __ATOMIC_ACQUIRE) || p->owner != self)
			continue;
		fd = open(p->path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t w = write(fd, p->value, p->value_len);

			(void)w;
			close(fd);
		}
		__atomic_store_n(&p->armed, 0, __ATOMIC_RELEASE);
	}
}

/* No lock: exit() may run while another thread holds pool_lock. */
static void on_exit_restore(void)
{
	restore_all_raw();
}

static void on_fatal_signal(int sig, siginfo_t *info, void *uctx)
{
	int saved = errno;
	unsigned i;

	restore_all_raw();
	for (i = 0; i < NFATAL && fatal_signals[i] != sig; i++)
		;
	if (i < NFATAL) {
		const struct sigaction *old = &old_actions[i];

		if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
			old->sa_sigaction(sig, info, uctx);
			errno = saved;
			return;
		}
		if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler != SIG_DFL &&
		    old->sa_handler != SIG_IGN) {
			old->sa_handler(sig);
			errno = saved;
			return;
		}
		/* The default action: die of the signal, as without us. */
		sigaction(sig, old, NULL);
	} else {
		signal(sig, SIG_DFL);
	}
	raise(sig);
	errno = saved;
}

/* Once per process, under pool_lock: atexit and the fatal-signal handlers. */
static void install_guards(void)
{
	struct sigaction sa;
	unsigned i;

	if (guards_installed)
		return;
	guards_installed = true;
	atexit(on_exit_restore);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NFATAL; i++) {
		if (sigaction(fatal_signals[i], NULL, &old_actions[i]))
			continue;
		if (!(old_actions[i].sa_flags & SA_SIGINFO) && old_actions[i].sa_handler == SIG_IGN)
			continue;	/* ignored: it cannot kill the process */
		sigaction(fatal_signals[i], &sa, NULL);
	}
}

/* Records that the pool of @shift had @orig pages before this process raised it. */
static void record_raise(unsigned shift, long orig)
{
	struct pool_rec *free_slot = NULL;
	pid_t self = getpid();
	unsigned i;
	int n;

	for (i = 0; i < POOL_SLOTS; i++) {
		struct pool_rec *p = &pools[i];

		if (p->armed && p->owner == self && p->shift == shift)
			return;		/* raised again: the first size is the one to restore */
		if (!free_slot && (!p->armed || p->owner != self))
			free_slot = p;
	}
	if (!free_slot)
		return;		/* more pool sizes than slots: the caller still restores */
	__atomic_store_n(&free_slot->armed, 0, __ATOMIC_RELEASE);
	free_slot->owner = self;
	free_slot->shift = shift;
	free_slot->orig = orig;
	if (pool_path(free_slot->path, sizeof(free_slot->path), shift, "nr_hugepages"))
		return;
	n = snprintf(free_slot->value, sizeof(free_slot->value), "%ld\n", orig);
	free_slot->value_len = (size_t)n;
	install_guards();
	__atomic_store_n(&free_slot->armed, 1, __ATOMIC_RELEASE);
}

/* The pool of @shift is back at @size: forget it when that is its original size. */
static void record_restore(unsigned shift, long size)
{
	pid_t self = getpid();
	unsigned i;

	for (i = 0; i < POOL_SLOTS; i++) {
		struct pool_rec *p = &pools[i];

		if (p->armed && p->owner == self && p->shift == shift && p->orig == size)
			__atomic_store_n(&p->armed, 0, __ATOMIC_RELEASE);
	}
}

/* ------------------------------------------------------------------ public */

int emu_mem_hugetlb_reserve(unsigned shift, uint64_t pages, long *prev)
{
	long nr, free_now;
	uint64_t raise, avail;
	int rc = 0;

	*prev = -1;
	if (shift <= EMU_PAGE_SHIFT || shift >= 40)
		return -EINVAL;
	pthread_mutex_lock(&pool_lock);
	nr = read_long(shift, "nr_hugepages");
	free_now = read_long(shift, "free_hugepages");
	if (nr < 0 || free_now < 0) {
		rc = -ENOENT;
		goto out;
	}
	if ((uint64_t)free_now >= pages)
		goto out;
	raise = pages - (uint64_t)free_now;
	if (raise > (EMU_HUGETLB_MAX_RAISE >> shift)) {
		rc = -E2BIG;
		goto out;
	}
	avail = mem_available();
	if (raise > (avail / 2) >> shift) {
		rc = -ENOMEM;
		goto out;
	}
	/* Armed before the write: a signal right after it must find the record. */
	record_raise(shift, nr);
	if (write_long(shift, "nr_hugepages", nr + (long)raise)) {
		record_restore(shift, nr);
		rc = -EPERM;
		goto out;
	}
	*prev = nr;
	if (read_long(shift, "free_hugepages") < (long)pages) {
		write_long(shift, "nr_hugepages", nr);
		record_restore(shift, nr);
		*prev = -1;
		rc = -ENOMEM;
	}
out:
	pthread_mutex_unlock(&pool_lock);
	return rc;
}

void emu_mem_hugetlb_restore(unsigned shift, long prev)
{
	if (prev < 0 || shift <= EMU_PAGE_SHIFT || shift >= 40)
		return;
	pthread_mutex_lock(&pool_lock);
	write_long(shift, "nr_hugepages", prev);
	record_restore(shift, prev);
	pthread_mutex_unlock(&pool_lock);
}
