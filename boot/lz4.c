// SPDX-License-Identifier: GPL-2.0-only
/* Legacy LZ4 frames: magic, then blocks of (le32 compressed size, data), each
 * unpacking to at most 8 MiB (lib/decompress_unlz4.c in Linux reads the same). */
#include "boot/lz4.h"

#include <errno.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>

#define LZ4_LEGACY_BLOCK (8u << 20)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int lz4_is_legacy(const uint8_t *data, size_t size)
{
	return size >= 4 && le32(data) == LZ4_LEGACY_MAGIC;
}

int lz4_unpack_legacy(const uint8_t *data, size_t size, size_t expected, uint8_t **out,
		      struct ember_err *err)
{
	if (!lz4_is_legacy(data, size))
		return ember_fail(err, EINVAL, "payload is not legacy LZ4");
	if (expected == 0 || expected > (1u << 30))
		return ember_fail(err, EINVAL, "LZ4 payload claims %zu bytes unpacked", expected);
	uint8_t *buf = malloc(expected);
	if (!buf)
		return ember_fail(err, ENOMEM, "out of memory unpacking the kernel");

	size_t in = 4, produced = 0;
	while (produced < expected && size - in >= 4) {
		uint32_t block = le32(data + in);
		in += 4;
		if (block == LZ4_LEGACY_MAGIC) /* concatenated streams start over */
			continue;
		if (block == 0 || block > size - in)
			break;
		size_t room = expected - produced;
		if (room > LZ4_LEGACY_BLOCK)
			room = LZ4_LEGACY_BLOCK;
		int n = LZ4_decompress_safe((const char *)data + in, (char *)buf + produced,
					    (int)block, (int)room);
		if (n < 0) {
			free(buf);
			return ember_fail(err, EINVAL, "corrupt LZ4 block at payload offset %zu", in);
		}
		produced += (size_t)n;
		in += block;
	}
	if (produced != expected) {
		free(buf);
		return ember_fail(err, EINVAL, "LZ4 payload unpacked to %zu bytes, header says %zu",
				  produced, expected);
	}
	*out = buf;
	return 0;
}
