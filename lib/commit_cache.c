/*
 * An object database backend that keeps commits in memory (see
 * commit_cache.h). It sits before the loose and pack backends of the
 * repository's object database. It cannot read through that database (its
 * lock is held while a backend reads), so it reads what it lacks through a
 * second object database opened on the same objects directory.
 */
#include "commit_cache.h"

#include <stdlib.h>
#include <string.h>

#include <git2/sys/odb_backend.h>

#include "error.h"
#include "util.h"

/* Before the loose (1) and pack (2) backends, and mempack's usual 999. */
#define CACHE_PRIORITY 1000
/* Commits are a few hundred bytes; past this, new ones are not kept. */
#define CACHE_MAX_BYTES (64u * 1024 * 1024)

struct cached_commit {
	git_oid id;
	char *data; /* NULL: empty slot; &absent: not in the directory */
	size_t len;
};

/*
 * What the objects directory did not have when asked (an object another
 * backend holds in memory, say): asked again, it would be searched again,
 * packs rescanned, on every walk that passes it. Those go to the other
 * backends at once.
 */
static char absent;

/* One result remembered: ids[0..nkey) the key, then the values. */
struct memo {
	int kind;
	size_t nkey, nvalue;
	size_t hash;
	git_oid ids[];
};

struct orch_commit_cache {
	git_odb_backend parent;
	git_odb *source; /* the same objects directory, read on a miss */
	struct cached_commit *slots;
	size_t cap;     /* a power of two, or 0 */
	size_t count;   /* commits kept */
	size_t entries; /* slots used: commits and absent objects */
	size_t bytes;
	int filling;
	struct memo **memos; /* open addressing; NULL: empty slot */
	size_t memo_cap, memo_count;
};

static size_t slot_of(const orch_commit_cache *cache, const git_oid *id)
{
	size_t hash;

	memcpy(&hash, id->id, sizeof(hash)); /* an oid's bytes are uniform */
	return hash & (cache->cap - 1);
}

static struct cached_commit *find(const orch_commit_cache *cache,
                                  const git_oid *id)
{
	if (!cache->cap)
		return NULL;
	for (size_t i = slot_of(cache, id);; i = (i + 1) & (cache->cap - 1)) {
		struct cached_commit *slot = &cache->slots[i];
		if (!slot->data)
			return NULL;
		if (git_oid_equal(&slot->id, id))
			return slot;
	}
}

static void grow(orch_commit_cache *cache)
{
	struct cached_commit *old = cache->slots;
	size_t old_cap = cache->cap;

	cache->cap = old_cap ? old_cap * 2 : 1024;
	cache->slots = orch_calloc(cache->cap, sizeof(*cache->slots));
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;
		if (!old[i].data)
			continue;
		for (j = slot_of(cache, &old[i].id); cache->slots[j].data;
		     j = (j + 1) & (cache->cap - 1))
			;
		cache->slots[j] = old[i];
	}
	free(old);
}

/* Keep `data` as object `id`; NULL data: remember it as absent. */
static void keep(orch_commit_cache *cache, const git_oid *id, const void *data,
                 size_t len)
{
	struct cached_commit *slot;
	size_t i;

	if (cache->bytes + len > CACHE_MAX_BYTES)
		return;
	if ((cache->entries + 1) * 2 > cache->cap)
		grow(cache);
	for (i = slot_of(cache, id); cache->slots[i].data;
	     i = (i + 1) & (cache->cap - 1))
		;
	slot = &cache->slots[i];
	git_oid_cpy(&slot->id, id);
	cache->entries++;
	if (!data) {
		slot->data = &absent;
		return;
	}
	slot->data = orch_malloc(len ? len : 1);
	memcpy(slot->data, data, len);
	slot->len = len;
	cache->count++;
	cache->bytes += len;
}

static size_t memo_hash(int kind, const git_oid *key, size_t nkey)
{
	size_t hash = (size_t)kind * 0x9e3779b97f4a7c15u;

	for (size_t i = 0; i < nkey; i++) {
		size_t part;
		memcpy(&part, key[i].id, sizeof(part));
		hash = (hash ^ part) * 0x100000001b3u + i;
	}
	return hash;
}

