/* SPDX-License-Identifier: MIT */
/*
 * The machine: its configuration (default, emu_machine_configure, the
 * SPAPRTCE_MACHINE environment variable), the lazy start that allocates the
 * endpoints, reset, group info, stats, fork handling and the invariant
 * checker.
 *
 * Why a lazy start: the fixed contract (docs/design.md) has no "create
 * the machine" call; the first use creates it, and the configuration may
 * only change before that, like a machine's firmware tables before boot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/dev.h"
#include "emu/mem.h"
#include "emu/phb_priv.h"
#include "emu/quirk.h"
#include "util/fail.h"
#include "util/lock.h"
#include "util/range.h"

#define GiB (1ull << 30)
#define DEFAULT_PGSIZES ((1ull << 12) | (1ull << 16) | (1ull << 21) | (1ull << 30))
#define PGSIZES_VALID (((1ull << 46) - 1) & ~((1ull << 12) - 1))

struct emu__machine emu__machine;

/* Protects emu__machine's start, configuration and reset. */
static pthread_mutex_t machine_lock = PTHREAD_MUTEX_INITIALIZER;
static bool machine_configured;
static bool abort_on_unpinned = true;

void emu_machine_config_default(struct emu_machine_config *c)
{
	memset(c, 0, sizeof(*c));
	c->groups = 4;
	c->pgsizes = DEFAULT_PGSIZES;
	c->tce32_start = 0;
	c->tce32_size = 2 * GiB;
	c->slot1_start = 1ull << 59;
	c->max_windows = 2;
	c->max_levels = 5;
	c->ddw = true;
	c->tce_cache = 64;
	c->fault_ring = 64;
	c->node = 0;
	c->eeh = true;
}

/* Prints why @c is invalid when @who is non-NULL.  Returns 0 or -EINVAL. */
static int config_valid(const struct emu_machine_config *c, const char *who)
{
	const char *why = NULL;
	uint64_t end;

	if (c->groups < 1 || c->groups > EMU_MAX_GROUPS)
		why = "groups must be 1 ... 256";
	else if (!c->pgsizes || (c->pgsizes & ~PGSIZES_VALID))
		why = "pgsizes must be a non-empty set of bits 12 ... 45";
	else if (!c->tce32_size || !util_is_aligned(c->tce32_size, EMU_PAGE_SHIFT) ||
		 !util_is_aligned(c->tce32_start, EMU_PAGE_SHIFT) ||
		 !util_range_end(c->tce32_start, c->tce32_size, &end))
		why = "tce32 window empty, not 4 KiB aligned or wrapping";
	else if (!util_is_aligned(c->slot1_start, EMU_PAGE_SHIFT) || end > c->slot1_start)
		why = "slot1_start not 4 KiB aligned, or inside the tce32 window";
	else if (c->max_windows < 1 || c->max_windows > EMU_MAX_WINDOWS)
		why = "windows must be 1 or 2";
	else if (c->max_levels < 1 || c->max_levels > EMU_MAX_LEVELS)
		why = "levels must be 1 ... 5";
	else if (!util_is_pow2(c->tce_cache) || c->tce_cache > EMU_MAX_TCE_CACHE)
		why = "tce_cache must be a power of two <= 65536";
	else if (c->fault_ring < 1 || c->fault_ring > EMU_MAX_FAULT_RING)
		why = "fault_ring must be 1 ... 65536";
	else if (!emu_mem_node_exists(c->node))
		why = "node does not exist";
	else if (c->quirks != EMU_QUIRKS_FIXED && c->quirks != EMU_QUIRKS_KERNEL)
		why = "quirks must be EMU_QUIRKS_FIXED or EMU_QUIRKS_KERNEL";
	if (!why)
		return 0;
	if (who)
		fprintf(stderr, "%s: %s\n", who, why);
	return -EINVAL;
}

int emu_machine_configure(const struct emu_machine_config *c)
{
	int rc;

	pthread_mutex_lock(&machine_lock);
	rc = -EBUSY;
	if (emu__machine.started)
		goto out_unlock;
	rc = config_valid(c, NULL);
	if (rc)
		goto out_unlock;
	emu__machine.cfg = *c;
	__atomic_store_n(&emu__machine.quirks, c->quirks, __ATOMIC_RELEASE);
	machine_configured = true;
out_unlock:
	pthread_mutex_unlock(&machine_lock);
	return rc;
}

/* Parses one number of the variable; false when it is not one. */
static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

