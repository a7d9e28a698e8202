#include "unit.h"
#include "store.h"
#include "store_internal.h"
#include "util.h"

#include <dirent.h>

#include <git2.h>

/*
 * The packer (store_pack.c) on a fresh repository: objects written through
 * the repository are recorded, packed, and their loose copies removed; a
 * second handle, as another process has, reads every one of them.
 */
struct fixture {
	char path[256];
	git_repository *repo;
	orch_packer *pk;
};

static void setup(struct fixture *fx)
{
	git_libgit2_init();
	snprintf(fx->path, sizeof(fx->path), "%s", unit_tmpdir());
	if (git_repository_init(&fx->repo, fx->path, 0) < 0 ||
	    orch_packer_new(&fx->pk, fx->repo) < 0)
		abort();
}

static void teardown(struct fixture *fx)
{
	orch_packer_free(fx->pk);
	git_repository_free(fx->repo);
	git_libgit2_shutdown();
}

static void write_blob(git_oid *out, git_repository *repo, int n)
{
	char text[64];

	snprintf(text, sizeof(text), "object number %d\n", n);
	if (git_blob_create_from_buffer(out, repo, text, strlen(text)) < 0)
		abort();
}

static int loose_exists(const struct fixture *fx, const git_oid *oid)
{
	char hex[GIT_OID_HEXSZ + 1], path[512];
	struct stat st;

	git_oid_tostr(hex, sizeof(hex), oid);
	snprintf(path, sizeof(path), "%s/.git/objects/%.2s/%s", fx->path, hex,
	         hex + 2);
	return stat(path, &st) == 0;
}

static int unlink_loose(const struct fixture *fx, const git_oid *oid)
{
	char hex[GIT_OID_HEXSZ + 1], path[512];

	git_oid_tostr(hex, sizeof(hex), oid);
	snprintf(path, sizeof(path), "%s/.git/objects/%.2s/%s", fx->path, hex,
	         hex + 2);
	return unlink(path);
}

/* Files named *.<ext> in objects/pack. */
static int count_packs(const struct fixture *fx, const char *ext)
{
	char path[512];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "%s/.git/objects/pack", fx->path);
	if (!(dir = opendir(path)))
		return 0;
	while ((e = readdir(dir))) {
		const char *dot = strrchr(e->d_name, '.');
		if (dot && !strcmp(dot + 1, ext))
			n++;
	}
	closedir(dir);
	return n;
}

/* Version `n` of a 4 KB text: each differs from the others in one line. */
static void write_version(git_oid *out, git_repository *repo, int n)
{
	orch_buf text = {0};

	for (int line = 0; line < 100; line++)
		orch_buf_printf(&text, "line %d of the text, %s\n", line,
		                line == n ? "changed" : "as it was");
	if (git_blob_create_from_buffer(out, repo, text.ptr, text.len) < 0)
		abort();
	orch_buf_free(&text);
}

/* Objects 0 <= i < n written by `write` into oids[i], the packer offered a
 * pack after each (it packs once it has its limit). */
static void write_each_packing(struct fixture *fx, git_oid *oids, int n,
                               void (*write)(git_oid *, git_repository *, int))
{
	for (int i = 0; i < n; i++) {
		write(&oids[i], fx->repo, i);
		CHECK_INT(orch_packer_pack(fx->pk, 0), 0);
	}
}

/* Every object readable through a handle opened now (another process). */
static int all_readable(const struct fixture *fx, const git_oid *oids, size_t n)
{
	git_repository *other = NULL;
	git_odb *odb = NULL;
	int ok = 1;

	if (git_repository_open(&other, fx->path) < 0 ||
	    git_repository_odb(&odb, other) < 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		git_odb_object *obj = NULL;
		if (git_odb_read(&obj, odb, &oids[i]) < 0)
			ok = 0;
		git_odb_object_free(obj);
	}
	git_odb_free(odb);
	git_repository_free(other);
	return ok;
}

/* Files under .git/orchestrate/trash/<dir>/, all directories together. */
static int count_trash(const struct fixture *fx)
{
	char path[512], sub[1024];
	struct dirent *e, *f;
	DIR *dir, *inner;
	int n = 0;

	snprintf(path, sizeof(path), "%s/.git/orchestrate/trash", fx->path);
	if (!(dir = opendir(path)))
		return 0;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (!(inner = opendir(sub)))
			continue;
		while ((f = readdir(inner)))
			n += f->d_name[0] != '.';
		closedir(inner);
	}
	closedir(dir);
	return n;
}

