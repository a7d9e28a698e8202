/*
 * An object database backend that keeps commits in memory (see
 * commit_cache.h). It sits before the loose and pack backends of the
 * repository's object database. It cannot read through that database (its
 * lock is held while a backend reads), so it reads what it lacks through a
 * second object database opened on the same objects directory.
 */
#include "commit_cache.h"

#include <stdint.h>
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
	uint32_t generation; /* see generation_of; 0: not known yet */
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
	git_oid floor; /* generation 1 (see generation_of) */
	int has_floor;
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
}

size_t orch_commit_cache_count(const orch_commit_cache *cache)
{
	return cache ? cache->count : 0;
}

size_t orch_commit_cache_memo_count(const orch_commit_cache *cache)
{
	return cache ? cache->memo_count : 0;
}

/* ---- merge bases by generation ------------------------------------------ */

/* Not numbered: below the floor, or too far from it (see generation_of). */
#define UNNUMBERED UINT32_MAX
/* At most this many commits numbered by one call: a long way round is
 * someone else's history, which libgit2 walks. */
#define GENERATION_BUDGET 65536

void orch_commit_cache_floor(orch_commit_cache *cache, const git_oid *floor)
{
	if (!cache || cache->has_floor)
		return;
	cache->floor = *floor;
	cache->has_floor = 1;
}

/*
 * Commit `id` as the cache keeps it, read from the objects directory when
 * it lacks it (libgit2 checks its hash): NULL when it cannot be (not there,
 * not a commit, damaged, or the cache full).
 */
static struct cached_commit *commit_of(orch_commit_cache *cache,
                                       const git_oid *id)
{
	struct cached_commit *hit = find(cache, id);
	git_odb_object *object = NULL;

	if (hit)
		return hit->data == &absent ? NULL : hit;
	if (git_odb_read(&object, cache->source, id) < 0) {
		git_error_clear();
		return NULL;
	}
	if (git_odb_object_type(object) == GIT_OBJECT_COMMIT)
		keep(cache, id, git_odb_object_data(object),
		     git_odb_object_size(object));
	git_odb_object_free(object);
	git_error_clear();
	hit = find(cache, id);
	return hit && hit->data != &absent ? hit : NULL;
}

/*
 * The parents of a kept commit, from its text ("tree <hex>" then one
 * "parent <hex>" line each), into *parents (grown as needed): how many,
 * or -1 when the text is not a commit's.
 */
static int parents_of(git_oid **parents, size_t *alloc,
                      const struct cached_commit *commit)
{
	const char *p = commit->data, *end = p + commit->len;
	const size_t hex = GIT_OID_HEXSZ;
	int n = 0;

	if ((size_t)(end - p) < 6 + hex || memcmp(p, "tree ", 5) ||
	    p[5 + hex] != '\n')
		return -1;
	p += 6 + hex;
	while ((size_t)(end - p) >= 8 + hex && !memcmp(p, "parent ", 7) &&
	       p[7 + hex] == '\n') {
		if ((size_t)n == *alloc) {
			*alloc = *alloc ? *alloc * 2 : 8;
			*parents =
			    orch_realloc(*parents, *alloc * sizeof(git_oid));
		}
		if (git_oid_fromstrn(&(*parents)[n++], p + 7, hex) < 0) {
			git_error_clear();
			return -1;
		}
		p += 8 + hex;
	}
	return n;
}

/*
 * The generation of commit `id` counted from the floor: 1 for the floor,
 * else 1 + the largest of its parents'. It is kept with each commit, so a
 * new commit costs its parents only. Only commits whose every way down
 * meets the floor are numbered (results built on the base a run starts
 * from, and the commits between them): the history below the floor is the
 * repository's, which can be long, and is never read. -1 when `id` is not
 * numbered: below the floor, more than GENERATION_BUDGET commits from it,
 * not readable, or no floor; the commits that led there are marked, so the
 * next question about them is answered at once.
 */
