/* SPDX-License-Identifier: MIT */
/*
 * Freezing a PE from outside a program that runs under the drop-in layer
 * (docs/eeh.md): with SPAPRTCE_EEH_CTL=PATH in the environment, the layer
 * creates a FIFO at PATH (or uses the FIFO already there) when it starts and
 * a thread reads lines from it:
 *
 *     freeze G      emu_pe_freeze(G): group G's PE freezes as on an error
 *
 * so a test does `echo "freeze 0" > PATH` while the program (QEMU with a
 * guest, a DPDK application) is using the device.  A bad line is reported
 * on stderr and ignored.
 *
 * Why a FIFO and a thread rather than a signal: emu_pe_freeze takes the
 * endpoint's locks, which a signal handler may not; and a FIFO names the
 * group, where a signal could not.  The FIFO is opened read-write so that
 * the reader never sees end-of-file when a writer goes away.  The thread
 * uses the libc entry points the layer resolved (dropin_real), so its own
 * reads never pass through the layer's hooks.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dropin/dropin.h"
#include "dropin/trace.h"
#include "emu/emu.h"

static void say(const char *msg)
{
	dropin_real.write(2, msg, strlen(msg));
}

/* One line: "freeze G". */
static void run_line(char *line)
{
	char *end;
	long g;

	if (strncmp(line, "freeze ", 7)) {
		say("libspaprtce-preload: SPAPRTCE_EEH_CTL: unknown command (want \"freeze G\")\n");
		return;
	}
	errno = 0;
	g = strtol(line + 7, &end, 0);
	if (errno || end == line + 7 || (*end && *end != ' ') || g < 0 || g >= EMU_MAX_GROUPS ||
	    emu_pe_freeze((int)g))
		say("libspaprtce-preload: SPAPRTCE_EEH_CTL: cannot freeze that group\n");
}

static void *reader(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[256];
	size_t len = 0;

	for (;;) {
		ssize_t n = dropin_real.read(fd, buf + len, sizeof(buf) - 1 - len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		len += (size_t)n;
		buf[len] = 0;
		while ((nl = strchr(buf, '\n'))) {
			*nl = 0;
			run_line(buf);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			len = 0;	/* a line too long: dropped */
	}
}

void dropin__eeh_ctl_start(void)
{
	const char *path = getenv("SPAPRTCE_EEH_CTL");
	pthread_attr_t a;
	pthread_t t;
	int fd;

	if (!path || !*path)
		return;
	if (mkfifo(path, 0600) && errno != EEXIST) {
		say("libspaprtce-preload: SPAPRTCE_EEH_CTL: cannot create the FIFO\n");
		return;
	}
	dropin__enter();
	fd = dropin__private_fd(dropin_real.open(path, O_RDWR | O_CLOEXEC));
	dropin__leave();
	if (fd < 0) {
		say("libspaprtce-preload: SPAPRTCE_EEH_CTL: cannot open the FIFO\n");
		return;
	}
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, reader, (void *)(intptr_t)fd)) {
		say("libspaprtce-preload: SPAPRTCE_EEH_CTL: no thread\n");
		dropin_real.close(fd);
	}
	pthread_attr_destroy(&a);
}