TEST(below_the_limit_objects_stay_loose)
{
	struct fixture fx;
	git_oid oids[3];

	setup(&fx);
	orch_packer_set_limits(fx.pk, 4, 3);
	for (int i = 0; i < 3; i++)
		write_blob(&oids[i], fx.repo, i);
	CHECK_INT(orch_packer_pack(fx.pk, 0), 0);
	CHECK_INT(count_packs(&fx, "pack"), 0);
	for (int i = 0; i < 3; i++)
		CHECK(loose_exists(&fx, &oids[i]));
	teardown(&fx);
}

TEST(at_the_limit_objects_move_into_a_pack)
{
	struct fixture fx;
	git_oid oids[4];

	setup(&fx);
	orch_packer_set_limits(fx.pk, 4, 3);
	for (int i = 0; i < 4; i++)
		write_blob(&oids[i], fx.repo, i);
	CHECK_INT(orch_packer_pack(fx.pk, 0), 0);
	CHECK_INT(count_packs(&fx, "pack"), 1);
	CHECK_INT(count_packs(&fx, "idx"), 1);
	for (int i = 0; i < 4; i++)
		CHECK(!loose_exists(&fx, &oids[i]));
	CHECK(all_readable(&fx, oids, 4));
	/* and through the handle that wrote them */
	for (int i = 0; i < 4; i++) {
		git_blob *blob = NULL;
		CHECK_INT(git_blob_lookup(&blob, fx.repo, &oids[i]), 0);
		git_blob_free(blob);
	}
	teardown(&fx);
}

TEST(packs_of_a_level_merge_and_every_object_stays)
{
	struct fixture fx;
	git_oid oids[12];

	setup(&fx);
	orch_packer_set_limits(fx.pk, 2, 3);
	for (int i = 0; i < 12; i++) {
		write_blob(&oids[i], fx.repo, i);
		CHECK_INT(orch_packer_pack(fx.pk, 0), 0);
		/* never more than fanin - 1 packs a level, 2 levels here */
		CHECK(count_packs(&fx, "pack") <= 4);
	}
	/* 6 packs of 2: merged into 2 of 6 at level 1 */
	CHECK_INT(count_packs(&fx, "pack"), 2);
	CHECK_INT(count_packs(&fx, "idx"), 2);
	CHECK(all_readable(&fx, oids, 12));
	teardown(&fx);
}

TEST(finish_leaves_one_pack_with_everything)
{
	struct fixture fx;
	git_oid oids[7];

	setup(&fx);
	orch_packer_set_limits(fx.pk, 3, 8);
	write_each_packing(&fx, oids, 7, write_blob);
	CHECK_INT(count_packs(&fx, "pack"), 2);
	CHECK(loose_exists(&fx, &oids[6]));
	CHECK_INT(orch_packer_finish(fx.pk), 0);
	CHECK_INT(count_packs(&fx, "pack"), 1);
	CHECK(!loose_exists(&fx, &oids[6]));
	CHECK(all_readable(&fx, oids, 7));
	teardown(&fx);
}

TEST(finish_merges_the_small_packs_and_leaves_merged_ones)
{
	struct fixture fx;
	git_oid oids[9];

	setup(&fx);
	orch_packer_set_limits(fx.pk, 2, 3);
	write_each_packing(&fx, oids, 9, write_blob);
	/* 3 packs of 2 merged into one of 6 at level 1, then one of 2 */
	CHECK_INT(count_packs(&fx, "pack"), 2);
	CHECK(loose_exists(&fx, &oids[8]));
	CHECK_INT(orch_packer_finish(fx.pk), 0);
	/* the one of 6 stays; the one of 2 and a pack of the last object
	 * are merged into one */
	CHECK_INT(count_packs(&fx, "pack"), 2);
	CHECK_INT(count_packs(&fx, "idx"), 2);
	CHECK(!loose_exists(&fx, &oids[8]));
	CHECK(all_readable(&fx, oids, 9));
	teardown(&fx);
}