static int generation_of(uint32_t *out, orch_commit_cache *cache,
                         const git_oid *id)
{
	git_oid *stack = NULL, *parents = NULL;
	size_t depth = 0, stack_alloc = 64, parents_alloc = 0, numbered = 0;
	struct cached_commit *commit;
	int error = 0;

	if (!cache->has_floor)
		return -1;
	stack = orch_malloc(sizeof(git_oid) * stack_alloc);
	stack[depth++] = *id;
	while (depth) {
		git_oid top = stack[depth - 1];
		uint32_t largest = 0;
		int n, pending = 0;

		commit = commit_of(cache, &top);
		if (commit && commit->generation == UNNUMBERED)
			goto unnumbered;
		if (commit && commit->generation) {
			depth--;
			continue;
		}
		if (commit && git_oid_equal(&top, &cache->floor)) {
			commit->generation = 1;
			depth--;
			continue;
		}
		if (!commit || ++numbered > GENERATION_BUDGET ||
		    (n = parents_of(&parents, &parents_alloc, commit)) < 0)
			goto unnumbered;
		for (int i = 0; i < n; i++) {
			struct cached_commit *parent =
			    commit_of(cache, &parents[i]);
			if (!parent || parent->generation == UNNUMBERED)
				goto unnumbered;
			if (parent->generation > largest)
				largest = parent->generation;
			if (parent->generation)
				continue;
			if (depth == stack_alloc) {
				stack_alloc *= 2;
				stack = orch_realloc(stack, sizeof(git_oid) *
				                                stack_alloc);
			}
			stack[depth++] = parents[i];
			pending = 1;
		}
		if (!n)
			goto unnumbered; /* a root, and not the floor */
		if (pending)
			continue;
		/* commit_of may have moved the slots: find it again */
		find(cache, &top)->generation = largest + 1;
		depth--;
	}
	*out = find(cache, id)->generation;
	goto done;
unnumbered:
	for (size_t i = 0; i < depth; i++)
		if ((commit = find(cache, &stack[i])) != NULL &&
		    commit->data != &absent && !commit->generation)
			commit->generation = UNNUMBERED;
	error = -1;
done:
	free(stack);
	free(parents);
	return error;
}

enum {
	SIDE_ONE = 1,
	SIDE_TWO = 2,
	STALE = 4, /* below a common ancestor */
	QUEUED = 8
};

struct walk_node {
	git_oid id;
	uint32_t generation;
	unsigned flags;
};

/* The commits a merge-base walk met, and its queue (highest first). */
struct walk {
	struct walk_node *nodes;
	size_t count, alloc;
	size_t *slots; /* node index + 1; 0: empty */
	size_t cap;
	size_t *heap;
	size_t nheap, heap_alloc;
};

static size_t walk_node(struct walk *walk, const git_oid *id,
                        uint32_t generation)
{
	size_t i, hash;

	if ((walk->count + 1) * 2 > walk->cap) {
		size_t cap = walk->cap ? walk->cap * 2 : 64;
		free(walk->slots);
		walk->slots = orch_calloc(cap, sizeof(size_t));
		walk->cap = cap;
		for (size_t k = 0; k < walk->count; k++) {
			memcpy(&hash, walk->nodes[k].id.id, sizeof(hash));
			for (i = hash & (cap - 1); walk->slots[i];
			     i = (i + 1) & (cap - 1))
				;
			walk->slots[i] = k + 1;
		}
	}
	memcpy(&hash, id->id, sizeof(hash));
	for (i = hash & (walk->cap - 1); walk->slots[i];
	     i = (i + 1) & (walk->cap - 1))
		if (git_oid_equal(&walk->nodes[walk->slots[i] - 1].id, id))
			return walk->slots[i] - 1;
	if (walk->count == walk->alloc) {
		walk->alloc = walk->alloc ? walk->alloc * 2 : 64;
		walk->nodes = orch_realloc(walk->nodes,
		                           walk->alloc * sizeof(*walk->nodes));
	}
	walk->nodes[walk->count].id = *id;
	walk->nodes[walk->count].generation = generation;
	walk->nodes[walk->count].flags = 0;
	walk->slots[i] = walk->count + 1;
	return walk->count++;
}

