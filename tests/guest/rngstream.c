/* SPDX-License-Identifier: MIT */
/*
 * rngstream SEED BYTES [HEX]: the first BYTES bytes a virtio-rng model with
 * seed=SEED writes (emu__virtio_rng_stream, the model's own code).
 * Without HEX: prints them as one line of lowercase hex.
 * With HEX (what a guest read from /dev/hwrng): checks that those bytes are
 * pieces of that stream, in stream order, each piece at least 8 bytes long
 * (or the rest) -- the guest's reader and the kernel's own (the hwrng
 * core's early read at registration) take turns at the one stream, so the
 * guest sees it with gaps, never reordered or altered; 8 equal bytes by
 * chance are 2^-64 likely.  Prints "ok pieces N at A-B,C-D" (stream byte
 * ranges) and exits 0, or prints where it fails and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/dev_virtio_priv.h"

#define MIN_PIECE 8u

static int check(const uint8_t *s, size_t ns, const char *hex)
{
	size_t ng = strlen(hex) / 2, i = 0, p = 0, pieces = 0;
	uint8_t *g = malloc(ng + 1);
	char where[1024] = "";

	if (!g || strlen(hex) % 2 || !ng)
		return printf("bad hex\n"), 1;
	for (size_t k = 0; k < ng; k++) {
		unsigned v;

		if (sscanf(hex + 2 * k, "%2x", &v) != 1)
			return printf("bad hex\n"), 1;
		g[k] = (uint8_t)v;
	}
	while (i < ng) {
		size_t need = ng - i < MIN_PIECE ? ng - i : MIN_PIECE, len = 0;

		for (; p + need <= ns; p++) {
			for (len = 0; i + len < ng && p + len < ns && s[p + len] == g[i + len]; len++)
				;
			if (len >= need)
				break;
		}
		if (p + need > ns) {
			printf("guest byte %zu is in no piece of the stream's first %zu bytes\n", i, ns);
			free(g);
			return 1;
		}
		pieces++;
		snprintf(where + strlen(where), sizeof(where) - strlen(where), "%s%zu-%zu",
			 pieces > 1 ? "," : "", p, p + len);
		i += len;
		p += len;
	}
	printf("ok pieces %zu at %s\n", pieces, where);
	free(g);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long seed, n;
	uint8_t *b;
	int rc = 0;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: rngstream SEED BYTES [HEX]\n");
		return 2;
	}
	seed = strtoull(argv[1], NULL, 0);
	n = strtoull(argv[2], NULL, 0);
	b = malloc(n ? n : 1);
	if (!b)
		return 2;
	emu__virtio_rng_stream(seed, 0, b, n);
	if (argc == 4) {
		rc = check(b, n, argv[3]);
	} else {
		for (unsigned long long k = 0; k < n; k++)
			printf("%02x", b[k]);
		putchar('\n');
	}
	free(b);
	return rc;
}
