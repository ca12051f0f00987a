/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cli/cli.h"

static bool out_json;
static unsigned out_steps, out_failed;

void cli_output_init(bool json)
{
	out_json = json;
	if (json)
		printf("{\"steps\": [");
}

void cli_step(const struct cli_step *st)
{
	out_failed += !st->ok;
	if (out_json) {
		printf("%s\n  {\"step\": \"%s\", \"detail\": \"%s\", \"locked_vm_before\": %llu, "
		       "\"locked_vm_after\": %llu, \"rate_gbps\": %.3f, \"ok\": %s}",
		       out_steps ? "," : "", st->name, st->detail,
		       (unsigned long long)st->locked_before, (unsigned long long)st->locked_after,
		       st->rate_gbps < 0 ? 0.0 : st->rate_gbps, st->ok ? "true" : "false");
	} else {
		printf("%-4s %-37s locked_vm %7llu -> %-7llu", st->ok ? "ok" : "FAIL", st->name,
		       (unsigned long long)st->locked_before, (unsigned long long)st->locked_after);
		if (st->rate_gbps >= 0)
			printf(" %7.2f GB/s", st->rate_gbps);
		printf("  %s\n", st->detail);
	}
	out_steps++;
}

int cli_finish(const char *what)
{
	if (out_json)
		printf("\n], \"what\": \"%s\", \"steps_failed\": %u, \"verdict\": \"%s\"}\n", what,
		       out_failed, out_failed ? "FAIL" : "PASS");
	else
		printf("\n%s: %u steps, %u failed: %s\n", what, out_steps, out_failed,
		       out_failed ? "FAIL" : "PASS");
	return out_failed ? 1 : 0;
}
