/*
 * Objects written during a run end up in packs, not loose files (SPEC 5,
 * cost at scale).
 *
 * An object database backend of our own, consulted before the
 * repository's, writes every new object as a loose file, exactly as libgit2
 * would (so an object is on disk before any ref can name it, whatever
 * happens to the process afterwards), and records its id. Every
 * PACK_OBJECTS recorded objects, and at the end of a run, they are written
 * as one pack (git_packbuilder, through libgit2's indexer: the .pack and
 * then its .idx appear by rename), and only then are their loose files
 * removed, the way `git prune-packed` does: a reader that misses a loose
 * object looks in the packs again and finds it there.
 *
 * Why not keep new objects in memory and write a pack before each ref
 * update? Every state change moves a ref, so that makes a pack per change,
 * and libgit2 (1.5) keeps every pack it has seen in a process in its list
 * for good, deleted or not: lookups then slow down with every change.
 *
 * The packs accumulate too: every PACK_FANIN packs of one level are
 * merged into one of the next (the number of packs stays small), and
 * orch_store_finish merges the packs of the first level into one at the
 * end of a run. A merge joins the packs as they are (pack.h): their
 * entries are copied, not unpacked and delta-searched again, which
 * repacking them with the packbuilder did (a quarter of the CPU time of a
 * 10,000-task run). Only packs that cannot be joined (that share an
 * object, or one of which is gone) are packed anew. A run leaves its
 * larger packs as they are: a handful of packs per run is what `git gc
 * --auto` tidies anyway. A merge writes the new pack first
 * and only then removes the ones it replaces (their .idx first), as
 * `git repack -d` does. Only packs this process wrote are merged, and
 * those that appeared while it ran (a fetch of a result through a
 * `remote` writes one each: adopt_packs), and all their objects go into
 * the new pack, reachable or not (another process may have come to rely
 * on any of them).
 *
 * The loose copies of packed objects are moved into a trash (trash.h),
 * removed when the store is closed, not one by one as they are packed.
 */
#include "store_internal.h"

#include <dirent.h>
#include <git2/sys/odb_backend.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "pack.h"
#include "trash.h"

/*
 * Objects written loose before they are packed: fewer, larger packs cost
 * less to write and to look objects up in; well below the 6,700 loose
 * objects at which a task's own git commands would start `git gc --auto`.
 */
#define PACK_OBJECTS 2048
/* Pack files libgit2 keeps open at most (it has no limit by default). */
#define PACK_FILES_OPEN 128
/* Packs of one level merged into one of the next. */
#define PACK_FANIN 8
/* The level of the packs a finished run merged: not merged again. */
#define FINISHED_LEVEL 64

/* An object written: its id and its delta group (object_hint). */
struct recorded {
	git_oid oid;
	uint32_t hint;
};

/* A copy of an object recorded and not packed yet (struct record_list). */
struct kept {
	git_oid oid;
	git_object_t type; /* 0: a free slot */
	size_t len;
	void *data;
};

/*
 * The ids recorded, shared by the backends of handles on one repository,
 * and a copy of what they hold: the run reads back much of what it wrote
 * a moment ago (the trees it changes next), and the packer reads all of
 * it. From memory that is a hash lookup; from a loose file it is an open,
 * a read and an inflate (a sixth of the run's time at 10,000 tasks). The
 * copies go when their objects are packed. Objects over KEEP_OBJECT_MAX,
 * and any past KEEP_BYTES_MAX in all, are read from their files.
 */
struct record_list {
	int refs;                 /* backends holding it */
	int users;                /* packers attached: record while > 0 */
	struct recorded *written; /* recorded, not packed yet */
	size_t nwritten, cap;
	struct kept *kept; /* open addressing; cap a power of two or 0 */
	size_t nkept, kept_cap, kept_bytes;
};

#define KEEP_OBJECT_MAX (256 * 1024)
#define KEEP_BYTES_MAX (64 * 1024 * 1024)