/*
 * Applies SPAPRTCE_MACHINE on top of *c.  All or nothing: any bad key or
 * value, or an invalid result, is reported and leaves *c as it was.
 */
static void apply_env(struct emu_machine_config *c)
{
	const char *env = getenv("SPAPRTCE_MACHINE");
	struct emu_machine_config n = *c;
	char *copy, *tok, *save = NULL;
	bool bad = false;

	if (!env || !*env)
		return;
	copy = strdup(env);
	if (!copy) {
		fprintf(stderr, "SPAPRTCE_MACHINE: out of memory, ignored\n");
		return;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint64_t v;

		/* devG=MODEL[:KEY=VAL...]: the device of group G (emu/dev.c). */
		if (eq && !strncmp(tok, "dev", 3)) {
			*eq = 0;
			if (parse_u64(tok + 3, &v)) {
				if (v >= EMU_MAX_GROUPS || emu__dev_spec_check(eq + 1) ||
				    emu__dev_spec_stage((unsigned)v, eq + 1)) {
					fprintf(stderr, "SPAPRTCE_MACHINE: bad device item \"%s=%s\"\n",
						tok, eq + 1);
					bad = true;
				}
				continue;
			}
			*eq = '=';
		}
		/* quirks=fixed|kernel: the only key whose value is a word. */
		if (eq && !strncmp(tok, "quirks=", 7)) {
			if (!strcmp(eq + 1, "fixed"))
				n.quirks = EMU_QUIRKS_FIXED;
			else if (!strcmp(eq + 1, "kernel"))
				n.quirks = EMU_QUIRKS_KERNEL;
			else {
				fprintf(stderr, "SPAPRTCE_MACHINE: quirks must be fixed or kernel, not \"%s\"\n",
					eq + 1);
				bad = true;
			}
			continue;
		}
		if (!eq || !parse_u64(eq + 1, &v)) {
			fprintf(stderr, "SPAPRTCE_MACHINE: bad item \"%s\"\n", tok);
			bad = true;
			continue;
		}
		*eq = 0;
		if (!strcmp(tok, "groups") && v <= EMU_MAX_GROUPS)
			n.groups = (unsigned)v;
		else if (!strcmp(tok, "pgsizes"))
			n.pgsizes = v;
		else if (!strcmp(tok, "tce32_start"))
			n.tce32_start = v;
		else if (!strcmp(tok, "tce32_size"))
			n.tce32_size = v;
		else if (!strcmp(tok, "slot1_start"))
			n.slot1_start = v;
		else if (!strcmp(tok, "windows") && v <= EMU_MAX_WINDOWS)
			n.max_windows = (unsigned)v;
		else if (!strcmp(tok, "levels") && v <= EMU_MAX_LEVELS)
			n.max_levels = (unsigned)v;
		else if (!strcmp(tok, "ddw") && v <= 1)
			n.ddw = v;
		else if (!strcmp(tok, "tce_cache") && v <= EMU_MAX_TCE_CACHE)
			n.tce_cache = (unsigned)v;
		else if (!strcmp(tok, "fault_ring") && v <= EMU_MAX_FAULT_RING)
			n.fault_ring = (unsigned)v;
		else if (!strcmp(tok, "eeh") && v <= 1)
			n.eeh = v;
		else if (!strcmp(tok, "node") && v < 4096)
			n.node = (int)v;
		else {
			fprintf(stderr, "SPAPRTCE_MACHINE: unknown key or value out of range \"%s=%s\"\n",
				tok, eq + 1);
			bad = true;
		}
	}
	free(copy);
	if (!bad && config_valid(&n, "SPAPRTCE_MACHINE"))
		bad = true;
	if (bad) {
		fprintf(stderr, "SPAPRTCE_MACHINE ignored: the machine keeps its configuration\n");
		emu__dev_spec_discard();
		return;
	}
	emu__dev_spec_commit();
	*c = n;
}

/* ------------------------------------------------------------------- fork */

/*
 * The machine lock, then every endpoint's locks (util/lock.h ranks: the
 * device table's lock comes between them).  An endpoint's rw is held for
 * reading: that excludes window programming, kills and dirty-log changes,
 * and whatever a DMA changes is under ep->lock or emu/mem's locks, also
 * held.  A DMA in flight at fork() is seen half done by the child, as its
 * memory is.
 */
static void ep_atfork_prepare(void)
{
	unsigned g;

	if (!emu__machine.started)
		return;
	for (g = 0; g < emu__machine.cfg.groups; g++) {
		pthread_rwlock_rdlock(&emu__machine.ep[g].rw);
		pthread_mutex_lock(&emu__machine.ep[g].lock);
	}
}

