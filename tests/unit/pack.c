#include "unit.h"
#include "error.h"
#include "pack.h"
#include "sha1.h"
#include "util.h"

#include <dirent.h>

#include <git2.h>

/*
 * Packs joined without unpacking them (pack.c), checked against what
 * libgit2's indexer makes of the joined pack, and the SHA-1 the checksums
 * use.
 */

static void hex(char *out, const unsigned char *sum)
{
	for (int i = 0; i < ORCH_SHA1_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", sum[i]);
}

static void sha1_of(char out[41], const char *data, size_t len, size_t step)
{
	unsigned char sum[ORCH_SHA1_LEN];
	orch_sha1 ctx;

	orch_sha1_init(&ctx);
	for (size_t at = 0; at < len; at += step)
		orch_sha1_update(&ctx, data + at,
		                 len - at < step ? len - at : step);
	orch_sha1_final(&ctx, sum);
	hex(out, sum);
}

TEST(sha1_gives_the_standard_digests)
{
	char out[41], *million = orch_malloc(1000000);
	const char *two =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	sha1_of(out, "", 0, 1);
	CHECK_STR(out, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	sha1_of(out, "abc", 3, 1);
	CHECK_STR(out, "a9993e364706816aba3e25717850c26c9cd0d89d");
	sha1_of(out, two, strlen(two), 7);
	CHECK_STR(out, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	memset(million, 'a', 1000000);
	sha1_of(out, million, 1000000, 997);
	CHECK_STR(out, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	sha1_of(out, million, 1000000, 1000000);
	CHECK_STR(out, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	free(million);
}

struct fixture {
	char path[256], packdir[512];
	git_repository *repo;
};

static void setup(struct fixture *fx)
{
	git_libgit2_init();
	snprintf(fx->path, sizeof(fx->path), "%s", unit_tmpdir());
	snprintf(fx->packdir, sizeof(fx->packdir), "%s/.git/objects/pack/",
	         fx->path);
	if (git_repository_init(&fx->repo, fx->path, 0) < 0)
		abort();
}

static void teardown(struct fixture *fx)
{
	git_repository_free(fx->repo);
	git_libgit2_shutdown();
}

/* Version `n` of a 4 KB text: each differs from the others in one line. */
static void write_version(git_oid *out, git_repository *repo, int n)
{
	orch_buf text = {0};

	for (int line = 0; line < 100; line++)
		orch_buf_printf(&text, "line %d of the text, %s\n", line,
		                line == n % 100 ? "changed" : "as it was");
	orch_buf_printf(&text, "version %d\n", n);
	if (git_blob_create_from_buffer(out, repo, text.ptr, text.len) < 0)
		abort();
	orch_buf_free(&text);
}

/* A pack of oids[0..n) through the packbuilder; its name into `name`. */
static void make_pack(char name[41], git_repository *repo, const git_oid *oids,
                      size_t n)
{
	git_packbuilder *pb = NULL;

	if (git_packbuilder_new(&pb, repo) < 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if (git_packbuilder_insert(pb, &oids[i], NULL) < 0)
			abort();
	if (git_packbuilder_write(pb, NULL, 0, NULL, NULL) < 0)
		abort();
	snprintf(name, 41, "%s", git_packbuilder_name(pb));
	git_packbuilder_free(pb);
}

/* Two packs of two versions each (oids[0..4)); their names into `names`. */
static void make_two_packs(char names[2][41], git_oid oids[4],
                           git_repository *repo)
{
	for (int i = 0; i < 4; i++)
		write_version(&oids[i], repo, i);
	make_pack(names[0], repo, &oids[0], 2);
	make_pack(names[1], repo, &oids[2], 2);
}

static long file_size(const char *dir, const char *name, const char *ext)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%spack-%s.%s", dir, name, ext);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* The index libgit2's indexer writes for pack `name` of `dir`, in `out`. */
static void index_by_libgit2(orch_buf *out, const char *dir, const char *name)
{
	char path[2048], outdir[1024];
	git_indexer *idx = NULL;
	git_indexer_progress stats;
	orch_buf pack = {0};

	snprintf(path, sizeof(path), "%spack-%s.pack", dir, name);
	snprintf(outdir, sizeof(outdir), "%s/indexed", unit_tmpdir());
	mkdir(outdir, 0777);
	if (orch_read_file(&pack, path) < 0 ||
	    git_indexer_new(&idx, outdir, 0444, NULL, NULL) < 0 ||
	    git_indexer_append(idx, pack.ptr, pack.len, &stats) < 0 ||
	    git_indexer_commit(idx, &stats) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/pack-%s.idx", outdir,
	         git_indexer_name(idx));
	if (orch_read_file(out, path) < 0)
		abort();
	git_indexer_free(idx);
	orch_buf_free(&pack);
}

TEST(joined_packs_give_the_pack_and_index_the_indexer_gives)
{
	struct fixture fx;
	git_oid oids[9];
	char names[3][41], joined[41], path[1024];
	const char *in[3] = {names[0], names[1], names[2]};
	long sum = 0;
	orch_buf ours = {0}, theirs = {0};
	git_repository *other = NULL;

	setup(&fx);
	for (int p = 0; p < 3; p++) {
		for (int k = 0; k < 3; k++)
			write_version(&oids[3 * p + k], fx.repo, 3 * p + k);
		make_pack(names[p], fx.repo, &oids[3 * p], 3);
		sum += file_size(fx.packdir, names[p], "pack");
	}
	CHECK_INT(orch_pack_join(joined, fx.packdir, in, 3, 1), 0);
	/* their entries, one header and one checksum: nothing packed anew
	 * (that would make deltas across them, and a smaller pack) */
	CHECK(file_size(fx.packdir, joined, "pack") == sum - 2 * 32);
	index_by_libgit2(&theirs, fx.packdir, joined);
	snprintf(path, sizeof(path), "%spack-%s.idx", fx.packdir, joined);
	CHECK_INT(orch_read_file(&ours, path), 0);
	CHECK(ours.len == theirs.len &&
	      !memcmp(ours.ptr, theirs.ptr, ours.len));
	/* and a reader finds every object in it once the others are gone */
	for (int p = 0; p < 3; p++) {
		snprintf(path, sizeof(path), "%spack-%s.idx", fx.packdir,
		         names[p]);
		unlink(path);
		snprintf(path, sizeof(path), "%spack-%s.pack", fx.packdir,
		         names[p]);
		unlink(path);
	}
	CHECK_INT(count_files(fx.packdir), 2);
	if (git_repository_open(&other, fx.path) < 0)
		abort();
	for (int i = 0; i < 9; i++) {
		git_blob *blob = NULL;
		CHECK_INT(git_blob_lookup(&blob, other, &oids[i]), 0);
		git_blob_free(blob);
	}
	git_repository_free(other);
	orch_buf_free(&ours);
	orch_buf_free(&theirs);
	teardown(&fx);
}

TEST(packs_that_share_an_object_are_not_joined)
{
	struct fixture fx;
	git_oid oids[3];
	char names[2][41], joined[41];
	const char *in[2] = {names[0], names[1]};

	setup(&fx);
	for (int i = 0; i < 3; i++)
		write_version(&oids[i], fx.repo, i);
	make_pack(names[0], fx.repo, &oids[0], 2);
	make_pack(names[1], fx.repo, &oids[1], 2);
	CHECK_INT(orch_pack_join(joined, fx.packdir, in, 2, 0), 1);
	CHECK_INT(count_files(fx.packdir), 4);
	teardown(&fx);
}

TEST(a_damaged_index_is_an_error_that_names_its_pack)
{
	struct fixture fx;
	git_oid oids[4];
	char names[2][41], joined[41], path[1024];
	const char *in[2] = {names[0], names[1]};

	setup(&fx);
	make_two_packs(names, oids, fx.repo);
	snprintf(path, sizeof(path), "%spack-%s.idx", fx.packdir, names[1]);
	chmod(path, 0644);
	CHECK_INT(truncate(path, file_size(fx.packdir, names[1], "idx") - 1),
	          0);
	CHECK(orch_pack_join(joined, fx.packdir, in, 2, 0) < 0);
	CHECK(strstr(orch_error_message(), names[1]) != NULL);
	CHECK_INT(count_files(fx.packdir), 4);
	teardown(&fx);
}

/* The index cannot take its place (a directory has its name): no pack
 * without an index is left. */
TEST(a_joined_pack_whose_index_cannot_be_written_is_not_left)
{
	struct fixture fx;
	git_oid oids[4];
	char names[2][41], joined[41], path[1024];
	const char *in[2] = {names[0], names[1]};
	FILE *f;

	setup(&fx);
	make_two_packs(names, oids, fx.repo);
	CHECK_INT(orch_pack_join(joined, fx.packdir, in, 2, 0), 0);
	snprintf(path, sizeof(path), "%spack-%s.pack", fx.packdir, joined);
	CHECK_INT(unlink(path), 0);
	snprintf(path, sizeof(path), "%spack-%s.idx", fx.packdir, joined);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%spack-%s.idx/x", fx.packdir, joined);
	if (!(f = fopen(path, "w")))
		abort();
	fclose(f);
	CHECK(orch_pack_join(joined, fx.packdir, in, 2, 0) < 0);
	CHECK(strstr(orch_error_message(), ".idx") != NULL);
	/* the two packs, their indexes and the directory */
	CHECK_INT(count_files(fx.packdir), 5);
	CHECK_INT(file_size(fx.packdir, joined, "pack"), -1);
	teardown(&fx);
}

/* Joined again while the joined pack is there: it is left as it is. */
TEST(a_join_that_is_there_already_is_left_as_it_is)
{
	struct fixture fx;
	git_oid oids[4];
	char names[2][41], joined[41], again[41], path[1024];
	const char *in[2] = {names[0], names[1]};
	struct stat before, after;

	setup(&fx);
	make_two_packs(names, oids, fx.repo);
	CHECK_INT(orch_pack_join(joined, fx.packdir, in, 2, 0), 0);
	snprintf(path, sizeof(path), "%spack-%s.pack", fx.packdir, joined);
	CHECK_INT(stat(path, &before), 0);
	CHECK_INT(orch_pack_join(again, fx.packdir, in, 2, 0), 0);
	CHECK_STR(again, joined);
	CHECK_INT(stat(path, &after), 0);
	CHECK(before.st_ino == after.st_ino);
	CHECK_INT(count_files(fx.packdir), 6);
	teardown(&fx);
}

static const unit_test tests[] = {
    T(sha1_gives_the_standard_digests),
    T(joined_packs_give_the_pack_and_index_the_indexer_gives),
    T(packs_that_share_an_object_are_not_joined),
    T(a_damaged_index_is_an_error_that_names_its_pack),
    T(a_joined_pack_whose_index_cannot_be_written_is_not_left),
    T(a_join_that_is_there_already_is_left_as_it_is),
};

UNIT_MAIN(tests)