static size_t kept_slot(const struct kept *table, size_t cap,
                        const git_oid *oid)
{
	size_t i;

	/* an object id is a hash already */
	memcpy(&i, oid->id, sizeof(i));
	for (i &= cap - 1; table[i].type && !git_oid_equal(&table[i].oid, oid);
	     i = (i + 1) & (cap - 1))
		;
	return i;
}

static const struct kept *kept_find(const struct record_list *l,
                                    const git_oid *oid)
{
	const struct kept *k;

	if (!l->nkept)
		return NULL;
	k = &l->kept[kept_slot(l->kept, l->kept_cap, oid)];
	return k->type ? k : NULL;
}

static void kept_put(struct record_list *l, const git_oid *oid,
                     const void *data, size_t len, git_object_t type)
{
	struct kept *k;

	if (len > KEEP_OBJECT_MAX || l->kept_bytes + len > KEEP_BYTES_MAX)
		return;
	if (2 * (l->nkept + 1) > l->kept_cap) {
		size_t cap = l->kept_cap ? 2 * l->kept_cap : 1024;
		struct kept *table = orch_calloc(cap, sizeof(*table));
		for (size_t i = 0; i < l->kept_cap; i++)
			if (l->kept[i].type)
				table[kept_slot(table, cap, &l->kept[i].oid)] =
				    l->kept[i];
		free(l->kept);
		l->kept = table;
		l->kept_cap = cap;
	}
	k = &l->kept[kept_slot(l->kept, l->kept_cap, oid)];
	if (k->type)
		return;
	git_oid_cpy(&k->oid, oid);
	k->type = type;
	k->len = len;
	k->data = orch_malloc(len + 1);
	memcpy(k->data, data, len);
	l->nkept++;
	l->kept_bytes += len;
}

static void kept_clear(struct record_list *l)
{
	for (size_t i = 0; i < l->kept_cap && l->nkept; i++)
		if (l->kept[i].type) {
			free(l->kept[i].data);
			l->kept[i].type = 0;
			l->nkept--;
		}
	l->nkept = l->kept_bytes = 0;
}

struct record_backend {
	git_odb_backend parent;
	git_odb_backend *loose; /* where the objects are written */
	struct record_list *list;
};

struct our_pack {
	char name[GIT_OID_HEXSZ + 1];
	struct recorded *objects;
	size_t n;
	int level;
};

struct orch_packer {
	git_repository *repo;
	struct record_backend *backend; /* owned by the repository's odb */
	char *objects;                  /* the objects directory, with '/' */
	struct our_pack *packs;
	size_t npacks;
	size_t pack_objects; /* PACK_OBJECTS unless a test says otherwise */
	size_t fanin;        /* PACK_FANIN likewise */
	orch_trash *trash;   /* where the packed loose copies go */
	int fsync;           /* core.fsyncObjectFiles */
	/* the packs there were when the packer was made, sorted: not ours */
	char (*before)[GIT_OID_HEXSZ + 1];
	size_t nbefore;
};

/*
 * Which objects the packbuilder should try as delta bases of each other:
 * it sorts the objects by type, then by a hash of the name each was
 * inserted with, then by size, and tries each against the ten before it.
 * Objects come without names here, and the largest, the trees of 256
 * subtrees (tasks/, logs/, the notes), are all 7,424 bytes: sorted by size
 * alone the versions of tasks/ and of the notes interleave, and each
 * delta search mostly compares trees with no entry in common (a third of
 * the packing time of a 10,000-task run). A tree's first entry (name and
 * id) changes in few of its versions and differs between those trees, so
 * it stands in for a name; other objects keep none.
 */