static void ep_atfork_parent(void)
{
	unsigned g;

	if (!emu__machine.started)
		return;
	for (g = emu__machine.cfg.groups; g-- > 0;) {
		pthread_mutex_unlock(&emu__machine.ep[g].lock);
		pthread_rwlock_unlock(&emu__machine.ep[g].rw);
	}
}

UTIL_FORK_LOCK(machine_fork, .rank = UTIL_RANK_EMU_MACHINE, .name = "emu machine_lock",
	       .mutex = &machine_lock)
UTIL_FORK_LOCK(ep_fork, .rank = UTIL_RANK_EMU_EP, .name = "emu endpoints",
	       .prepare = ep_atfork_prepare, .parent = ep_atfork_parent)

static void ep_locks_init(struct emu__endpoint *ep)
{
	pthread_rwlockattr_t a;

	/* Writer-preferring, so that a kill is not starved by a stream of DMAs. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ep->rw, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&ep->lock, NULL);
}


/* ------------------------------------------------------------ start/reset */

static void ep_free(struct emu__endpoint *ep)
{
	free(ep->ring);
	free(ep->cache);
	pthread_mutex_destroy(&ep->lock);
	pthread_rwlock_destroy(&ep->rw);
}

static int ep_init(struct emu__endpoint *ep, const struct emu_machine_config *c)
{
	int rc = -ENOMEM;

	ep->cache_ways = c->tce_cache < EMU__CACHE_WAYS ? c->tce_cache : EMU__CACHE_WAYS;
	ep->cache_sets = c->tce_cache / ep->cache_ways;
	if (util_should_fail("emu_cache_alloc"))
		return rc;
	ep->cache = calloc(c->tce_cache, sizeof(*ep->cache));
	if (!ep->cache)
		return rc;
	if (util_should_fail("emu_fault_ring_alloc"))
		goto err_free_cache;
	ep->ring = calloc(c->fault_ring, sizeof(*ep->ring));
	if (!ep->ring)
		goto err_free_cache;
	ep_locks_init(ep);
	return 0;

err_free_cache:
	free(ep->cache);
	ep->cache = NULL;
	return rc;
}

static int start_locked(void)
{
	struct emu_machine_config c;
	struct emu__endpoint *ep;
	unsigned g;
	int rc;

	if (emu__machine.started)
		return 0;
	if (!machine_configured)
		emu_machine_config_default(&c);
	else
		c = emu__machine.cfg;
	apply_env(&c);
	if (util_should_fail("emu_machine_alloc"))
		return -ENOMEM;
	ep = calloc(c.groups, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	for (g = 0; g < c.groups; g++) {
		rc = ep_init(&ep[g], &c);
		if (rc)
			goto err_free_eps;
	}
	(void)emu_mem_set_node(c.node);	/* checked by config_valid */
	emu__machine.cfg = c;
	__atomic_store_n(&emu__machine.quirks, c.quirks, __ATOMIC_RELEASE);
	emu__machine.ep = ep;
	__atomic_store_n(&emu__machine.started, true, __ATOMIC_RELEASE);
	return 0;

err_free_eps:
	while (g-- > 0)
		ep_free(&ep[g]);
	free(ep);
	return rc;
}

int emu_machine_start(void)
{
	int rc;

	if (__atomic_load_n(&emu__machine.started, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&machine_lock);
	rc = start_locked();
	pthread_mutex_unlock(&machine_lock);
	return rc;
}

int emu__endpoint(int group, struct emu__endpoint **ep)
{
	int rc = emu_machine_start();

	if (rc)
		return rc;
	if (group < 0 || (unsigned)group >= emu__machine.cfg.groups)
		return -ENODEV;
	*ep = &emu__machine.ep[group];
	return 0;
}

int emu_machine_get_config(struct emu_machine_config *c)
{
	int rc = emu_machine_start();

	if (!rc)
		*c = emu__machine.cfg;
	return rc;
}

int emu_machine_reset(void)
{
	unsigned g, s;
	int rc = 0;

	pthread_mutex_lock(&machine_lock);
	if (!emu__machine.started)
		goto out_default;
	for (g = 0; g < emu__machine.cfg.groups; g++) {
		struct emu__endpoint *ep = &emu__machine.ep[g];

		for (s = 0; s < EMU_MAX_WINDOWS; s++)
			if (ep->win[s].programmed)
				rc = -EBUSY;
		if (ep->dirty)
			rc = -EBUSY;
	}
	if (rc)
		goto out_unlock;
	for (g = 0; g < emu__machine.cfg.groups; g++)
		ep_free(&emu__machine.ep[g]);
	free(emu__machine.ep);
	emu__machine.ep = NULL;
	__atomic_store_n(&emu__machine.started, false, __ATOMIC_RELEASE);
out_default:
	machine_configured = false;
	emu__dev_spec_reset();
	emu_machine_config_default(&emu__machine.cfg);
	__atomic_store_n(&emu__machine.quirks, EMU_QUIRKS_FIXED, __ATOMIC_RELEASE);
out_unlock:
	pthread_mutex_unlock(&machine_lock);
	return rc;
}

void emu__machine_set_quirks(unsigned quirks)
{
	pthread_mutex_lock(&machine_lock);
	/* Before the start, the start must keep it: it becomes the configuration. */
	if (!emu__machine.started && !machine_configured) {
		emu_machine_config_default(&emu__machine.cfg);
		machine_configured = true;
	}
	emu__machine.cfg.quirks = quirks;
	__atomic_store_n(&emu__machine.quirks, quirks, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&machine_lock);
}

bool emu_machine_quirks_kernel(void)
{
	return __atomic_load_n(&emu__machine.quirks, __ATOMIC_ACQUIRE) == EMU_QUIRKS_KERNEL;
}

void emu_machine_set_abort_on_unpinned(bool on)
{
	__atomic_store_n(&abort_on_unpinned, on, __ATOMIC_RELAXED);
}

bool emu__abort_on_unpinned(void)
{
#ifdef SPAPRTCE_DEBUG
	return __atomic_load_n(&abort_on_unpinned, __ATOMIC_RELAXED);
#else
	return false;
#endif
}

/* ------------------------------------------------------------ info, stats */

int emu_group_info(int group, struct emu_group_info *info)
{
	const struct emu_machine_config *c = &emu__machine.cfg;
	struct emu__endpoint *ep;
	int rc = emu__endpoint(group, &ep);

	if (rc)
		return rc;
	memset(info, 0, sizeof(*info));
	info->tce32_start = c->tce32_start;
	info->tce32_size = c->tce32_size;
	info->pgsizes = c->pgsizes;
	info->ddw = c->ddw;
	info->max_dynamic_windows_supported = c->ddw ? c->max_windows : 0;
	info->max_levels = c->max_levels;
	info->windows = c->max_windows;
	info->window_start[0] = c->tce32_start;
	if (c->max_windows > 1)
		info->window_start[1] = c->slot1_start;
	info->node = c->node;
	return 0;
}

int emu_group_get_stats(int group, struct emu_group_stats *st)
{
	struct emu__endpoint *ep;
	unsigned s;
	int rc = emu__endpoint(group, &ep);

	if (rc)
		return rc;
	pthread_rwlock_rdlock(&ep->rw);
	pthread_mutex_lock(&ep->lock);
	*st = ep->st;
	pthread_mutex_unlock(&ep->lock);
	for (s = 0; s < EMU_MAX_WINDOWS; s++) {
		st->programmed[s] = ep->win[s].programmed;
		if (ep->win[s].programmed)
			st->windows[s] = ep->win[s].w;
		else
			memset(&st->windows[s], 0, sizeof(st->windows[s]));
	}
	st->dirty_logging = ep->dirty != NULL;
	st->dirty_page_size = ep->dirty ? emu__dirty_page_size(ep->dirty) : 0;
	pthread_rwlock_unlock(&ep->rw);
	return 0;
}

int emu_machine_check(void)
{
	unsigned g;
	int rc = 0;

	if (!__atomic_load_n(&emu__machine.started, __ATOMIC_ACQUIRE))
		return 0;
	for (g = 0; g < emu__machine.cfg.groups; g++) {
		struct emu__endpoint *ep = &emu__machine.ep[g];
		int r;

		pthread_rwlock_rdlock(&ep->rw);
		pthread_mutex_lock(&ep->lock);
		r = emu__phb_check(ep, (int)g);
		if (!r)
			r = emu__fault_check(ep, (int)g);
		pthread_mutex_unlock(&ep->lock);
		if (!r && ep->dirty)
			r = emu__dirty_check(ep->dirty, (int)g);
		pthread_rwlock_unlock(&ep->rw);
		if (r)
			rc = r;
	}
	return rc;
}
