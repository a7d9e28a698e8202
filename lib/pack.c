/* Packs joined without unpacking them (pack.h). */
#include "pack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "sha1.h"
#include "util.h"

#define ID_LEN 20
#define IDX_HEADER (8 + 256 * 4)
#define PACK_HEADER 12
#define LARGE_OFFSET 0x80000000u

/* The first bytes of an index of version 2. */
static const unsigned char idx_magic[8] = {0xff, 't', 'O', 'c', 0, 0, 0, 2};

/* One object of the joined pack, found through an input's index. */
struct entry {
	const unsigned char *id; /* in its input's index */
	uint32_t crc;            /* big-endian, as stored */
	uint64_t offset;         /* in the joined pack */
};

struct input {
	orch_buf idx;   /* the whole index */
	char *pack;     /* path of the .pack */
	int fd;         /* the .pack, open from its check to its copy, or -1 */
	uint64_t start; /* where its entries go in the joined pack */
	uint64_t size;  /* bytes of its entries */
	uint32_t count;
};

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static int by_id(const void *a, const void *b)
{
	return memcmp(((const struct entry *)a)->id,
	              ((const struct entry *)b)->id, ID_LEN);
}

/*
 * Read the index of pack `name` and check it against its pack: version 2,
 * sizes that add up, the pack's header and checksum. 1 when the index is
 * of another version.
 */