static uint32_t object_hint(const void *data, size_t len, git_object_t type)
{
	const char *bytes = data, *nul;

	if (type != GIT_OBJECT_TREE || len == 0 ||
	    !(nul = memchr(bytes, '\0', len)) ||
	    (size_t)(nul - bytes) + 1 + GIT_OID_RAWSZ > len)
		return 0;
	return orch_hash_fnv1a(bytes,
	                       (size_t)(nul - bytes) + 1 + GIT_OID_RAWSZ) |
	       1u;
}

/*
 * A loose object, as without this backend (libgit2 writes to the first
 * backend that can, a blob through a stream bound to it), and its id
 * recorded. The loose backend itself skips nothing: git_odb_write asked
 * every backend whether the object exists before.
 */
static int rb_write(git_odb_backend *backend, const git_oid *oid,
                    const void *data, size_t len, git_object_t type)
{
	struct record_backend *b = (struct record_backend *)backend;
	struct record_list *l = b->list;
	int error = b->loose->write(b->loose, oid, data, len, type);

	if (error == 0 && l->users > 0) {
		if (l->nwritten == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 256;
			l->written = orch_realloc(l->written,
			                          l->cap * sizeof(*l->written));
		}
		l->written[l->nwritten].hint = object_hint(data, len, type);
		git_oid_cpy(&l->written[l->nwritten++].oid, oid);
		kept_put(l, oid, data, len, type);
	}
	return error;
}

/* An object recorded and not packed yet, from its copy. */
static int rb_read(void **data, size_t *len, git_object_t *type,
                   git_odb_backend *backend, const git_oid *oid)
{
	const struct kept *k =
	    kept_find(((struct record_backend *)backend)->list, oid);

	if (!k)
		return GIT_ENOTFOUND;
	if (!(*data = git_odb_backend_data_alloc(backend, k->len + 1)))
		return -1;
	memcpy(*data, k->data, k->len);
	((char *)*data)[k->len] = '\0';
	*len = k->len;
	*type = k->type;
	return 0;
}

static int rb_read_header(size_t *len, git_object_t *type,
                          git_odb_backend *backend, const git_oid *oid)
{
	const struct kept *k =
	    kept_find(((struct record_backend *)backend)->list, oid);

	if (!k)
		return GIT_ENOTFOUND;
	*len = k->len;
	*type = k->type;
	return 0;
}

static void rb_free(git_odb_backend *backend)
{
	struct record_backend *b = (struct record_backend *)backend;

	b->loose->free(b->loose);
	if (--b->list->refs == 0) {
		kept_clear(b->list);
		free(b->list->kept);
		free(b->list->written);
		free(b->list);
	}
	free(b);
}

/* Our backend in `repo`'s odb, or NULL. */
static struct record_backend *find_backend(git_odb *odb)
{
	size_t n = git_odb_num_backends(odb);

	for (size_t i = 0; i < n; i++) {
		git_odb_backend *backend = NULL;
		if (git_odb_get_backend(&backend, odb, i) == 0 &&
		    backend->write == rb_write)
			return (struct record_backend *)backend;
	}
	return NULL;
}

/* core.fsyncObjectFiles of `repo`: flush what is written to disk first. */
static int fsync_objects(git_repository *repo)
{
	git_config *config = NULL;
	int fsync = 0;

	if (git_repository_config_snapshot(&config, repo) == 0 &&
	    git_config_get_bool(&fsync, config, "core.fsyncObjectFiles") < 0)
		fsync = 0;
	git_config_free(config);
	git_error_clear();
	return fsync;
}

/*
 * Our backend in the repository's odb, added when it has none; a new one
 * records into `list` (NULL: a list of its own).
 */
static int attach_backend(struct record_backend **out, git_repository *repo,
                          struct record_list *list)
{
	struct record_backend *b = NULL;
	git_buf objects = GIT_BUF_INIT;
	git_odb *odb = NULL;
	int error;

