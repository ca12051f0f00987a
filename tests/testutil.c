/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "tests/testutil.h"

long tu_hugetlb_reserve(unsigned long want, const char **why)
{
	long prev;

	switch (emu_mem_hugetlb_reserve(21, want, &prev)) {
	case 0:
		return prev >= 0 ? prev : LONG_MAX;
	case -ENOENT:
		*why = "no 2 MiB hugetlbfs pool on this kernel";
		return -1;
	case -EPERM:
		*why = "cannot raise nr_hugepages (not root?)";
		return -1;
	default:
		*why = "the kernel could not find enough free 2 MiB pages";
		return -1;
	}
}

void tu_hugetlb_restore(long prev)
{
	if (prev != LONG_MAX)
		emu_mem_hugetlb_restore(21, prev);
}

bool tu_quirks_kernel(const char *quirk)
{
	(void)quirk;	/* documents the call site */
	(void)emu_machine_start();	/* SPAPRTCE_MACHINE applies at the start */
	return emu_machine_quirks_kernel();
}

bool tu_fixed_only(const char *test, const char *quirk, const char *why)
{
	if (!tu_quirks_kernel(quirk))
		return false;
	printf("SKIP %s: asserts the fixed answer of %s (%s)\n", test, quirk, why);
	fflush(stdout);
	return true;
}

bool tu_fixed_only_step(const char *test, const char *step, const char *quirk, const char *why)
{
	if (!tu_quirks_kernel(quirk))
		return false;
	printf("SKIP-STEP %s (%s): asserts the fixed answer of %s (%s)\n", test, step, quirk, why);
	fflush(stdout);
	return true;
}

void tu_quirks_env_drop(const char *suite)
{
	const char *env = getenv("SPAPRTCE_MACHINE");

	if (!env || !strstr(env, "quirks=kernel"))
		return;
	printf("%s runs both quirk modes itself: SPAPRTCE_MACHINE=%s dropped\n", suite, env);
	fflush(stdout);
	unsetenv("SPAPRTCE_MACHINE");
}