TEST(two_packers_on_one_repository_share_the_backend)
{
	struct fixture fx;
	orch_packer *second = NULL;
	git_odb *odb = NULL;
	size_t before;
	git_oid oid;

	setup(&fx);
	if (git_repository_odb(&odb, fx.repo) < 0)
		abort();
	before = git_odb_num_backends(odb);
	CHECK_INT(orch_packer_new(&second, fx.repo), 0);
	CHECK_INT(git_odb_num_backends(odb), before);
	write_blob(&oid, fx.repo, 1);
	orch_packer_free(second);
	/* still recorded for the first */
	CHECK_INT(orch_packer_finish(fx.pk), 0);
	CHECK(!loose_exists(&fx, &oid));
	CHECK(all_readable(&fx, &oid, 1));
	git_odb_free(odb);
	teardown(&fx);
}

TEST(objects_written_through_another_handle_are_recorded_too)
{
	struct fixture fx;
	git_repository *other = NULL, *third = NULL;
	git_oid a, b;

	setup(&fx);
	if (git_repository_open(&other, fx.path) < 0 ||
	    git_repository_open(&third, fx.path) < 0)
		abort();
	CHECK_INT(orch_store_record_objects_of(other, fx.repo), 0);
	write_blob(&a, other, 1);
	write_blob(&b, third, 2); /* not shared: stays loose */
	git_repository_free(other);
	CHECK_INT(orch_packer_finish(fx.pk), 0);
	CHECK(!loose_exists(&fx, &a));
	CHECK(loose_exists(&fx, &b));
	CHECK(all_readable(&fx, &a, 1));
	git_repository_free(third);
	teardown(&fx);
}

static int open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	if (!dir)
		return -1;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

TEST(packs_merged_away_do_not_keep_files_open)
{
	struct fixture fx;
	int before;

	setup(&fx);
	orch_packer_set_limits(fx.pk, 1, 2);
	before = open_fds();
	for (int i = 0; i < 400; i++) {
		git_blob *blob = NULL;
		git_oid oid;
		write_blob(&oid, fx.repo, i);
		CHECK_INT(orch_packer_pack(fx.pk, 0), 0);
		/* read from the pack it is in now */
		CHECK_INT(git_blob_lookup(&blob, fx.repo, &oid), 0);
		git_blob_free(blob);
	}
	CHECK(open_fds() - before <= 140);
	teardown(&fx);
}

TEST(after_a_failed_pack_the_objects_stay_loose_and_are_not_retried)
{
	struct fixture fx;
	git_oid a, b;
	char *text = orch_malloc(300 * 1024);

	setup(&fx);
	orch_packer_set_limits(fx.pk, 2, 8);
	/* an object too large to be kept in memory, gone from under it,
	 * makes the pack fail */
	memset(text, 'x', 300 * 1024);
	CHECK_INT(git_blob_create_from_buffer(&a, fx.repo, text, 300 * 1024),
	          0);
	write_blob(&b, fx.repo, 2);
	CHECK_INT(unlink_loose(&fx, &a), 0);
	CHECK(orch_packer_pack(fx.pk, 0) < 0);
	CHECK(loose_exists(&fx, &b));
	CHECK_INT(orch_packer_pack(fx.pk, 1), 0);
	CHECK_INT(count_packs(&fx, "pack"), 0);
	CHECK(loose_exists(&fx, &b));
	free(text);
	teardown(&fx);
}

TEST(objects_already_stored_are_not_recorded_again)
{
	struct fixture fx;
	git_oid a, b;

	setup(&fx);
	orch_packer_set_limits(fx.pk, 2, 8);
	write_blob(&a, fx.repo, 1);
	write_blob(&b, fx.repo, 1);
	CHECK(git_oid_equal(&a, &b));
	CHECK_INT(orch_packer_pack(fx.pk, 0), 0);
	CHECK_INT(count_packs(&fx, "pack"), 0);
	teardown(&fx);
}

/* Bytes in the pack files of objects/pack. */
static long pack_bytes(const struct fixture *fx)
{
	char path[512];
	struct dirent *e;
	struct stat st;
	DIR *dir;
	long total = 0;

	snprintf(path, sizeof(path), "%s/.git/objects/pack", fx->path);
	if (!(dir = opendir(path)))
		return 0;
	while ((e = readdir(dir))) {
		const char *dot = strrchr(e->d_name, '.');
		char file[1024];
		if (!dot || strcmp(dot, ".pack"))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		if (stat(file, &st) == 0)
			total += (long)st.st_size;
	}
	closedir(dir);
	return total;
}