	if ((error = git_repository_odb(&odb, repo)) < 0)
		goto done;
	if ((*out = find_backend(odb)))
		goto done;
	if ((error = git_repository_item_path(&objects, repo,
	                                      GIT_REPOSITORY_ITEM_OBJECTS)) < 0)
		goto done;
	/* the loose backend libgit2 would use: same directory, same
	 * core.fsyncObjectFiles */
	b = orch_calloc(1, sizeof(*b));
	if ((error = git_odb_backend_loose(&b->loose, objects.ptr, -1,
	                                   fsync_objects(repo), 0, 0)) < 0) {
		free(b);
		goto done;
	}
	if (!list)
		list = orch_calloc(1, sizeof(*list));
	list->refs++;
	b->list = list;
	b->parent.version = GIT_ODB_BACKEND_VERSION;
	b->parent.write = rb_write;
	b->parent.read = rb_read;
	b->parent.read_header = rb_read_header;
	b->parent.free = rb_free;
	if ((error = git_odb_add_backend(odb, &b->parent, 999)) < 0) {
		rb_free(&b->parent);
		goto done;
	}
	*out = b;
done:
	git_error_clear();
	git_buf_dispose(&objects);
	git_odb_free(odb);
	return error < 0
	           ? orch_error_git(error, "cannot open the object database")
	           : 0;
}

int orch_store_record_objects_of(git_repository *other, git_repository *repo)
{
	struct record_backend *ours, *theirs = NULL;
	git_odb *odb = NULL;
	int error;

	if ((error = git_repository_odb(&odb, repo)) < 0)
		return orch_error_git(error, "cannot open the object database");
	ours = find_backend(odb);
	git_odb_free(odb);
	if (!ours)
		return 0;
	return attach_backend(&theirs, other, ours->list);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * The names of the packs in objects/pack/ that have an index (a pack is
 * complete once its index is there), sorted; what cannot be read is none.
 */
static void list_packs(orch_packer *pk, char (**out)[GIT_OID_HEXSZ + 1],
                       size_t *n)
{
	orch_buf path = {0};
	struct dirent *e;
	DIR *dir;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	orch_buf_printf(&path, "%spack", pk->objects);
	dir = opendir(path.ptr);
	orch_buf_free(&path);
	if (!dir)
		return;
	while ((e = readdir(dir)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len != 5 + GIT_OID_HEXSZ + 4 ||
		    strncmp(e->d_name, "pack-", 5) ||
		    strcmp(e->d_name + len - 4, ".idx"))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*out = orch_realloc(*out, cap * sizeof(**out));
		}
		memcpy((*out)[*n], e->d_name + 5, GIT_OID_HEXSZ);
		(*out)[(*n)++][GIT_OID_HEXSZ] = '\0';
	}
	closedir(dir);
	if (*n)
		qsort(*out, *n, sizeof(**out), by_name);
}

/*
 * The size of file pack-<name><suffix> in objects/pack/, or -1 when it is
 * not there.
 */
static long long pack_file_size(orch_packer *pk, const char *name,
                                const char *suffix)
{
	orch_buf path = {0};
	struct stat st;
	long long size;

	orch_buf_printf(&path, "%spack/pack-%s%s", pk->objects, name, suffix);
	size = stat(path.ptr, &st) == 0 ? (long long)st.st_size : -1;
	orch_buf_free(&path);
	return size;
}