static int memo_is(const struct memo *memo, size_t hash, int kind,
                   const git_oid *key, size_t nkey)
{
	return memo->hash == hash && memo->kind == kind && memo->nkey == nkey &&
	       !memcmp(memo->ids, key, nkey * sizeof(git_oid));
}

int orch_commit_cache_recall(const git_oid **out, size_t *out_count,
                             const orch_commit_cache *cache, int kind,
                             const git_oid *key, size_t nkey)
{
	size_t hash = memo_hash(kind, key, nkey);

	*out = NULL;
	*out_count = 0;
	if (!cache || !cache->memo_cap)
		return 0;
	for (size_t i = hash & (cache->memo_cap - 1);;
	     i = (i + 1) & (cache->memo_cap - 1)) {
		const struct memo *memo = cache->memos[i];
		if (!memo)
			return 0;
		if (memo_is(memo, hash, kind, key, nkey)) {
			*out = memo->ids + memo->nkey;
			*out_count = memo->nvalue;
			return 1;
		}
	}
}

static void memo_insert(struct memo **memos, size_t cap, struct memo *memo)
{
	size_t i = memo->hash & (cap - 1);

	while (memos[i])
		i = (i + 1) & (cap - 1);
	memos[i] = memo;
}

void orch_commit_cache_remember(orch_commit_cache *cache, int kind,
                                const git_oid *key, size_t nkey,
                                const git_oid *value, size_t nvalue)
{
	const git_oid *kept;
	size_t nkept,
	    len = sizeof(struct memo) + (nkey + nvalue) * sizeof(git_oid);
	struct memo *memo;

	if (!cache || cache->bytes + len > CACHE_MAX_BYTES ||
	    orch_commit_cache_recall(&kept, &nkept, cache, kind, key, nkey))
		return;
	if ((cache->memo_count + 1) * 2 > cache->memo_cap) {
		size_t cap = cache->memo_cap ? cache->memo_cap * 2 : 256;
		struct memo **memos = orch_calloc(cap, sizeof(*memos));
		for (size_t i = 0; i < cache->memo_cap; i++)
			if (cache->memos[i])
				memo_insert(memos, cap, cache->memos[i]);
		free(cache->memos);
		cache->memos = memos;
		cache->memo_cap = cap;
	}
	memo = orch_malloc(len);
	memo->kind = kind;
	memo->nkey = nkey;
	memo->nvalue = nvalue;
	memo->hash = memo_hash(kind, key, nkey);
	memcpy(memo->ids, key, nkey * sizeof(git_oid));
	if (nvalue)
		memcpy(memo->ids + nkey, value, nvalue * sizeof(git_oid));
	memo_insert(cache->memos, cache->memo_cap, memo);
	cache->memo_count++;
	cache->bytes += len;
}

static int give(void **out, size_t *out_len, git_odb_backend *backend,
                const void *data, size_t len)
{
	void *copy = git_odb_backend_data_alloc(backend, len ? len : 1);

	if (!copy)
		return -1;
	memcpy(copy, data, len);
	*out = copy;
	*out_len = len;
	return 0;
}