static int heap_above(const struct walk *walk, size_t a, size_t b)
{
	return walk->nodes[walk->heap[a]].generation >
	       walk->nodes[walk->heap[b]].generation;
}

static void heap_swap(struct walk *walk, size_t a, size_t b)
{
	size_t t = walk->heap[a];

	walk->heap[a] = walk->heap[b];
	walk->heap[b] = t;
}

static void walk_push(struct walk *walk, size_t node)
{
	size_t i;

	walk->nodes[node].flags |= QUEUED;
	if (walk->nheap == walk->heap_alloc) {
		walk->heap_alloc = walk->heap_alloc ? walk->heap_alloc * 2 : 64;
		walk->heap =
		    orch_realloc(walk->heap, walk->heap_alloc * sizeof(size_t));
	}
	walk->heap[i = walk->nheap++] = node;
	while (i && heap_above(walk, i, (i - 1) / 2)) {
		heap_swap(walk, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static size_t walk_pop(struct walk *walk)
{
	size_t top = walk->heap[0], i = 0;

	walk->heap[0] = walk->heap[--walk->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, best = i;
		if (l < walk->nheap && heap_above(walk, l, best))
			best = l;
		if (r < walk->nheap && heap_above(walk, r, best))
			best = r;
		if (best == i)
			break;
		heap_swap(walk, i, best);
		i = best;
	}
	walk->nodes[top].flags &= ~QUEUED;
	return top;
}

/*
 * Can a merge base still be found? Only where a commit of each side not
 * below a common ancestor is still queued: marks only travel from commits
 * to their parents, so without one of the sides no commit further down can
 * be reached from both sides other than through a common ancestor.
 */
static int walk_interesting(const struct walk *walk)
{
	unsigned sides = 0;

	for (size_t i = 0; i < walk->nheap; i++) {
		unsigned flags = walk->nodes[walk->heap[i]].flags;
		if (!(flags & STALE))
			sides |= flags & (SIDE_ONE | SIDE_TWO);
		if (sides == (SIDE_ONE | SIDE_TWO))
			return 1;
	}
	return 0;
}

/* Queue commit `id` of side(s) `flags`: 0, or 1 when it cannot be read. */
static int walk_start(struct walk *walk, orch_commit_cache *cache,
                      const git_oid *id, unsigned flags)
{
	uint32_t generation;
	size_t node;

	if (generation_of(&generation, cache, id) < 0)
		return 1;
	node = walk_node(walk, id, generation);
	walk->nodes[node].flags |= flags;
	walk_push(walk, node);
	return 0;
}

/* The memo kind of orch_commit_cache_reaches (callers number from 1). */
#define MEMO_REACHES (-1)

/* What is remembered of (`from`, `to`): 1 reaches, 0 not, -1 unknown. */
static int reach_known(const orch_commit_cache *cache, const git_oid *from,
                       const git_oid *to)
{
	git_oid key[2];
	const git_oid *value;
	size_t count;

	key[0] = *from;
	key[1] = *to;
	if (!orch_commit_cache_recall(&value, &count, cache, MEMO_REACHES, key,
	                              2))
		return -1;
	return count > 0;
}

static void reach_remember(orch_commit_cache *cache, const git_oid *from,
                           const git_oid *to, int reaches)
{
	git_oid key[2];

	key[0] = *from;
	key[1] = *to;
	orch_commit_cache_remember(cache, MEMO_REACHES, key, 2, to,
	                           reaches ? 1 : 0);
}

int orch_commit_cache_reaches(orch_commit_cache *cache, const git_oid *from,
                              const git_oid *to)
{
	git_oid *stack = NULL, *parents = NULL;
	size_t depth = 0, stack_alloc = 64, parents_alloc = 0;
	uint32_t target;
	int result = -1;

	if (!cache)
		return -1;
	if (git_oid_equal(from, to))
		return 1;
	if (generation_of(&target, cache, to) < 0)
		return -1;
	stack = orch_malloc(sizeof(git_oid) * stack_alloc);
	stack[depth++] = *from;
	while (depth) {
		size_t at = depth - 1;
		git_oid top = stack[at];
		struct cached_commit *commit;
		uint32_t generation;
		int n, pending = 0, reaches = 0;

		if (reach_known(cache, &top, to) >= 0) {
			depth--;
			continue;
		}
		if (generation_of(&generation, cache, &top) < 0 ||
		    !(commit = find(cache, &top)) ||
		    (n = parents_of(&parents, &parents_alloc, commit)) < 0)
			goto done;
		/* an ancestor has a smaller generation than its descendants */
		for (int i = 0; i < n && generation > target && !reaches; i++) {
			int known = git_oid_equal(&parents[i], to)
			                ? 1
			                : reach_known(cache, &parents[i], to);
			if (known > 0) {
				reaches = 1;
			} else if (known < 0) {
				if (depth == stack_alloc) {
					stack_alloc *= 2;
					stack = orch_realloc(stack,
					                     sizeof(git_oid) *
					                         stack_alloc);
				}
				stack[depth++] = parents[i];
				pending = 1;
			}
		}
		if (pending && !reaches)
			continue;
		reach_remember(cache, &top, to, reaches);
		if (reach_known(cache, &top, to) < 0)
			goto done; /* the cache is full */
		depth = at;        /* with the parents it no longer needs */
	}
	result = reach_known(cache, from, to);
done:
	free(stack);
	free(parents);
	return result;
}

int orch_commit_cache_merge_bases(git_oid **out, size_t *out_count,
                                  orch_commit_cache *cache, const git_oid *one,
                                  const git_oid *two)
{
	struct walk walk = {0};
	git_oid *parents = NULL, *found = NULL;
	size_t parents_alloc = 0, nfound = 0;
	int error = 0;

	*out = NULL;
	*out_count = 0;
	if (!cache)
		return 1;
	if (git_oid_equal(one, two)) {
		*out = orch_malloc(sizeof(git_oid));
		**out = *one;
		*out_count = 1;
		return 0;
	}
	/*
	 * git's paint_down_to_common, in generation order: a commit leaves the
	 * queue after every descendant the walk meets, so its marks are final
	 * and the common ancestors it finds unmarked are the merge bases.
	 */
	if ((error = walk_start(&walk, cache, one, SIDE_ONE)) != 0 ||
	    (error = walk_start(&walk, cache, two, SIDE_TWO)) != 0)
		goto done;
	while (walk_interesting(&walk)) {
		size_t node;
		git_oid id;

		if (!walk.nodes[walk.heap[0]].generation) {
			/* below the floor, which is not numbered */
			error = 1;
			goto done;
		}
		node = walk_pop(&walk);
		id = walk.nodes[node].id;
		unsigned flags =
		    walk.nodes[node].flags & (SIDE_ONE | SIDE_TWO | STALE);
		struct cached_commit *commit;
		int n;

		if (flags == (SIDE_ONE | SIDE_TWO)) {
			found =
			    orch_realloc(found, (nfound + 1) * sizeof(git_oid));
			found[nfound++] = id;
			flags |= STALE;
		}
		if (!(commit = find(cache, &id)) ||
		    (n = parents_of(&parents, &parents_alloc, commit)) < 0) {
			error = 1;
			goto done;
		}
		for (int i = 0; i < n; i++) {
			/*
			 * generation_of numbered every ancestor of both above
			 * the floor; the floor's parents go last, as 0
			 */
			struct cached_commit *parent = find(cache, &parents[i]);
			uint32_t generation = parent ? parent->generation : 0;
			size_t p;
			if (generation == UNNUMBERED)
				generation = 0;
			p = walk_node(&walk, &parents[i], generation);
			if ((walk.nodes[p].flags & flags) == flags)
				continue;
			walk.nodes[p].flags |= flags;
			if (!(walk.nodes[p].flags & QUEUED))
				walk_push(&walk, p);
		}
	}
	*out = found;
	*out_count = nfound;
	found = NULL;
done:
	free(found);
	free(parents);
	free(walk.nodes);
	free(walk.slots);
	free(walk.heap);
	return error;
}
