/* SPDX-License-Identifier: MIT */
/* emu/mem.h entry points that span the pin and table halves. */
#include <string.h>

#include "emu/mem_priv.h"

void emu_mem_get_stats(struct emu_mem_stats *st)
{
	memset(st, 0, sizeof(*st));
	emu__mem_pin_stats(st);
	emu__mem_table_stats(st);
}

int emu_mem_check(void)
{
	int rc = emu__mem_pin_check();
	int rc2 = emu__mem_table_check();

	return rc ? rc : rc2;
}