int orch_packer_new(orch_packer **out, git_repository *repo)
{
	orch_packer *pk = orch_calloc(1, sizeof(*pk));
	git_buf dir = GIT_BUF_INIT;
	size_t files = 0;
	int error;

	*out = NULL;
	/*
	 * libgit2 keeps a pack it has read from open, even once a merge has
	 * removed it: without a limit a long run would pile up descriptors.
	 */
	if (git_libgit2_opts(GIT_OPT_GET_MWINDOW_FILE_LIMIT, &files) == 0 &&
	    files == 0)
		git_libgit2_opts(GIT_OPT_SET_MWINDOW_FILE_LIMIT,
		                 (size_t)PACK_FILES_OPEN);
	if ((error = git_repository_item_path(
	         &dir, repo, GIT_REPOSITORY_ITEM_OBJECTS)) < 0) {
		free(pk);
		return orch_error_git(error, "cannot find the object database");
	}
	pk->repo = repo;
	pk->objects = orch_strdup(dir.ptr);
	git_buf_dispose(&dir);
	if ((error = attach_backend(&pk->backend, repo, NULL)) < 0) {
		free(pk->objects);
		free(pk);
		return error;
	}
	pk->backend->list->users++;
	pk->pack_objects = PACK_OBJECTS;
	pk->fanin = PACK_FANIN;
	pk->trash = orch_trash_new(git_repository_commondir(repo));
	pk->fsync = fsync_objects(repo);
	list_packs(pk, &pk->before, &pk->nbefore);
	*out = pk;
	return 0;
}

void orch_packer_set_limits(orch_packer *pk, size_t objects, size_t fanin)
{
	pk->pack_objects = objects;
	pk->fanin = fanin;
}

orch_trash *orch_packer_trash(orch_packer *pk)
{
	return pk->trash;
}

void orch_packer_free(orch_packer *pk)
{
	if (!pk)
		return;
	orch_trash_free(pk->trash);
	/* what is recorded and not packed stays loose, as it is */
	if (--pk->backend->list->users == 0) {
		pk->backend->list->nwritten = 0;
		kept_clear(pk->backend->list);
	}
	for (size_t i = 0; i < pk->npacks; i++)
		free(pk->packs[i].objects);
	free(pk->packs);
	free(pk->before);
	free(pk->objects);
	free(pk);
}

/* Remove pack `name` of the repository: its index first. */
static void remove_pack(orch_packer *pk, const char *name)
{
	orch_buf path = {0};

	orch_buf_printf(&path, "%spack/pack-%s.idx", pk->objects, name);
	unlink(path.ptr);
	orch_buf_clear(&path);
	orch_buf_printf(&path, "%spack/pack-%s.pack", pk->objects, name);
	unlink(path.ptr);
	orch_buf_free(&path);
}

/* Record pack `name` of objects[0..n) at `level`, taking `objects`. */
static void add_pack(orch_packer *pk, const char *name,
                     struct recorded *objects, size_t n, int level)
{
	struct our_pack *pack;

	pk->packs =
	    orch_realloc(pk->packs, (pk->npacks + 1) * sizeof(*pk->packs));
	pack = &pk->packs[pk->npacks++];
	snprintf(pack->name, sizeof(pack->name), "%s", name);
	pack->objects = objects;
	pack->n = n;
	pack->level = level;
}

/*
 * Write objects[0..n) (readable through the repository) as one pack;
 * record it at `level`, taking `objects`.
 */
static int write_pack(orch_packer *pk, struct recorded *objects, size_t n,
                      int level)
{
	git_packbuilder *pb = NULL;
	char name[16];
	int error;

	if ((error = git_packbuilder_new(&pb, pk->repo)) < 0)
		goto done;
	git_packbuilder_set_threads(pb, 1);
	for (size_t i = 0; i < n; i++) {
		if (objects[i].hint)
			snprintf(name, sizeof(name), "%08x", objects[i].hint);
		if ((error = git_packbuilder_insert(
		         pb, &objects[i].oid, objects[i].hint ? name : NULL)) <
		    0)
			goto done;
	}
	if ((error = git_packbuilder_write(pb, NULL, 0, NULL, NULL)) < 0)
		goto done;
	add_pack(pk, git_packbuilder_name(pb), objects, n, level);
	objects = NULL;
done:
	git_packbuilder_free(pb);
	if (error < 0) {
		free(objects);
		return orch_error_git(error,
		                      "cannot write a pack of %zu "
		                      "object%s",
		                      n, n == 1 ? "" : "s");
	}
	return 0;
}

