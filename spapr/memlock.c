/* SPDX-License-Identifier: MIT */
/*
 * spapr_mm_*: the process-wide accounting calls of spapr/spapr.h, and the
 * SPAPRTCE_MEMLOCK environment override of the emulated RLIMIT_MEMLOCK.
 *
 * The emulated limit defaults to the real process's (getrlimit), which for
 * a non-root user is often 8 MiB: less than a 2 GiB default window's table
 * (8 MiB with its shadow) plus any registration.  Raising the real limit
 * needs root or limits.conf; SPAPRTCE_MEMLOCK=BYTES sets the emulated one
 * for a run instead, without touching the program.  It is applied once,
 * when the library is loaded (a constructor), to the process's mm, so
 * forked children inherit it and spapr_mm_set_memlock() still has the last
 * word.  CAP_IPC_LOCK is left as it is: with it (root) no limit applies.
 * A static program gets the override when it links this file, i.e. when it
 * calls spapr_mm_locked_vm() or spapr_mm_set_memlock().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmreg/mmreg.h"
#include "spapr/spapr_priv.h"

uint64_t spapr_mm_locked_vm(void)
{
	struct mmreg_mm *mm;
	uint64_t v;

	if (mmreg_mm_current(&mm))
		return 0;
	v = mmreg_mm_locked_vm(mm);
	mmreg_mm_put(mm);
	return v;
}

int spapr_mm_set_memlock(uint64_t limit_bytes, int cap_ipc_lock)
{
	struct mmreg_mm *mm;
	int rc;

	if (cap_ipc_lock != 0 && cap_ipc_lock != 1)
		return spapr__ret(-EINVAL);
	rc = mmreg_mm_current(&mm);
	if (rc)
		return spapr__ret(rc);
	mmreg_mm_set_memlock(mm, limit_bytes, cap_ipc_lock);
	mmreg_mm_put(mm);
	return 0;
}

/*
 * BYTES: a number in C syntax with an optional k, m or g suffix (binary
 * units), or "unlimited".  Returns 0 or -EINVAL (*bytes unchanged).
 */
static int memlock_parse(const char *s, uint64_t *bytes)
{
	unsigned shift = 0;
	unsigned long long v;
	char *end;

	if (!strcmp(s, "unlimited")) {
		*bytes = UINT64_MAX;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

__attribute__((constructor)) static void memlock_from_env(void)
{
	const char *env = getenv("SPAPRTCE_MEMLOCK");
	struct mmreg_mm *mm;
	uint64_t bytes, old;
	bool cap;

	if (!env)
		return;
	if (memlock_parse(env, &bytes)) {
		fprintf(stderr, "spaprtce: SPAPRTCE_MEMLOCK=%s ignored: expected bytes "
				"(k, m, g suffixes allowed) or unlimited\n", env);
		return;
	}
	if (mmreg_mm_current(&mm)) {
		fprintf(stderr, "spaprtce: SPAPRTCE_MEMLOCK ignored: out of memory\n");
		return;
	}
	mmreg_mm_get_memlock(mm, &old, &cap);
	mmreg_mm_set_memlock(mm, bytes, cap);
	mmreg_mm_put(mm);
}
