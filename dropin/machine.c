/* SPDX-License-Identifier: MIT */
/*
 * The machine as a PCI topology: which device the generated filesystem
 * shows in each IOMMU group, and the list `spaprtce exec --list` prints.
 *
 * Everything comes from the library (emu_dev_info): the device's PCI
 * address -- the name VFIO_GROUP_GET_DEVICE_FD accepts, 0000:00:0X.0 with
 * X = G + 1 -- its ids, class, revision and BAR layout, so the sysfs files a
 * program reads before it opens the device describe the very function its
 * device fd serves.  A group configured without a device (devG=none) has
 * no entry: its /sys/kernel/iommu_groups/G/devices is empty, as a group
 * whose device is bound to another driver would not be usable either.
 *
 * Only emu/emu.h is used, so the command-line program links this file too.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dropin/dropin.h"
#include "emu/emu.h"

int dropin_machine_devices(struct dropin_pci_dev *out, unsigned max)
{
	struct emu_machine_config c;
	struct emu_dev_info info;
	unsigned g, n = 0;
	int rc = emu_machine_get_config(&c);

	if (rc)
		return rc;
	for (g = 0; g < c.groups && n < max; g++) {
		struct dropin_pci_dev *d = &out[n];

		rc = emu_dev_info((int)g, &info);
		if (rc == -ENOENT)
			continue;	/* devG=none */
		if (rc)
			return rc;
		memset(d, 0, sizeof(*d));
		d->group = (int)g;
		snprintf(d->bdf, sizeof(d->bdf), "%s", info.name);
		d->vendor = info.vendor;
		d->device = info.device;
		d->class_code = info.class_code;
		d->subsystem_vendor = info.subsystem_vendor;
		d->subsystem_device = info.subsystem_device;
		d->revision = info.revision;
		for (unsigned i = 0; i < DROPIN_PCI_BARS; i++) {
			d->bar_size[i] = info.bar_size[i];
			d->bar_flags[i] = info.bar_flags[i];
		}
		d->numa_node = c.node;
		n++;
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