static int read_input(struct input *in, const char *dir, const char *name)
{
	orch_buf path = {0};
	unsigned char head[PACK_HEADER], sum[ID_LEN];
	const unsigned char *p;
	uint64_t nlarge = 0;
	struct stat st;
	int error = 0;

	orch_buf_printf(&path, "%spack-%s.idx", dir, name);
	if ((error = orch_read_file(&in->idx, path.ptr)) < 0)
		goto done;
	p = (const unsigned char *)in->idx.ptr;
	if (in->idx.len < IDX_HEADER + 2 * ID_LEN ||
	    memcmp(p, idx_magic, sizeof(idx_magic))) {
		error = 1;
		goto done;
	}
	in->count = get32(p + IDX_HEADER - 4);
	if (in->idx.len < IDX_HEADER + (uint64_t)in->count * 28 + 2 * ID_LEN)
		goto corrupt;
	for (uint32_t i = 0; i < in->count; i++)
		nlarge +=
		    (get32(p + IDX_HEADER + (uint64_t)in->count * 24 + 4 * i) &
		     LARGE_OFFSET) != 0;
	if (in->idx.len !=
	    IDX_HEADER + (uint64_t)in->count * 28 + nlarge * 8 + 2 * ID_LEN)
		goto corrupt;
	orch_buf_clear(&path);
	orch_buf_printf(&path, "%spack-%s.pack", dir, name);
	in->pack = orch_strdup(path.ptr);
	if ((in->fd = open(in->pack, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(in->fd, &st) < 0) {
		error = orch_error_os("cannot read '%s'", in->pack);
		goto done;
	}
	if (st.st_size < PACK_HEADER + ID_LEN ||
	    pread(in->fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    pread(in->fd, sum, sizeof(sum), st.st_size - ID_LEN) !=
	        (ssize_t)sizeof(sum) ||
	    memcmp(head, "PACK", 4) ||
	    (get32(head + 4) != 2 && get32(head + 4) != 3) ||
	    get32(head + 8) != in->count ||
	    memcmp(sum, p + in->idx.len - 2 * ID_LEN, ID_LEN))
		goto corrupt;
	in->size = (uint64_t)st.st_size - PACK_HEADER - ID_LEN;
	goto done;
corrupt:
	error = orch_error_set("pack '%s' does not match its index, or either "
	                       "is damaged",
	                       name);
	orch_error_hint("run `git fsck`; `git repack -a -d` rewrites the "
	                "packs");
done:
	orch_buf_free(&path);
	return error;
}

/* Write `len` bytes to `fd`, into the checksum too. */
static int put(int fd, orch_sha1 *sum, const void *data, size_t len)
{
	if (sum)
		orch_sha1_update(sum, data, len);
	return orch_write_all(fd, data, len);
}

/* Copy the entries of `in` (from the file read_input checked) to `fd`. */
static int copy_entries(int fd, orch_sha1 *sum, const struct input *in)
{
	char chunk[65536];
	uint64_t at = PACK_HEADER, end = PACK_HEADER + in->size;
	int error = 0;

	while (at < end) {
		size_t want = end - at < sizeof(chunk) ? (size_t)(end - at)
		                                       : sizeof(chunk);
		ssize_t n = pread(in->fd, chunk, want, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error =
			    n < 0 ? orch_error_os("cannot read '%s'", in->pack)
			          : orch_error_set("'%s' got shorter while "
			                           "it was read",
			                           in->pack);
			break;
		}
		if (put(fd, sum, chunk, (size_t)n) < 0) {
			error = orch_error_os("cannot write a pack");
			break;
		}
		at += (uint64_t)n;
	}
	return error;
}

/* The index of the joined pack, `entries` sorted. */
static void make_index(orch_buf *out, const struct entry *entries, size_t n,
                       const unsigned char pack_sum[ID_LEN])
{
	unsigned char word[8], sum[ID_LEN];
	uint32_t fanout[256] = {0}, nlarge = 0, total = 0;
	orch_sha1 ctx;

	orch_buf_put(out, idx_magic, sizeof(idx_magic));
	for (size_t i = 0; i < n; i++)
		fanout[entries[i].id[0]]++;
	for (int b = 0; b < 256; b++) {
		total += fanout[b];
		put32(word, total);
		orch_buf_put(out, word, 4);
	}
	for (size_t i = 0; i < n; i++)
		orch_buf_put(out, entries[i].id, ID_LEN);
	for (size_t i = 0; i < n; i++)
		orch_buf_put(out, &entries[i].crc, 4);
	for (size_t i = 0; i < n; i++) {
		uint64_t off = entries[i].offset;
		put32(word, off < LARGE_OFFSET ? (uint32_t)off
		                               : LARGE_OFFSET | nlarge++);
		orch_buf_put(out, word, 4);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t off = entries[i].offset;
		if (off < LARGE_OFFSET)
			continue;
		put32(word, (uint32_t)(off >> 32));
		put32(word + 4, (uint32_t)off);
		orch_buf_put(out, word, 8);
	}
	orch_buf_put(out, pack_sum, ID_LEN);
	orch_sha1_init(&ctx);
	orch_sha1_update(&ctx, out->ptr, out->len);
	orch_sha1_final(&ctx, sum);
	orch_buf_put(out, sum, ID_LEN);
}

/* Make `fd` (a new pack file) read-only, as git's are, flushed with `sync`. */
static int finish_file(int fd, int sync)
{
	return fchmod(fd, 0444) < 0 || (sync && fsync(fd) < 0) ? -1 : 0;
}

static int is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int orch_pack_join(char out[ORCH_PACK_NAME_LEN + 1], const char *pack_dir,
                   const char *const *names, size_t n, int sync)
{
	struct input *in = orch_calloc(n + 1, sizeof(*in));
	struct entry *entries = NULL;
	orch_buf tmp_pack = {0}, tmp_idx = {0}, path = {0}, index = {0},
	         idx_path = {0};
	unsigned char head[PACK_HEADER], sum[ID_LEN];
	uint64_t total = 0, at = PACK_HEADER;
	int pack_fd = -1, idx_fd = -1, error = 0;
	orch_sha1 ctx;

	for (size_t i = 0; i < n; i++)
		in[i].fd = -1;
	for (size_t i = 0; i < n; i++) {
		if ((error = read_input(&in[i], pack_dir, names[i])) != 0)
			goto done;
		in[i].start = at;
		at += in[i].size;
		total += in[i].count;
	}
	if (total >= UINT32_MAX) {
		error = 1;
		goto done;
	}
	entries = orch_calloc(total + 1, sizeof(*entries));
	total = 0;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)in[i].idx.ptr;
		const unsigned char *ids = p + IDX_HEADER;
		const unsigned char *crcs =
		    ids + (uint64_t)in[i].count * ID_LEN;
		const unsigned char *offs = crcs + (uint64_t)in[i].count * 4;
		const unsigned char *large = offs + (uint64_t)in[i].count * 4;
		for (uint32_t k = 0; k < in[i].count; k++) {
			struct entry *e = &entries[total++];
			uint64_t off = get32(offs + 4 * (uint64_t)k);
			if (off & LARGE_OFFSET) {
				const unsigned char *q =
				    large + 8 * (off & ~(uint64_t)LARGE_OFFSET);
				off = q + 8 > p + in[i].idx.len - 2 * ID_LEN
				          ? 0 /* out of it: damaged below */
				          : (uint64_t)get32(q) << 32 |
				                get32(q + 4);
			}
			if (off < PACK_HEADER ||
			    off >= PACK_HEADER + in[i].size) {
				error = orch_error_set(
				    "the index of pack '%s' is damaged",
				    names[i]);
				goto done;
			}
			e->id = ids + (uint64_t)k * ID_LEN;
			memcpy(&e->crc, crcs + 4 * (uint64_t)k, 4);
			e->offset = off - PACK_HEADER + in[i].start;
		}
	}
	qsort(entries, total, sizeof(*entries), by_id);
	for (size_t i = 1; i < total; i++)
		if (!memcmp(entries[i - 1].id, entries[i].id, ID_LEN)) {
			error = 1;
			goto done;
		}

	orch_buf_printf(&tmp_pack, "%stmp_pack_XXXXXX", pack_dir);
	if ((pack_fd = mkstemp(tmp_pack.ptr)) < 0) {
		error = orch_error_os("cannot create a pack in '%s'", pack_dir);
		goto done;
	}
	memcpy(head, "PACK", 4);
	put32(head + 4, 2);
	put32(head + 8, (uint32_t)total);
	orch_sha1_init(&ctx);
	if (put(pack_fd, &ctx, head, sizeof(head)) < 0) {
		error = orch_error_os("cannot write '%s'", tmp_pack.ptr);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		if ((error = copy_entries(pack_fd, &ctx, &in[i])) < 0)
			goto done;
	orch_sha1_final(&ctx, sum);
	if (put(pack_fd, NULL, sum, sizeof(sum)) < 0 ||
	    finish_file(pack_fd, sync) < 0) {
		error = orch_error_os("cannot write '%s'", tmp_pack.ptr);
		goto done;
	}
	make_index(&index, entries, total, sum);
	orch_buf_printf(&tmp_idx, "%stmp_idx_XXXXXX", pack_dir);
	if ((idx_fd = mkstemp(tmp_idx.ptr)) < 0 ||
	    put(idx_fd, NULL, index.ptr, index.len) < 0 ||
	    finish_file(idx_fd, sync) < 0) {
		error =
		    orch_error_os("cannot write an index in '%s'", pack_dir);
		goto done;
	}
	for (int i = 0; i < ID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", sum[i]);
	/* a pack of that name and its index are there: the same objects (its
	 * name is its checksum), nothing to replace */
	orch_buf_printf(&idx_path, "%spack-%s.idx", pack_dir, out);
	orch_buf_printf(&path, "%spack-%s.pack", pack_dir, out);
	if (is_file(idx_path.ptr) && is_file(path.ptr))
		goto done;
	if (rename(tmp_pack.ptr, path.ptr) < 0) {
		error = orch_error_os("cannot write '%s'", path.ptr);
		goto done;
	}
	orch_buf_clear(&tmp_pack);
	/* a pack without its index is garbage to git: none is left */
	if (rename(tmp_idx.ptr, idx_path.ptr) < 0) {
		error = orch_error_os("cannot write '%s'", idx_path.ptr);
		unlink(path.ptr);
		goto done;
	}
	orch_buf_clear(&tmp_idx);
	if (sync) {
		int dir = open(pack_dir, O_RDONLY | O_DIRECTORY);
		if (dir >= 0) {
			fsync(dir);
			close(dir);
		}
	}
done:
	if (pack_fd >= 0)
		close(pack_fd);
	if (idx_fd >= 0)
		close(idx_fd);
	if (tmp_pack.len)
		unlink(tmp_pack.ptr);
	if (tmp_idx.len)
		unlink(tmp_idx.ptr);
	for (size_t i = 0; i < n; i++) {
		if (in[i].fd >= 0)
			close(in[i].fd);
		orch_buf_free(&in[i].idx);
		free(in[i].pack);
	}
	free(in);
	free(entries);
	orch_buf_free(&tmp_pack);
	orch_buf_free(&tmp_idx);
	orch_buf_free(&path);
	orch_buf_free(&idx_path);
	orch_buf_free(&index);
	return error;
}

int orch_pack_ids(unsigned char **ids, size_t *n, const char *pack_dir,
                  const char *name)
{
	orch_buf path = {0}, idx = {0};
	const unsigned char *p;
	uint32_t count;
	int error;

	*ids = NULL;
	*n = 0;
	orch_buf_printf(&path, "%spack-%s.idx", pack_dir, name);
	if ((error = orch_read_file(&idx, path.ptr)) < 0)
		goto done;
	p = (const unsigned char *)idx.ptr;
	if (idx.len < IDX_HEADER + 2 * ID_LEN ||
	    memcmp(p, idx_magic, sizeof(idx_magic))) {
		error = 1;
		goto done;
	}
	count = get32(p + IDX_HEADER - 4);
	if (idx.len < IDX_HEADER + (uint64_t)count * 28 + 2 * ID_LEN) {
		error =
		    orch_error_set("the pack index '%s' is damaged", path.ptr);
		orch_error_hint("run `git fsck`; `git repack -a -d` rewrites "
		                "the packs");
		goto done;
	}
	*ids = orch_malloc((size_t)count * ID_LEN + 1);
	memcpy(*ids, p + IDX_HEADER, (size_t)count * ID_LEN);
	*n = count;
done:
	orch_buf_free(&idx);
	orch_buf_free(&path);
	return error;
}
