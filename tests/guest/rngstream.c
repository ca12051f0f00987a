/* SPDX-License-Identifier: MIT */
/*
 * rngstream SEED BYTES: prints, as one line of lowercase hex, the first
 * BYTES bytes a virtio-rng model with seed=SEED writes
 * (emu__virtio_rng_stream, the model's own code).  scripts/guest-check.sh
 * looks for the guest's /dev/hwrng bytes in it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "emu/dev_virtio_priv.h"

int main(int argc, char **argv)
{
	unsigned long long seed, n;
	uint8_t b[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: rngstream SEED BYTES\n");
		return 2;
	}
	seed = strtoull(argv[1], NULL, 0);
	n = strtoull(argv[2], NULL, 0);
	for (unsigned long long pos = 0; pos < n; pos += sizeof(b)) {
		size_t k = n - pos < sizeof(b) ? (size_t)(n - pos) : sizeof(b);

		emu__virtio_rng_stream(seed, pos, b, k);
		for (size_t i = 0; i < k; i++)
			printf("%02x", b[i]);
	}
	putchar('\n');
	return 0;
}