/*
 * Merge the packs for which `pick` is set into one at `level`, then remove
 * them. They are joined as they are (pack.h); only when they cannot be
 * (an object in two of them) are their objects packed anew. On error
 * nothing is removed.
 */
static int merge_packs(orch_packer *pk, const int *pick, int level)
{
	struct recorded *objects;
	size_t n = 0, total = 0, kept = 0, merged = 0;
	char(*names)[GIT_OID_HEXSZ + 1];
	const char **picked;
	char joined[ORCH_PACK_NAME_LEN + 1];
	orch_buf dir = {0};
	int error;

	for (size_t i = 0; i < pk->npacks; i++)
		if (pick[i]) {
			total += pk->packs[i].n;
			merged++;
		}
	if (merged < 2)
		return 0;
	objects = orch_calloc(total + 1, sizeof(*objects));
	names = orch_calloc(merged, sizeof(*names));
	picked = orch_calloc(merged, sizeof(*picked));
	merged = 0;
	for (size_t i = 0; i < pk->npacks; i++)
		if (pick[i]) {
			memcpy(objects + n, pk->packs[i].objects,
			       pk->packs[i].n * sizeof(*objects));
			n += pk->packs[i].n;
			picked[merged++] = pk->packs[i].name;
		}
	orch_buf_printf(&dir, "%spack/", pk->objects);
	error = orch_pack_join(joined, dir.ptr, picked, merged, pk->fsync);
	orch_buf_free(&dir);
	free(picked);
	/*
	 * The new pack is recorded last; the merged ones leave the list.
	 * When they cannot be joined (an object in two of them, or one of
	 * them gone: a `git gc` may have repacked their objects meanwhile)
	 * their objects are packed anew, from wherever they are now.
	 */
	if (error == 0) {
		add_pack(pk, joined, objects, n, level);
	} else {
		orch_error_clear();
		error = write_pack(pk, objects, n, level);
	}
	if (error < 0) {
		free(names);
		return error;
	}
	merged = 0;
	for (size_t i = 0; i < pk->npacks; i++) {
		if (i < pk->npacks - 1 && pick[i]) {
			memcpy(names[merged++], pk->packs[i].name,
			       sizeof(names[0]));
			free(pk->packs[i].objects);
			continue;
		}
		pk->packs[kept++] = pk->packs[i];
	}
	pk->npacks = kept;
	for (size_t i = 0; i < merged; i++)
		if (strcmp(names[i], pk->packs[kept - 1].name))
			remove_pack(pk, names[i]);
	free(names);
	return 0;
}

/*
 * Take as ours, at level 0, at most ADOPT_MAX of the packs that appeared
 * since the packer was made and are not ours: those that fetches wrote
 * (a result through a `remote`, a hub), one per fetch, which would
 * otherwise pile up (`git gc --auto` repacks at 50). Not a pack that has
 * a .keep (someone still relies on it as it is), a .promisor, or a
 * .bitmap, .rev or .mtimes that a merge would leave behind, nor one over
 * ADOPT_BYTES (a `git gc` that ran meanwhile wrote one of the whole
 * repository: merging it would copy it all). How many were taken.
 */