/* A made-up object id from three numbers. */
static void fake_oid(unsigned char *out, unsigned a, unsigned b, unsigned c)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < GIT_OID_RAWSZ; i++) {
		h = (h ^ (a + 31 * b + 1009 * c + (unsigned)i)) * 16777619u;
		h ^= h >> 13;
		out[i] = (unsigned char)h;
	}
}

/*
 * Versions of several trees of 256 entries, all of one size, written in
 * turn as a run writes tasks/, logs/ and the notes: each version is packed
 * as a small delta of the last version of the same tree, however far back
 * in the order of writing it is.
 */
TEST(versions_of_one_tree_are_deltas_of_each_other_among_others)
{
	enum { KINDS = 12, VERSIONS = 30 };
	struct fixture fx;
	git_odb *odb = NULL;
	unsigned char tree[256 * 30];

	setup(&fx);
	orch_packer_set_limits(fx.pk, 100000, 8);
	CHECK_INT(git_repository_odb(&odb, fx.repo), 0);
	for (unsigned v = 0; v < VERSIONS; v++) {
		for (unsigned k = 0; k < KINDS; k++) {
			unsigned char *at = tree;
			git_oid oid;
			for (unsigned j = 0; j < 256; j++) {
				/* entry 1 + v changes with each version */
				at += sprintf((char *)at, "100644 %02x", j) + 1;
				fake_oid(at, k, j, j == 1 + v ? v + 1 : 0);
				at += GIT_OID_RAWSZ;
			}
			CHECK_INT(git_odb_write(&oid, odb, tree,
			                        (size_t)(at - tree),
			                        GIT_OBJECT_TREE),
			          0);
		}
	}
	CHECK_INT(orch_packer_pack(fx.pk, 1), 0);
	CHECK_INT(count_packs(&fx, "pack"), 1);
	/* whole, each is about 6 KB: 360 of them would be 2 MB */
	CHECK(pack_bytes(&fx) < 300 * 1000);
	git_odb_free(odb);
	teardown(&fx);
}

TEST(packed_loose_copies_wait_in_the_trash_until_the_packer_is_freed)
{
	struct fixture fx;
	git_oid oids[4];

	setup(&fx);
	orch_packer_set_limits(fx.pk, 4, 3);
	for (int i = 0; i < 4; i++)
		write_blob(&oids[i], fx.repo, i);
	CHECK_INT(count_trash(&fx), 0);
	CHECK_INT(orch_packer_pack(fx.pk, 0), 0);
	for (int i = 0; i < 4; i++)
		CHECK(!loose_exists(&fx, &oids[i]));
	/* moved, not removed: no inode is freed while the run goes on */
	CHECK_INT(count_trash(&fx), 4);
	CHECK(all_readable(&fx, oids, 4));
	orch_packer_free(fx.pk);
	fx.pk = NULL;
	CHECK_INT(count_trash(&fx), 0);
	CHECK(all_readable(&fx, oids, 4));
	teardown(&fx);
}

TEST(merged_packs_are_joined_as_they_are_not_packed_anew)
{
	struct fixture fx;
	git_oid oids[6];
	long before;

	setup(&fx);
	orch_packer_set_limits(fx.pk, 2, 100);
	write_each_packing(&fx, oids, 6, write_version);
	CHECK_INT(count_packs(&fx, "pack"), 3);
	before = pack_bytes(&fx);
	CHECK_INT(orch_packer_finish(fx.pk), 0);
	CHECK_INT(count_packs(&fx, "pack"), 1);
	/* their entries under one header and one checksum: packed anew,
	 * the versions would be deltas across the three, and smaller */
	CHECK(pack_bytes(&fx) == before - 2 * 32);
	CHECK(all_readable(&fx, oids, 6));
	teardown(&fx);
}

