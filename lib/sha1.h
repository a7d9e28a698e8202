#ifndef ORCH_SHA1_H
#define ORCH_SHA1_H

#include <stddef.h>
#include <stdint.h>

/*
 * SHA-1 (FIPS 180-4), for the checksums that close a pack and its index
 * (pack.c). libgit2 keeps its own SHA-1 to itself. Not for object names:
 * those are libgit2's, with its collision detection.
 */

#define ORCH_SHA1_LEN 20

typedef struct {
	uint32_t h[5];
	uint64_t len; /* bytes hashed */
	unsigned char block[64];
	size_t used; /* bytes of block filled */
} orch_sha1;

void orch_sha1_init(orch_sha1 *ctx);
void orch_sha1_update(orch_sha1 *ctx, const void *data, size_t len);
void orch_sha1_final(orch_sha1 *ctx, unsigned char out[ORCH_SHA1_LEN]);

#endif
