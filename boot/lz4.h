/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host-side unpacking of an LZ4-compressed bzImage payload (liblz4).  The
 * kernel's own decompressor runs in guest ring 0, which a software KVM
 * interprets at ~1 M instructions/s: unpacking on the host saves seconds
 * per boot there and a few milliseconds on hardware.
 */
#ifndef EMBER_BOOT_LZ4_H
#define EMBER_BOOT_LZ4_H

#include <stddef.h>
#include <stdint.h>

#include "vm/error.h"

/* The kernel's lz4 payloads use the legacy frame format ("lz4 -l"). */
#define LZ4_LEGACY_MAGIC 0x184c2102u

int lz4_is_legacy(const uint8_t *data, size_t size);

/*
 * Unpacks a legacy-format stream into a newly allocated buffer of exactly
 * `expected` bytes (the size the kernel build appends after the stream).
 * Returns 0 and *out (free() it), or -errno with err filled.
 */
int lz4_unpack_legacy(const uint8_t *data, size_t size, size_t expected, uint8_t **out,
		      struct ember_err *err);

#endif
