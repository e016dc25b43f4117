// SPDX-License-Identifier: MIT
/* crc32c.h - CRC-32C (Castagnoli), the checksum of every record of the
 * durable file queue: the SSE 4.2 instruction where the CPU has it, a
 * table otherwise.  Same values as iSCSI, ext4 and btrfs. */
#ifndef IPK_CRC32C_H
#define IPK_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc32c - extend crc (0 to start) over n bytes at p. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* crc32c_portable - the same with tables only, whatever the CPU (tests
 * compare the two). */
uint32_t crc32c_portable(uint32_t crc, const void *p, size_t n);

#endif