TEST(objects_not_packed_yet_are_read_and_packed_from_a_copy)
{
	struct fixture fx;
	git_oid oids[3];
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;

	setup(&fx);
	orch_packer_set_limits(fx.pk, 3, 8);
	write_blob(&oids[0], fx.repo, 0);
	/* its file gone, the object is still read from the copy */
	CHECK_INT(unlink_loose(&fx, &oids[0]), 0);
	CHECK_INT(git_repository_odb(&odb, fx.repo), 0);
	CHECK_INT(git_odb_read(&obj, odb, &oids[0]), 0);
	CHECK(obj && git_odb_object_size(obj) == strlen("object number 0\n"));
	git_odb_object_free(obj);
	git_odb_free(odb);
	write_blob(&oids[1], fx.repo, 1);
	write_blob(&oids[2], fx.repo, 2);
	/* and packed from it */
	CHECK_INT(orch_packer_pack(fx.pk, 0), 0);
	CHECK_INT(count_packs(&fx, "pack"), 1);
	CHECK(all_readable(&fx, oids, 3));
	teardown(&fx);
}

TEST(a_large_object_is_not_copied)
{
	struct fixture fx;
	git_oid big;
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	char *text = orch_malloc(300 * 1024);

	setup(&fx);
	orch_packer_set_limits(fx.pk, 100, 8);
	memset(text, 'x', 300 * 1024);
	CHECK_INT(git_blob_create_from_buffer(&big, fx.repo, text, 300 * 1024),
	          0);
	CHECK_INT(unlink_loose(&fx, &big), 0);
	CHECK_INT(git_repository_odb(&odb, fx.repo), 0);
	CHECK(git_odb_read(&obj, odb, &big) < 0);
	git_odb_object_free(obj);
	git_odb_free(odb);
	free(text);
	teardown(&fx);
}

TEST(a_pack_repacked_away_by_someone_else_is_merged_from_where_its_objects_are)
{
	struct fixture fx;
	git_oid oids[6];
	git_packbuilder *pb = NULL;
	char dir[512], name[300] = "", path[1024];
	struct dirent *e;
	DIR *d;

	setup(&fx);
	orch_packer_set_limits(fx.pk, 2, 100);
	write_each_packing(&fx, oids, 6, write_version);
	CHECK_INT(count_packs(&fx, "pack"), 3);
	/* one of the packer's packs, by name */
	snprintf(dir, sizeof(dir), "%s/.git/objects/pack", fx.path);
	CHECK((d = opendir(dir)) != NULL);
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, ".idx")) {
			snprintf(name, sizeof(name), "%.*s",
			         (int)(strlen(e->d_name) - 4), e->d_name);
			break;
		}
	if (d)
		closedir(d);
	CHECK(name[0] != '\0');
	/* what `git gc` does meanwhile: every object into a pack of its
	 * own, then the packs it replaced removed (one, here) */
	CHECK_INT(git_packbuilder_new(&pb, fx.repo), 0);
	for (int i = 0; i < 6; i++)
		CHECK_INT(git_packbuilder_insert(pb, &oids[i], NULL), 0);
	CHECK_INT(git_packbuilder_write(pb, NULL, 0, NULL, NULL), 0);
	git_packbuilder_free(pb);
	snprintf(path, sizeof(path), "%s/%s.idx", dir, name);
	CHECK_INT(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/%s.pack", dir, name);
	CHECK_INT(unlink(path), 0);
	/* the merge still happens, packed anew from where they are */
	CHECK_INT(orch_packer_finish(fx.pk), 0);
	CHECK(all_readable(&fx, oids, 6));
	teardown(&fx);
}

/* A pack of blobs n..n+2 written through `repo` as a fetch would: not by
 * the packer. Its name in `name`. */
static void write_other_pack(char name[GIT_OID_HEXSZ + 1], git_repository *repo,
                             int n)
{
	git_packbuilder *pb = NULL;
	git_oid oid;

	if (git_packbuilder_new(&pb, repo) < 0)
		abort();
	for (int i = n; i < n + 3; i++) {
		write_blob(&oid, repo, i);
		if (git_packbuilder_insert(pb, &oid, NULL) < 0)
			abort();
	}
	if (git_packbuilder_write(pb, NULL, 0, NULL, NULL) < 0)
		abort();
	snprintf(name, GIT_OID_HEXSZ + 1, "%s", git_packbuilder_name(pb));
	git_packbuilder_free(pb);
}

