/* SPDX-License-Identifier: MIT */
/*
 * The machine as a PCI topology: which device the generated filesystem
 * shows in each IOMMU group, and the list `spaprtce exec --list` prints.
 *
 * Group G holds one device at PCI address 0000:BB:DD.0 where G + 1 = BB * 32
 * + DD: for the groups of the default machine (0 to 3) that is 0000:00:0X.0
 * with X = G + 1, a slot per group as on a POWER host bridge with one device
 * per partitionable endpoint.  Device number 0 is left out on bus 0, as a
 * host bridge's own function would be there.
 *
 * The identity files show the default device model, the DMA engine, as a
 * "non-essential instrumentation" function (class 0x130000) of the vendor
 * ID that QEMU's own test devices use (0x1b36, Red Hat); the device model
 * code (emu/) owns the real values, and this table follows it when the
 * machine configuration names a model per group.
 *
 * Only emu/emu.h is used, so the command-line program links this file too.
 */
#include <errno.h>
#include <stdio.h>

#include "dropin/dropin.h"
#include "emu/emu.h"

#define DROPIN_DEFAULT_VENDOR 0x1b36u
#define DROPIN_DEFAULT_DEVICE 0x0005u
#define DROPIN_DEFAULT_CLASS 0x130000u

int dropin_machine_devices(struct dropin_pci_dev *out, unsigned max)
{
	struct emu_machine_config c;
	unsigned g, n;
	int rc = emu_machine_get_config(&c);

	if (rc)
		return rc;
	n = c.groups < max ? c.groups : max;
	for (g = 0; g < n; g++) {
		unsigned slot = g + 1;
		struct dropin_pci_dev *d = &out[g];

		d->group = (int)g;
		snprintf(d->bdf, sizeof(d->bdf), "0000:%02x:%02x.0", (slot >> 5) & 0xff, slot & 31);
		d->vendor = DROPIN_DEFAULT_VENDOR;
		d->device = DROPIN_DEFAULT_DEVICE;
		d->class_code = DROPIN_DEFAULT_CLASS;
		d->subsystem_vendor = DROPIN_DEFAULT_VENDOR;
		d->subsystem_device = 0x1100u;
		d->numa_node = c.node;
	}
	return (int)n;
}

int dropin_machine_print(FILE *f)
{
	struct dropin_pci_dev devs[EMU_MAX_GROUPS];
	int n = dropin_machine_devices(devs, EMU_MAX_GROUPS);

	if (n < 0)
		return n;
	fprintf(f, "group  device        vendor:device  class     node  node file\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "%5d  %s  %04x:%04x      0x%06x  %4d  /dev/vfio/%d\n", devs[i].group,
			devs[i].bdf, devs[i].vendor, devs[i].device, devs[i].class_code,
			devs[i].numa_node, devs[i].group);
	return 0;
}