#define ADOPT_MAX 64
#define ADOPT_BYTES (16 * 1024 * 1024)
static size_t adopt_packs(orch_packer *pk)
{
	static const char *const extra[] = {".keep", ".promisor", ".bitmap",
	                                    ".rev", ".mtimes"};
	char(*now)[GIT_OID_HEXSZ + 1];
	size_t n, adopted = 0;
	orch_buf dir = {0};

	list_packs(pk, &now, &n);
	orch_buf_printf(&dir, "%spack/", pk->objects);
	for (size_t i = 0; i < n && adopted < ADOPT_MAX; i++) {
		unsigned char *ids;
		struct recorded *objects;
		size_t count, k;
		long long size;
		int skip = 0;

		if (pk->nbefore && bsearch(now[i], pk->before, pk->nbefore,
		                           sizeof(*pk->before), by_name))
			continue;
		for (k = 0; k < pk->npacks && !skip; k++)
			skip = !strcmp(pk->packs[k].name, now[i]);
		for (k = 0; k < sizeof(extra) / sizeof(*extra) && !skip; k++)
			skip = pack_file_size(pk, now[i], extra[k]) >= 0;
		size = skip ? -1 : pack_file_size(pk, now[i], ".pack");
		if (size < 0 || size > ADOPT_BYTES)
			continue;
		if (orch_pack_ids(&ids, &count, dir.ptr, now[i]) != 0) {
			orch_error_clear();
			continue;
		}
		objects = orch_calloc(count + 1, sizeof(*objects));
		for (k = 0; k < count; k++)
			git_oid_fromraw(&objects[k].oid, ids + 20 * k);
		free(ids);
		add_pack(pk, now[i], objects, count, 0);
		adopted++;
	}
	orch_buf_free(&dir);
	free(now);
	return adopted;
}

/* Merge PACK_FANIN packs of one level into one, level by level. */
static int compact(orch_packer *pk)
{
	for (int level = 0;; level++) {
		int *pick = orch_calloc(pk->npacks + 1, sizeof(*pick));
		size_t count = 0;
		int error = 0;

		for (size_t i = 0; i < pk->npacks; i++)
			if (pk->packs[i].level == level) {
				pick[i] = 1;
				count++;
			}
		if (count >= pk->fanin)
			error = merge_packs(pk, pick, level + 1);
		free(pick);
		if (error < 0 || count < pk->fanin)
			return error;
	}
}

/*
 * The loose copies of objects[0..n), now in a pack, leave the objects
 * directory, as `git prune-packed` would remove them: into our trash.
 */
static void prune_loose(orch_packer *pk, const struct recorded *objects,
                        size_t n)
{
	orch_buf path = {0};
	char hex[GIT_OID_HEXSZ + 1];

	for (size_t i = 0; i < n; i++) {
		git_oid_tostr(hex, sizeof(hex), &objects[i].oid);
		orch_buf_clear(&path);
		orch_buf_printf(&path, "%s%.2s/%s", pk->objects, hex, hex + 2);
		orch_trash_put(pk->trash, path.ptr);
	}
	orch_buf_free(&path);
}

int orch_packer_pack(orch_packer *pk, int force)
{
	struct record_list *l = pk ? pk->backend->list : NULL;
	struct recorded *objects;
	size_t n;
	int error;

	if (!l || !l->nwritten || (!force && l->nwritten < pk->pack_objects))
		return 0;
	n = l->nwritten;
	objects = orch_calloc(n, sizeof(*objects));
	memcpy(objects, l->written, n * sizeof(*objects));
	/* on failure they stay loose: not tried again and again */
	l->nwritten = 0;
	error = write_pack(pk, objects, n, 0);
	/* packed, or loose still: read from their files from now on */
	kept_clear(l);
	if (error < 0)
		return error;
	/* the pack and its index are in place: the loose copies can go */
	prune_loose(pk, pk->packs[pk->npacks - 1].objects, n);
	adopt_packs(pk);
	return compact(pk);
}

int orch_packer_finish(orch_packer *pk)
{
	int *pick, error = 0;
	size_t small = 0;

	if (!pk || (error = orch_packer_pack(pk, 1)) < 0)
		return pk ? error : 0;
	/* the fetched packs left: ADOPT_MAX at a time, merged as they come */
	while (adopt_packs(pk) > 0)
		if ((error = compact(pk)) < 0)
			return error;
	pick = orch_calloc(pk->npacks + 1, sizeof(*pick));
	for (size_t i = 0; i < pk->npacks; i++) {
		pick[i] = pk->packs[i].level == 0;
		small += (size_t)pick[i];
	}
	if (small > 1)
		error = merge_packs(pk, pick, FINISHED_LEVEL);
	free(pick);
	return error;
}