/* A pack of one blob of 16 MiB and a bit, bytes that do not compress. */
static void write_large_pack(char name[GIT_OID_HEXSZ + 1], git_repository *repo)
{
	size_t len = 16 * 1024 * 1024 + 65536;
	unsigned char *data = malloc(len);
	uint32_t x = 2463534242u;
	git_packbuilder *pb = NULL;
	git_oid oid;

	if (!data)
		abort();
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	if (git_blob_create_from_buffer(&oid, repo, data, len) < 0 ||
	    git_packbuilder_new(&pb, repo) < 0 ||
	    git_packbuilder_insert(pb, &oid, NULL) < 0 ||
	    git_packbuilder_write(pb, NULL, 0, NULL, NULL) < 0)
		abort();
	snprintf(name, GIT_OID_HEXSZ + 1, "%s", git_packbuilder_name(pb));
	git_packbuilder_free(pb);
	free(data);
}

static int pack_there(const struct fixture *fx, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/.git/objects/pack/pack-%s.idx",
	         fx->path, name);
	return stat(path, &st) == 0;
}

TEST(
    packs_fetched_during_a_run_are_merged_at_its_end_not_earlier_kept_or_large_ones)
{
	struct fixture fx;
	git_repository *other;
	char before[GIT_OID_HEXSZ + 1], b1[GIT_OID_HEXSZ + 1],
	    b2[GIT_OID_HEXSZ + 1], kept[GIT_OID_HEXSZ + 1],
	    large[GIT_OID_HEXSZ + 1], path[512];
	git_oid oids[12];
	FILE *f;

	git_libgit2_init();
	snprintf(fx.path, sizeof(fx.path), "%s", unit_tmpdir());
	if (git_repository_init(&fx.repo, fx.path, 0) < 0)
		abort();
	write_other_pack(before, fx.repo, 0);
	if (orch_packer_new(&fx.pk, fx.repo) < 0 ||
	    git_repository_open(&other, fx.path) < 0)
		abort();
	/* during the run, through another handle (not recorded) */
	write_other_pack(b1, other, 3);
	write_other_pack(b2, other, 6);
	write_other_pack(kept, other, 9);
	snprintf(path, sizeof(path), "%s/.git/objects/pack/pack-%s.keep",
	         fx.path, kept);
	if (!(f = fopen(path, "w")))
		abort();
	fclose(f);
	/* as `git gc` would write one of the whole repository */
	write_large_pack(large, other);
	CHECK_INT(count_packs(&fx, "pack"), 5);
	CHECK_INT(orch_packer_finish(fx.pk), 0);
	CHECK_INT(count_packs(&fx, "pack"), 4);
	CHECK(pack_there(&fx, before));
	CHECK(pack_there(&fx, kept));
	CHECK(pack_there(&fx, large));
	CHECK(!pack_there(&fx, b1));
	CHECK(!pack_there(&fx, b2));
	for (int i = 0; i < 12; i++)
		write_blob(&oids[i], other, i);
	CHECK(all_readable(&fx, oids, 12));
	git_repository_free(other);
	teardown(&fx);
}

static const unit_test tests[] = {
    T(a_pack_repacked_away_by_someone_else_is_merged_from_where_its_objects_are),
    T(objects_not_packed_yet_are_read_and_packed_from_a_copy),
    T(a_large_object_is_not_copied),
    T(merged_packs_are_joined_as_they_are_not_packed_anew),
    T(packed_loose_copies_wait_in_the_trash_until_the_packer_is_freed),
    T(below_the_limit_objects_stay_loose),
    T(at_the_limit_objects_move_into_a_pack),
    T(packs_of_a_level_merge_and_every_object_stays),
    T(finish_leaves_one_pack_with_everything),
    T(finish_merges_the_small_packs_and_leaves_merged_ones),
    T(two_packers_on_one_repository_share_the_backend),
    T(objects_written_through_another_handle_are_recorded_too),
    T(packs_merged_away_do_not_keep_files_open),
    T(after_a_failed_pack_the_objects_stay_loose_and_are_not_retried),
    T(objects_already_stored_are_not_recorded_again),
    T(versions_of_one_tree_are_deltas_of_each_other_among_others),
    T(packs_fetched_during_a_run_are_merged_at_its_end_not_earlier_kept_or_large_ones),
};

UNIT_MAIN(tests)
