/* SPDX-License-Identifier: MIT */
/*
 * Fault injection counter.  Thread-local so that a sweep in the test thread
 * is not consumed by helper threads; see util/fail.h for the protocol.
 */
#include <stddef.h>

#include "util/fail.h"

static __thread unsigned long fail_countdown;	/* 0: disarmed */
static __thread unsigned long fail_calls;
static __thread bool fail_fired;
static __thread const char *fail_site;

void util_fail_nth_arm(unsigned long n)
{
	fail_countdown = n;
	fail_calls = 0;
	fail_fired = false;
	fail_site = NULL;
}

bool util_fail_nth_fired(void)
{
	return fail_fired;
}

const char *util_fail_nth_site(void)
{
	return fail_site;
}

unsigned long util_fail_nth_calls(void)
{
	return fail_calls;
}

#ifdef SPAPRTCE_FAULT_INJECT
bool util_should_fail(const char *site)
{
	fail_calls++;
	if (!fail_countdown)
		return false;
	if (--fail_countdown)
		return false;
	fail_fired = true;
	fail_site = site;
	return true;
}
#endif