static int cache_read(void **out, size_t *out_len, git_object_t *out_type,
                      git_odb_backend *backend, const git_oid *id)
{
	orch_commit_cache *cache = (orch_commit_cache *)backend;
	const struct cached_commit *hit = find(cache, id);
	git_odb_object *object = NULL;
	git_oid check;
	int error;

	if (hit && hit->data == &absent)
		return GIT_PASSTHROUGH;
	if (hit) {
		*out_type = GIT_OBJECT_COMMIT;
		return give(out, out_len, backend, hit->data, hit->len);
	}
	if (!cache->filling)
		return GIT_PASSTHROUGH;
	if ((error = git_odb_read(&object, cache->source, id)) < 0) {
		/* not there (e.g. only in memory): the other backends say */
		if (error == GIT_ENOTFOUND)
			keep(cache, id, NULL, 0);
		git_error_clear();
		return GIT_PASSTHROUGH;
	}
	*out_type = git_odb_object_type(object);
	/*
	 * libgit2 checks the hash of what a backend gives, each time; while
	 * filling that check is off (orch_commit_cache_fill) and done here,
	 * once per object read from the objects directory.
	 */
	if (git_odb_hash(&check, git_odb_object_data(object),
	                 git_odb_object_size(object), *out_type) < 0 ||
	    !git_oid_equal(&check, id)) {
		git_odb_object_free(object);
		git_error_set(GIT_ERROR_ODB,
		              "object %s is damaged: its content has another "
		              "hash",
		              git_oid_tostr_s(id));
		return GIT_EMISMATCH;
	}
	if (*out_type == GIT_OBJECT_COMMIT)
		keep(cache, id, git_odb_object_data(object),
		     git_odb_object_size(object));
	error = give(out, out_len, backend, git_odb_object_data(object),
	             git_odb_object_size(object));
	git_odb_object_free(object);
	return error;
}

/* libgit2 asks every backend to list its objects: the others list these. */
static int cache_foreach(git_odb_backend *backend, git_odb_foreach_cb cb,
                         void *payload)
{
	(void)backend;
	(void)cb;
	(void)payload;
	return 0;
}

static void cache_free(git_odb_backend *backend)
{
	orch_commit_cache *cache = (orch_commit_cache *)backend;

	for (size_t i = 0; i < cache->cap; i++)
		if (cache->slots[i].data != &absent)
			free(cache->slots[i].data);
	free(cache->slots);
	for (size_t i = 0; i < cache->memo_cap; i++)
		free(cache->memos[i]);
	free(cache->memos);
	git_odb_free(cache->source);
	free(cache);
}

int orch_commit_cache_get(orch_commit_cache **out, git_repository *repo)
{
	orch_commit_cache *cache = NULL;
	git_odb *odb = NULL;
	git_buf dir = GIT_BUF_INIT;
	int error;

	*out = NULL;
	if ((error = git_repository_odb(&odb, repo)) < 0)
		return orch_error_git(error, "cannot open the object database");
	for (size_t i = 0; i < git_odb_num_backends(odb); i++) {
		git_odb_backend *backend = NULL;
		if (git_odb_get_backend(&backend, odb, i) == 0 &&
		    backend->read == cache_read) {
			*out = (orch_commit_cache *)backend;
			goto done;
		}
	}
	cache = orch_calloc(1, sizeof(*cache));
	git_odb_init_backend(&cache->parent, GIT_ODB_BACKEND_VERSION);
	cache->parent.read = cache_read;
	cache->parent.foreach = cache_foreach;
	cache->parent.free = cache_free;
	if (git_repository_item_path(&dir, repo, GIT_REPOSITORY_ITEM_OBJECTS) <
	        0 ||
	    git_odb_open(&cache->source, dir.ptr) < 0) {
		/* no objects directory of its own: nothing to cache from */
		git_error_clear();
		cache_free(&cache->parent);
		goto done;
	}
	if ((error = git_odb_add_backend(odb, &cache->parent, CACHE_PRIORITY)) <
	    0) {
		cache_free(&cache->parent);
		error = orch_error_git(error, "cannot add the commit cache");
		goto done;
	}
	*out = cache;
done:
	git_buf_dispose(&dir);
	git_odb_free(odb);
	return error;
}

void orch_commit_cache_fill(orch_commit_cache *cache, int on)
{
	if (!cache)
		return;
	cache->filling = on;
	/*
	 * Off while filling: what the cache serves it checked when it read it
	 * (hashing every commit again on every walk was a third of the time).
	 * Process-wide in libgit2; on is its default, and nothing here turns
	 * it off otherwise.
	 */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, !on);
}

size_t orch_commit_cache_count(const orch_commit_cache *cache)
{
	return cache ? cache->count : 0;
}

size_t orch_commit_cache_memo_count(const orch_commit_cache *cache)
{
	return cache ? cache->memo_count : 0;
}
