/*
 * Merging at the repository level: in-memory analysis, building the chain
 * of merge commits, verify in a temporary worktree, moving a branch by
 * compare-and-swap with its checkout, pushing with a lease. The plan-level
 * operations on the store are in merge_run.c.
 */
#include "merge.h"
#include "commit_cache.h"
#include "remote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "signature.h"

extern char **environ;

/* ---- changed files, by walking two trees in step ------------------------- */

typedef struct {
	orch_merge_change *items;
	size_t count, alloc;
} change_list;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const orch_merge_change *)a)->path,
	              ((const orch_merge_change *)b)->path);
}

static int entry_is_tree(const git_tree_entry *entry)
{
	return git_tree_entry_filemode(entry) == GIT_FILEMODE_TREE;
}

/*
 * Git's tree order (base_name_compare): names compared bytewise, a tree's
 * name as if it ended in '/'. A file and a tree of one name differ.
 */
static int entry_cmp(const git_tree_entry *a, const git_tree_entry *b)
{
	const char *na = git_tree_entry_name(a), *nb = git_tree_entry_name(b);
	size_t la = strlen(na), lb = strlen(nb), len = la < lb ? la : lb;
	int c = memcmp(na, nb, len);
	unsigned ca, cb;

	if (c)
		return c;
	ca = la > len ? (unsigned char)na[len] : entry_is_tree(a) ? '/' : 0;
	cb = lb > len ? (unsigned char)nb[len] : entry_is_tree(b) ? '/' : 0;
	return (int)ca - (int)cb;
}

static void change_push(change_list *list, const orch_buf *prefix,
                        const git_tree_entry *old_entry,
                        const git_tree_entry *new_entry)
{
	const git_tree_entry *named = old_entry ? old_entry : new_entry;
	orch_merge_change *change;
	orch_buf path = {0};

	if (list->count == list->alloc) {
		list->alloc = list->alloc ? list->alloc * 2 : 16;
		list->items = orch_realloc(
		    list->items, list->alloc * sizeof(orch_merge_change));
	}
	change = &list->items[list->count++];
	memset(change, 0, sizeof(*change));
	orch_buf_put(&path, prefix->ptr ? prefix->ptr : "", prefix->len);
	orch_buf_puts(&path, git_tree_entry_name(named));
	change->path = orch_buf_detach(&path);
	if (old_entry) {
		change->old_mode = (uint32_t)git_tree_entry_filemode(old_entry);
		git_oid_cpy(&change->old_id, git_tree_entry_id(old_entry));
	}
	if (new_entry) {
		change->new_mode = (uint32_t)git_tree_entry_filemode(new_entry);
		git_oid_cpy(&change->new_id, git_tree_entry_id(new_entry));
	}
}

static int walk_trees(change_list *out, git_repository *repo,
                      const git_tree *old_tree, const git_tree *new_tree,
                      orch_buf *prefix);

/* Descend into the subtree(s) `old_entry` / `new_entry` (either NULL). */
static int walk_subtrees(change_list *out, git_repository *repo,
                         const git_tree_entry *old_entry,
                         const git_tree_entry *new_entry, orch_buf *prefix)
{
	const git_tree_entry *named = old_entry ? old_entry : new_entry;
	git_tree *old_tree = NULL, *new_tree = NULL;
	size_t len = prefix->len;
	int error;

	if ((old_entry &&
	     (error = git_tree_lookup(&old_tree, repo,
	                              git_tree_entry_id(old_entry))) < 0) ||
	    (new_entry &&
	     (error = git_tree_lookup(&new_tree, repo,
	                              git_tree_entry_id(new_entry))) < 0)) {
		error = orch_error_git(
		    error, "cannot read the tree of '%.*s%s'", (int)len,
		    prefix->ptr ? prefix->ptr : "", git_tree_entry_name(named));
		goto done;
	}
	orch_buf_printf(prefix, "%s/", git_tree_entry_name(named));
	error = walk_trees(out, repo, old_tree, new_tree, prefix);
	prefix->len = len;
	prefix->ptr[len] = '\0';
done:
	git_tree_free(old_tree);
	git_tree_free(new_tree);
	return error;
}

/* Both trees in git's order at once; only subtrees that differ are read. */
static int walk_trees(change_list *out, git_repository *repo,
                      const git_tree *old_tree, const git_tree *new_tree,
                      orch_buf *prefix)
{
	size_t nold = old_tree ? git_tree_entrycount(old_tree) : 0;
	size_t nnew = new_tree ? git_tree_entrycount(new_tree) : 0;
	size_t i = 0, j = 0;
	int error = 0;

	while (!error && (i < nold || j < nnew)) {
		const git_tree_entry *o =
		    i < nold ? git_tree_entry_byindex(old_tree, i) : NULL;
		const git_tree_entry *n =
		    j < nnew ? git_tree_entry_byindex(new_tree, j) : NULL;
		int c = !o ? 1 : !n ? -1 : entry_cmp(o, n);

		if (c == 0) {
			i++;
			j++;
			if (git_oid_equal(git_tree_entry_id(o),
			                  git_tree_entry_id(n)) &&
			    git_tree_entry_filemode(o) ==
			        git_tree_entry_filemode(n))
				continue;
			if (entry_is_tree(o))
				error = walk_subtrees(out, repo, o, n, prefix);
			else
				change_push(out, prefix, o, n);
		} else if (c < 0) {
			i++;
			if (entry_is_tree(o))
				error =
				    walk_subtrees(out, repo, o, NULL, prefix);
			else
				change_push(out, prefix, o, NULL);
		} else {
			j++;
			if (entry_is_tree(n))
				error =
				    walk_subtrees(out, repo, NULL, n, prefix);
			else
				change_push(out, prefix, NULL, n);
		}
	}
	return error;
}

/* The tree id of commit `commit_id`. */
static int commit_tree_id(git_oid *out, git_repository *repo,
                          const git_oid *commit_id)
{
	git_commit *commit = NULL;
	int error;

	if ((error = git_commit_lookup(&commit, repo, commit_id)) < 0)
		return orch_error_git(error, "cannot read commit %s",
		                      git_oid_tostr_s(commit_id));
	git_oid_cpy(out, git_commit_tree_id(commit));
	git_commit_free(commit);
	return 0;
}

static int tree_of_commit(git_tree **out, git_repository *repo,
                          const git_oid *id)
{
	git_oid tree;
	int error;

	if ((error = commit_tree_id(&tree, repo, id)) < 0)
		return error;
	if ((error = git_tree_lookup(out, repo, &tree)) < 0)
		error = orch_error_git(error, "cannot read the tree of %s",
		                       git_oid_tostr_s(id));
	return error;
}

void orch_merge_changes_free(orch_merge_change *changes, size_t count)
{
	for (size_t i = 0; changes && i < count; i++)
		free(changes[i].path);
	free(changes);
}

int orch_merge_changes(orch_merge_change **out, size_t *out_count,
                       git_repository *repo, const git_oid *from,
                       const git_oid *to)
{
	git_tree *old_tree = NULL, *new_tree = NULL;
	change_list list = {0};
	orch_buf prefix = {0};
	int error;

	*out = NULL;
	*out_count = 0;
	if ((error = tree_of_commit(&old_tree, repo, from)) < 0 ||
	    (error = tree_of_commit(&new_tree, repo, to)) < 0)
		goto done;
	if (!git_oid_equal(git_tree_id(old_tree), git_tree_id(new_tree)) &&
	    (error = walk_trees(&list, repo, old_tree, new_tree, &prefix)) < 0)
		goto done;
	/* the walk is in git's order, where "a/" sorts after "a-b" */
	if (list.count > 1)
		qsort(list.items, list.count, sizeof(orch_merge_change),
		      cmp_change);
	*out = list.items;
	*out_count = list.count;
	list.items = NULL;
	list.count = 0;
done:
	orch_merge_changes_free(list.items, list.count);
	orch_buf_free(&prefix);
	git_tree_free(old_tree);
	git_tree_free(new_tree);
	return error;
}

/* ---- the first pass: changed files of both sides, merged file by file --- */

/* One side's changes since a merge base, cached per (base, tip). */
typedef struct {
	git_oid from, to;
	orch_merge_change *changes; /* sorted by path */
	size_t count;
	int adds, deletes; /* files added, files deleted */
} change_set;

/* The lines of a base file one side changed: [start, end), 0-based. */
typedef struct {
	size_t start, end;
} line_range;

/* One side's line changes to one file, cached per (base blob, its blob). */
typedef struct {
	git_oid base, side;
	line_range *ranges;
	size_t count, alloc;
} hunk_set;

/* What the first pass keeps across the merges of one analysis. */
typedef struct {
	change_set **sets; /* pointers: a caller holds two at once */
	size_t count, alloc;
	git_blob **blobs; /* read once: libgit2 does not cache blobs */
	size_t nblobs, blobs_alloc;
	hunk_set **hunks;
	size_t nhunks, hunks_alloc;
} change_cache;

static void change_cache_free(change_cache *cache)
{
	for (size_t i = 0; i < cache->count; i++) {
		orch_merge_changes_free(cache->sets[i]->changes,
		                        cache->sets[i]->count);
		free(cache->sets[i]);
	}
	free(cache->sets);
	for (size_t i = 0; i < cache->nblobs; i++)
		git_blob_free(cache->blobs[i]);
	free(cache->blobs);
	for (size_t i = 0; i < cache->nhunks; i++) {
		free(cache->hunks[i]->ranges);
		free(cache->hunks[i]);
	}
	free(cache->hunks);
}

/* Blob `id`, borrowed from the cache. */
static int blob_get(git_blob **out, change_cache *cache, git_repository *repo,
                    const char *path, const git_oid *id)
{
	git_blob *blob = NULL;
	int error;

	for (size_t i = 0; i < cache->nblobs; i++) {
		if (git_oid_equal(git_blob_id(cache->blobs[i]), id)) {
			*out = cache->blobs[i];
			return 0;
		}
	}
	if ((error = git_blob_lookup(&blob, repo, id)) < 0)
		return orch_error_git(error, "cannot read '%s' (%s)", path,
		                      git_oid_tostr_s(id));
	if (cache->nblobs == cache->blobs_alloc) {
		cache->blobs_alloc =
		    cache->blobs_alloc ? cache->blobs_alloc * 2 : 32;
		cache->blobs = orch_realloc(
		    cache->blobs, cache->blobs_alloc * sizeof(git_blob *));
	}
	cache->blobs[cache->nblobs++] = blob;
	*out = blob;
	return 0;
}

static int collect_hunk(const git_diff_delta *delta, const git_diff_hunk *hunk,
                        void *payload)
{
	hunk_set *set = payload;
	/* an insertion is numbered by the line before it */
	size_t start = hunk->old_lines ? (size_t)hunk->old_start - 1
	                               : (size_t)hunk->old_start;

	(void)delta;
	if (set->count == set->alloc) {
		set->alloc = set->alloc ? set->alloc * 2 : 8;
		set->ranges =
		    orch_realloc(set->ranges, set->alloc * sizeof(line_range));
	}
	set->ranges[set->count].start = start;
	set->ranges[set->count++].end = start + (size_t)hunk->old_lines;
	return 0;
}

/*
 * The lines of `base` that `side` changes, by the xdiff that
 * git_merge_file runs itself (same algorithm and flags, no context).
 */
static int hunks_get(const hunk_set **out, change_cache *cache,
                     const char *path, git_blob *base, git_blob *side)
{
	git_diff_options opts;
	hunk_set set = {0};
	int error;

	for (size_t i = 0; i < cache->nhunks; i++) {
		if (git_oid_equal(&cache->hunks[i]->base, git_blob_id(base)) &&
		    git_oid_equal(&cache->hunks[i]->side, git_blob_id(side))) {
			*out = cache->hunks[i];
			return 0;
		}
	}
	git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
	opts.context_lines = 0;
	opts.interhunk_lines = 0;
	opts.flags = GIT_DIFF_FORCE_TEXT;
	if ((error = git_diff_blobs(base, path, side, path, &opts, NULL, NULL,
	                            collect_hunk, NULL, &set)) < 0) {
		free(set.ranges);
		return orch_error_git(error, "cannot diff '%s'", path);
	}
	if (cache->nhunks == cache->hunks_alloc) {
		cache->hunks_alloc =
		    cache->hunks_alloc ? cache->hunks_alloc * 2 : 32;
		cache->hunks = orch_realloc(
		    cache->hunks, cache->hunks_alloc * sizeof(hunk_set *));
	}
	git_oid_cpy(&set.base, git_blob_id(base));
	git_oid_cpy(&set.side, git_blob_id(side));
	cache->hunks[cache->nhunks] = orch_calloc(1, sizeof(hunk_set));
	*cache->hunks[cache->nhunks] = set;
	*out = cache->hunks[cache->nhunks++];
	return 0;
}

/*
 * Whether xdl_merge would look at two changes together: it takes one
 * side's change alone only when it ends before the other's starts
 * (changes that touch are merged as one region, and may conflict).
 */
static int hunks_meet(const hunk_set *a, const hunk_set *b)
{
	size_t i = 0, j = 0;

	while (i < a->count && j < b->count) {
		if (a->ranges[i].end < b->ranges[j].start)
			i++;
		else if (b->ranges[j].end < a->ranges[i].start)
			j++;
		else
			return 1;
	}
	return 0;
}

static int change_cache_get(const change_set **out, change_cache *cache,
                            git_repository *repo, const git_oid *from,
                            const git_oid *to)
{
	change_set *set;
	orch_merge_change *changes = NULL;
	size_t count = 0;
	int error;

	for (size_t i = 0; i < cache->count; i++) {
		if (git_oid_equal(&cache->sets[i]->from, from) &&
		    git_oid_equal(&cache->sets[i]->to, to)) {
			*out = cache->sets[i];
			return 0;
		}
	}
	if ((error = orch_merge_changes(&changes, &count, repo, from, to)) < 0)
		return error;
	if (cache->count == cache->alloc) {
		cache->alloc = cache->alloc ? cache->alloc * 2 : 32;
		cache->sets = orch_realloc(cache->sets,
		                           cache->alloc * sizeof(change_set *));
	}
	set = orch_calloc(1, sizeof(change_set));
	cache->sets[cache->count++] = set;
	git_oid_cpy(&set->from, from);
	git_oid_cpy(&set->to, to);
	set->changes = changes;
	set->count = count;
	for (size_t i = 0; i < count; i++) {
		set->adds += !changes[i].old_mode;
		set->deletes += !changes[i].new_mode;
	}
	*out = set;
	return 0;
}

/* What a file is, for git: a regular file (either mode), a link, a gitlink. */
static int file_kind(uint32_t mode)
{
	switch (mode) {
	case 0:
		return 0;
	case GIT_FILEMODE_LINK:
		return 2;
	case GIT_FILEMODE_COMMIT:
		return 3;
	default:
		return 1;
	}
}

static int same_entry(uint32_t mode_a, const git_oid *a, uint32_t mode_b,
                      const git_oid *b)
{
	return mode_a == mode_b && (!mode_a || git_oid_equal(a, b));
}

/* git's buffer_is_binary: a NUL in the first 8000 bytes. */
static int is_binary(const git_blob *blob)
{
	size_t size = (size_t)git_blob_rawsize(blob);

	return blob && memchr(git_blob_rawcontent(blob), 0,
	                      size < 8000 ? size : 8000) != NULL;
}

/*
 * Content merge of two regular files: *out_conflict unless xdiff merges
 * them. Changes to lines apart from each other merge cleanly without
 * running the merge; the others are merged with git_merge_file.
 */
static int merge_contents(int *out_conflict, change_cache *cache,
                          git_repository *repo, const char *path,
                          const git_oid *base, const git_oid *ours,
                          const git_oid *theirs)
{
	git_blob *blobs[3] = {NULL, NULL, NULL};
	const git_oid *ids[3] = {base, ours, theirs};
	const hunk_set *our_hunks, *their_hunks;
	git_merge_file_input inputs[3];
	git_merge_file_options opts;
	git_merge_file_result result = {0};
	int error = 0, binary = 0;

	*out_conflict = 1;
	for (int i = 0; i < 3; i++) {
		git_merge_file_input_init(&inputs[i],
		                          GIT_MERGE_FILE_INPUT_VERSION);
		inputs[i].path = path;
		if (!ids[i])
			continue; /* no common ancestor: a two-way merge */
		if ((error = blob_get(&blobs[i], cache, repo, path, ids[i])) <
		    0)
			goto done;
		binary |= is_binary(blobs[i]);
		inputs[i].ptr = git_blob_rawcontent(blobs[i]);
		inputs[i].size = (size_t)git_blob_rawsize(blobs[i]);
	}
	if (binary)
		goto done; /* git cannot merge binary files either */
	if (blobs[0]) {
		if ((error = hunks_get(&our_hunks, cache, path, blobs[0],
		                       blobs[1])) < 0 ||
		    (error = hunks_get(&their_hunks, cache, path, blobs[0],
		                       blobs[2])) < 0)
			goto done;
		if (!hunks_meet(our_hunks, their_hunks)) {
			*out_conflict = 0;
			goto done;
		}
	}
	git_merge_file_options_init(&opts, GIT_MERGE_FILE_OPTIONS_VERSION);
	if ((error = git_merge_file(&result, &inputs[0], &inputs[1], &inputs[2],
	                            &opts)) < 0) {
		error = orch_error_git(error, "cannot merge '%s'", path);
		goto done;
	}
	*out_conflict = !result.automergeable;
done:
	git_merge_file_result_free(&result);
	return error;
}

/*
 * A file both sides changed since the merge base (ours->old is theirs->old):
 * does it conflict, as merge-ort decides it? *out_present: whether the
 * merged tree has a file there (a modify/delete conflict keeps the
 * modified one).
 */
static int merge_one_file(int *out_conflict, int *out_present,
                          change_cache *cache, git_repository *repo,
                          const orch_merge_change *ours,
                          const orch_merge_change *theirs)
{
	int kind = file_kind(ours->new_mode);
	int base_usable = ours->old_mode && file_kind(ours->old_mode) == kind;

	*out_conflict = 1;
	*out_present = ours->new_mode || theirs->new_mode;
	if (same_entry(ours->new_mode, &ours->new_id, theirs->new_mode,
	               &theirs->new_id)) {
		*out_conflict = 0; /* the same change on both sides */
		return 0;
	}
	if (!ours->new_mode || !theirs->new_mode)
		return 0; /* modify/delete */
	if (kind != file_kind(theirs->new_mode))
		return 0; /* distinct types */
	if (ours->new_mode != theirs->new_mode &&
	    ours->old_mode != ours->new_mode &&
	    ours->old_mode != theirs->new_mode)
		return 0; /* both changed the mode (or added with two) */
	if (git_oid_equal(&ours->new_id, &theirs->new_id) ||
	    (base_usable && (git_oid_equal(&ours->old_id, &ours->new_id) ||
	                     git_oid_equal(&ours->old_id, &theirs->new_id)))) {
		*out_conflict = 0; /* one side kept the content */
		return 0;
	}
	if (kind != 1)
		return 0; /* links and submodules that both changed */
	return merge_contents(out_conflict, cache, repo, ours->path,
	                      base_usable ? &ours->old_id : NULL, &ours->new_id,
	                      &theirs->new_id);
}

/* A path of the merged result: is there a file at it? */
typedef struct {
	const char *path;
	int present;
} merged_path;

/* Compare `path` with the directory prefix "dir/" (dir of length len). */
static int cmp_under(const char *path, const char *dir, size_t len)
{
	int c = strncmp(path, dir, len);

	return c ? c : (int)(unsigned char)path[len] - '/';
}

/*
 * A file at merged[k] and a file under merged[k]/ in the merged tree: a
 * file against a directory. Both are changed paths (an unchanged file
 * cannot meet the other side's directory: that side removed it).
 */
static int has_files_under(const merged_path *merged, size_t n, size_t k)
{
	const char *dir = merged[k].path;
	size_t len = strlen(dir), lo = k + 1, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_under(merged[mid].path, dir, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && cmp_under(merged[lo].path, dir, len) == 0; lo++)
		if (merged[lo].present)
			return 1;
	return 0;
}

/* May `change` on a side be one end of a rename git would follow? */
static int maybe_renamed(const orch_merge_change *change,
                         const change_set *side)
{
	return (!change->old_mode || !change->new_mode) && side->adds &&
	       side->deletes;
}

typedef enum {
	PAIR_CLEAN,     /* disjoint: clean without merging anything */
	PAIR_MERGED,    /* common paths merged file by file */
	PAIR_WHOLE_TREE /* needs a whole-tree merge (a rename may be in play) */
} pair_outcome;

/*
 * The merge of the sides whose changes since one merge base are `a` and
 * `b`, file by file: the conflicting paths (sorted) go to `paths`.
 */
static int merge_changes(pair_outcome *out, int *out_conflicted,
                         orch_strvec *paths, change_cache *cache,
                         git_repository *repo, const change_set *a,
                         const change_set *b)
{
	merged_path *merged = NULL;
	orch_strvec found = {0};
	size_t i = 0, j = 0, n = 0, common = 0;
	int error = 0, conflict, present;

	*out = PAIR_CLEAN;
	*out_conflicted = 0;
	/* common paths first: a possible rename means a whole-tree merge */
	while (i < a->count && j < b->count) {
		int c = strcmp(a->changes[i].path, b->changes[j].path);
		if (c == 0) {
			if (maybe_renamed(&a->changes[i], a) ||
			    maybe_renamed(&b->changes[j], b)) {
				*out = PAIR_WHOLE_TREE;
				return 0;
			}
			common++;
			i++;
			j++;
		} else if (c < 0) {
			i++;
		} else {
			j++;
		}
	}
	merged = orch_calloc(a->count + b->count + 1, sizeof(merged_path));
	for (i = 0, j = 0; i < a->count || j < b->count;) {
		const orch_merge_change *ca =
		    i < a->count ? &a->changes[i] : NULL;
		const orch_merge_change *cb =
		    j < b->count ? &b->changes[j] : NULL;
		int c = !ca ? 1 : !cb ? -1 : strcmp(ca->path, cb->path);

		if (c == 0) {
			if ((error = merge_one_file(&conflict, &present, cache,
			                            repo, ca, cb)) < 0)
				goto done;
			if (conflict)
				orch_strvec_push(&found, ca->path);
			merged[n].path = ca->path;
			merged[n++].present = present;
			i++;
			j++;
		} else if (c < 0) {
			merged[n].path = ca->path;
			merged[n++].present = ca->new_mode != 0;
			i++;
		} else {
			merged[n].path = cb->path;
			merged[n++].present = cb->new_mode != 0;
			j++;
		}
	}
	for (size_t k = 0; k < n; k++) {
		if (!merged[k].present || !has_files_under(merged, n, k))
			continue;
		orch_strvec_push(&found, merged[k].path);
		common++;
	}
	if (common)
		*out = PAIR_MERGED;
	if (found.count > 1)
		qsort(found.items, found.count, sizeof(char *), cmp_str);
	for (size_t k = 0; k < found.count; k++) {
		if (k && !strcmp(found.items[k - 1], found.items[k]))
			continue;
		orch_strvec_push(paths, found.items[k]);
	}
	*out_conflicted = found.count > 0;
done:
	orch_strvec_free(&found);
	free(merged);
	return error;
}

/* ---- in-memory merges ------------------------------------------------------
 */

static void collect_conflicts(orch_strvec *out, git_index *index)
{
	git_index_conflict_iterator *iter = NULL;
	const git_index_entry *ancestor, *ours, *theirs;
	orch_strvec paths = {0};

	if (git_index_conflict_iterator_new(&iter, index) < 0)
		return;
	while (git_index_conflict_next(&ancestor, &ours, &theirs, iter) == 0) {
		const char *path = ours     ? ours->path
		                   : theirs ? theirs->path
		                            : ancestor->path;
		if (!orch_strvec_contains(&paths, path))
			orch_strvec_push(&paths, path);
	}
	git_index_conflict_iterator_free(iter);
	if (paths.count > 1)
		qsort(paths.items, paths.count, sizeof(char *), cmp_str);
	for (size_t i = 0; i < paths.count; i++) {
		orch_strvec_push_take(out, paths.items[i]);
		paths.items[i] = NULL;
	}
	orch_strvec_free(&paths);
}

/*
 * The tree of a merge's `index` into *out_tree (NULL: not wanted), or
 * ORCH_ECONFLICT with the conflicting paths in `conflicts` (may be NULL).
 */
static int merged_tree(git_oid *out_tree, orch_strvec *conflicts,
                       git_index *index, git_repository *repo)
{
	int error;

	if (git_index_has_conflicts(index)) {
		if (conflicts)
			collect_conflicts(conflicts, index);
		return ORCH_ECONFLICT;
	}
	if (out_tree &&
	    (error = git_index_write_tree_to(out_tree, index, repo)) < 0)
		return orch_error_git(error, "cannot write the merged tree");
	return 0;
}

int orch_merge_trees_of(git_oid *out_tree, orch_strvec *conflicts,
                        git_repository *repo, const git_oid *ours,
                        const git_oid *theirs)
{
	git_commit *our_commit = NULL, *their_commit = NULL;
	git_index *index = NULL;
	git_merge_options opts;
	int error;

	git_merge_options_init(&opts, GIT_MERGE_OPTIONS_VERSION);
	if ((error = git_commit_lookup(&our_commit, repo, ours)) < 0) {
		error = orch_error_git(error, "cannot read commit %s",
		                       git_oid_tostr_s(ours));
		goto done;
	}
	if ((error = git_commit_lookup(&their_commit, repo, theirs)) < 0) {
		error = orch_error_git(error, "cannot read commit %s",
		                       git_oid_tostr_s(theirs));
		goto done;
	}
	if ((error = git_merge_commits(&index, repo, our_commit, their_commit,
	                               &opts)) < 0) {
		error = orch_error_git(error, "cannot merge %s",
		                       git_oid_tostr_s(theirs));
		goto done;
	}
	error = merged_tree(out_tree, conflicts, index, repo);
done:
	git_index_free(index);
	git_commit_free(our_commit);
	git_commit_free(their_commit);
	return error;
}

/* Commit `tree` with the parents `ours` and `theirs`: a dependency merged. */
static int commit_dependency(git_oid *out, git_repository *repo,
                             const git_signature *sig, const git_oid *tree_id,
                             const git_oid *ours, const git_oid *theirs,
                             const char *plan, const char *task)
{
	git_commit *parents[2] = {NULL, NULL};
	git_tree *tree = NULL;
	orch_buf message = {0};
	int error;

	orch_buf_printf(&message,
	                "orchestrate: start of %s (dependencies merged)\n\n"
	                "Orchestrate-Plan: %s\n",
	                task, plan);
	if ((error = git_tree_lookup(&tree, repo, tree_id)) < 0 ||
	    (error = git_commit_lookup(&parents[0], repo, ours)) < 0 ||
	    (error = git_commit_lookup(&parents[1], repo, theirs)) < 0 ||
	    (error =
	         git_commit_create(out, repo, NULL, sig, sig, NULL, message.ptr,
	                           tree, 2, (const git_commit **)parents)) < 0)
		error = orch_error_git(
		    error, "cannot merge the dependencies of '%s'", task);
	git_commit_free(parents[0]);
	git_commit_free(parents[1]);
	git_tree_free(tree);
	orch_buf_free(&message);
	return error;
}

/*
 * A dependency merged in memory the way git_merge_commits merges two
 * commits (libgit2's merge.c: compute_base, create_virtual_base), step by
 * step through its public API so that what repeats from one start commit to
 * the next is kept (orch_commit_cache_remember): the merge bases of a list
 * of commits, and a virtual base (the tree of several merge bases merged
 * pairwise). Every start commit of a plan merges results whose histories
 * share the same older results, so the same bases and virtual bases come
 * back again and again.
 */
enum { MEMO_BASES = 1, MEMO_VIRTUAL };

/* A virtual base kept conflicts: it has no tree, libgit2 merges alone. */
#define VIRTUAL_CONFLICTED 1

struct start_merge {
	git_repository *repo;
	orch_commit_cache *cache;
	const git_oid *base; /* the commit the task starts from */
};

/*
 * git_merge_bases_many of `ids` (the first against a merge of the others),
 * remembered: *out borrows from the cache or points to *scratch (disposed
 * by the caller). No merge base is a count of 0.
 */
static int bases_of(const git_oid **out, size_t *out_count,
                    git_oidarray *scratch, struct start_merge *m,
                    const git_oid *ids, size_t n)
{
	int error;

	if (orch_commit_cache_recall(out, out_count, m->cache, MEMO_BASES, ids,
	                             n))
		return 0;
	error = git_merge_bases_many(scratch, m->repo, n, ids);
	if (error == GIT_ENOTFOUND) {
		git_error_clear();
		scratch->count = 0;
	} else if (error < 0) {
		return orch_error_git(error, "cannot find the merge base of %s",
		                      git_oid_tostr_s(&ids[0]));
	}
	orch_commit_cache_remember(m->cache, MEMO_BASES, ids, n, scratch->ids,
	                           scratch->count);
	*out = scratch->ids;
	*out_count = scratch->count;
	return 0;
}

/*
 * Merge the trees `ours` and `theirs` on `ancestor` (NULL: none) with
 * `opts`: the index (caller frees) as git_merge_trees leaves it.
 */
static int merge_tree_ids(git_index **out, git_repository *repo,
                          const git_oid *ancestor, const git_oid *ours,
                          const git_oid *theirs, const git_merge_options *opts)
{
	git_tree *trees[3] = {NULL, NULL, NULL};
	int error;

	if ((ancestor &&
	     (error = git_tree_lookup(&trees[0], repo, ancestor)) < 0) ||
	    (error = git_tree_lookup(&trees[1], repo, ours)) < 0 ||
	    (error = git_tree_lookup(&trees[2], repo, theirs)) < 0 ||
	    (error = git_merge_trees(out, repo, trees[0], trees[1], trees[2],
	                             opts)) < 0)
		error = orch_error_git(error, "cannot merge tree %s",
		                       git_oid_tostr_s(theirs));
	for (size_t i = 0; i < 3; i++)
		git_tree_free(trees[i]);
	return error;
}

/*
 * The ancestor tree of a merge of commit `two` into `one` (a commit, or
 * the merge bases a virtual base was made of, in order): *out_found 0 when
 * there is none. `bases` are theirs when the caller has them (NULL: found
 * here). Returns VIRTUAL_CONFLICTED when a virtual base kept conflicts.
 */
static int ancestor_tree(git_oid *out, int *out_found, struct start_merge *m,
                         const git_oid *one, size_t none, const git_oid *two,
                         const git_oid *bases, size_t nbases,
                         const git_merge_options *opts)
{
	git_oid *ids = orch_calloc(none + 1, sizeof(git_oid)), *seq = NULL;
	git_oidarray scratch = {0};
	git_merge_options virtual_opts = *opts;
	git_index *index = NULL;
	git_oid tree, other;
	int error = 0;

	*out_found = 0;
	if (!bases) {
		ids[0] = *two;
		memcpy(ids + 1, one, none * sizeof(git_oid));
		if ((error = bases_of(&bases, &nbases, &scratch, m, ids,
		                      none + 1)) < 0)
			goto done;
	}
	if (!nbases)
		goto done;
	/* libgit2 merges them last found first, each into what came before */
	seq = orch_calloc(nbases, sizeof(git_oid));
	for (size_t i = 0; i < nbases; i++)
		seq[i] = bases[nbases - 1 - i];
	if ((error = commit_tree_id(&tree, m->repo, &seq[0])) < 0)
		goto done;
	virtual_opts.flags &= ~GIT_MERGE_FAIL_ON_CONFLICT;
	virtual_opts.flags |= GIT_MERGE_VIRTUAL_BASE;
	for (size_t i = 1; i < nbases; i++) {
		const git_oid *kept;
		size_t nkept;
		git_oid sub, theirs;
		int found;

		if (orch_commit_cache_recall(&kept, &nkept, m->cache,
		                             MEMO_VIRTUAL, seq, i + 1)) {
			if (!nkept) {
				error = VIRTUAL_CONFLICTED;
				goto done;
			}
			tree = kept[0];
			continue;
		}
		if ((error = ancestor_tree(&sub, &found, m, seq, i, &seq[i],
		                           NULL, 0, &virtual_opts)) != 0 ||
		    (error = commit_tree_id(&theirs, m->repo, &seq[i])) < 0 ||
		    (error =
		         merge_tree_ids(&index, m->repo, found ? &sub : NULL,
		                        &tree, &theirs, &virtual_opts)) < 0)
			goto done;
		if (git_index_has_conflicts(index)) {
			/* libgit2 would leave those paths out of the base */
			orch_commit_cache_remember(m->cache, MEMO_VIRTUAL, seq,
			                           i + 1, NULL, 0);
			error = VIRTUAL_CONFLICTED;
			goto done;
		}
		if ((error = git_index_write_tree_to(&other, index, m->repo)) <
		    0) {
			error =
			    orch_error_git(error, "cannot write a merge base");
			goto done;
		}
		git_index_free(index);
		index = NULL;
		tree = other;
		orch_commit_cache_remember(m->cache, MEMO_VIRTUAL, seq, i + 1,
		                           &tree, 1);
	}
	*out = tree;
	*out_found = 1;
done:
	git_index_free(index);
	git_oidarray_dispose(&scratch);
	free(seq);
	free(ids);
	return error;
}

/*
 * The tree of `tree_id` as a merge writes it: through an index (which is
 * what a merge of two identical trees gives, whatever their bases).
 */
static int tree_as_merged(git_oid *out, git_repository *repo,
                          const git_oid *tree_id)
{
	git_index *index = NULL;
	git_tree *tree = NULL;
	int error;

	if ((error = git_tree_lookup(&tree, repo, tree_id)) < 0 ||
	    (error = git_index_new(&index)) < 0 ||
	    (error = git_index_read_tree(index, tree)) < 0 ||
	    (error = git_index_write_tree_to(out, index, repo)) < 0)
		error = orch_error_git(error, "cannot write the merged tree");
	git_index_free(index);
	git_tree_free(tree);
	return error;
}

/*
 * Merge dependency `dep` into `current`: *out_action 0 when `dep` is in
 * `current` already, 1 when `current` is in `dep` (fast-forward), 2 when
 * *out_tree is their merge. ORCH_ECONFLICT with the paths appended to
 * `conflicts` when they conflict.
 */
static int merge_dependency(int *out_action, git_oid *out_tree,
                            orch_strvec *conflicts, struct start_merge *m,
                            const git_oid *current, const git_oid *dep)
{
	git_oid ids[2], ours, theirs, ancestor, *set = NULL;
	git_oidarray scratch = {0};
	size_t nset = 0;
	git_merge_options opts;
	git_index *index = NULL;
	const git_oid *bases;
	size_t nbases;
	int error = 0, found;

	*out_action = 0;
	if (git_oid_equal(current, dep))
		return 0;
	/*
	 * Results descend from the base every task starts from: what the
	 * cache found of each commit is kept, so this costs the commits made
	 * since it was last asked (the merge bases would say so too, after a
	 * walk down to the base). Other commits are asked once: nothing kept.
	 */
	if (git_oid_equal(current, m->base) &&
	    orch_commit_cache_reaches(m->cache, dep, current) == 1) {
		*out_action = 1;
		return 0;
	}
	/* the merge bases as a set, without walking the whole history */
	if (orch_commit_cache_merge_bases(&set, &nset, m->cache, current,
	                                  dep) != 0) {
		/* git_merge_commits asks in this order: theirs, then ours */
		ids[0] = *dep;
		ids[1] = *current;
		if ((error = bases_of(&bases, &nbases, &scratch, m, ids, 2)) <
		    0)
			goto done;
	} else {
		bases = set;
		nbases = nset;
	}
	if (nbases == 1 && git_oid_equal(&bases[0], dep))
		goto done;
	*out_action = 1;
	if (nbases == 1 && git_oid_equal(&bases[0], current))
		goto done;
	*out_action = 2;
	if ((error = commit_tree_id(&ours, m->repo, current)) < 0 ||
	    (error = commit_tree_id(&theirs, m->repo, dep)) < 0)
		goto done;
	if (git_oid_equal(&ours, &theirs)) {
		/* the same files on both sides: no base changes that */
		error = tree_as_merged(out_tree, m->repo, &ours);
		goto done;
	}
	/* several: libgit2 merges them in the order its walk finds them */
	if (bases == set && nbases > 1) {
		ids[0] = *dep;
		ids[1] = *current;
		if ((error = bases_of(&bases, &nbases, &scratch, m, ids, 2)) <
		    0)
			goto done;
	}
	git_merge_options_init(&opts, GIT_MERGE_OPTIONS_VERSION);
	error = ancestor_tree(&ancestor, &found, m, current, 1, dep, bases,
	                      nbases, &opts);
	if (error == VIRTUAL_CONFLICTED) {
		error = orch_merge_trees_of(out_tree, conflicts, m->repo,
		                            current, dep);
		goto done;
	}
	if (error < 0 ||
	    (error = merge_tree_ids(&index, m->repo, found ? &ancestor : NULL,
	                            &ours, &theirs, &opts)) < 0)
		goto done;
	error = merged_tree(out_tree, conflicts, index, m->repo);
done:
	git_index_free(index);
	git_oidarray_dispose(&scratch);
	free(set);
	return error;
}

int orch_merge_start_commit(git_oid *out, orch_strvec *conflicts,
                            git_repository *repo, const git_oid *base,
                            const git_oid *deps, size_t ndeps, const char *plan,
                            const char *task)
{
	git_oid current = *base, tree_id, merged;
	git_signature *sig = NULL;
	struct start_merge m = {repo, NULL, base};
	int error = 0, action;

	/*
	 * The commit cache answers merge bases and ancestry from the commits
	 * it keeps and remembers what repeats; without it (no objects
	 * directory) libgit2 answers everything, with the same results.
	 */
	if (orch_commit_cache_get(&m.cache, repo) < 0)
		orch_error_clear();
	orch_commit_cache_fill(m.cache, 1);
	orch_commit_cache_floor(m.cache, base);
	for (size_t i = 0; i < ndeps; i++) {
		error = merge_dependency(&action, &tree_id, conflicts, &m,
		                         &current, &deps[i]);
		if (error == ORCH_ECONFLICT) {
			orch_error_set("the dependencies of task '%s' conflict "
			               "with each other",
			               task);
			goto done;
		}
		if (error < 0)
			goto done;
		if (action == 1)
			current = deps[i];
		if (action != 2)
			continue;
		if ((!sig &&
		     (error = orch_signature_default(&sig, repo)) < 0) ||
		    (error =
		         commit_dependency(&merged, repo, sig, &tree_id,
		                           &current, &deps[i], plan, task)) < 0)
			goto done;
		current = merged;
	}
	*out = current;
done:
	orch_commit_cache_fill(m.cache, 0);
	git_signature_free(sig);
	return error;
}

/* Merge and tell: *out_conflicted and the paths; errors other than conflict. */
static int merge_check(int *out_conflicted, orch_strvec *paths,
                       git_repository *repo, const git_oid *ours,
                       const git_oid *theirs)
{
	int error = orch_merge_trees_of(NULL, paths, repo, ours, theirs);

	*out_conflicted = error == ORCH_ECONFLICT;
	return error == ORCH_ECONFLICT ? 0 : error;
}

/*
 * The merge of `ours` and `theirs` by the first pass: PAIR_CLEAN, or
 * PAIR_MERGED with the answer, or PAIR_WHOLE_TREE when libgit2 must merge
 * the whole trees (no single merge base, or a rename may be in play).
 */
static int quick_merge(pair_outcome *out, int *out_conflicted,
                       orch_strvec *paths, change_cache *cache,
                       git_repository *repo, const git_oid *ours,
                       const git_oid *theirs)
{
	git_oidarray bases = {0};
	const change_set *a, *b;
	int error;

	*out = PAIR_WHOLE_TREE;
	*out_conflicted = 0;
	error = git_merge_bases(&bases, repo, ours, theirs);
	if (error == GIT_ENOTFOUND) {
		git_error_clear();
		return 0; /* unrelated histories: let the real merge decide */
	}
	if (error < 0)
		return orch_error_git(error, "cannot find the merge base of %s",
		                      git_oid_tostr_s(theirs));
	if (bases.count != 1)
		goto done;
	if (git_oid_equal(&bases.ids[0], ours) ||
	    git_oid_equal(&bases.ids[0], theirs)) {
		*out = PAIR_CLEAN; /* fast-forward */
		goto done;
	}
	if ((error = change_cache_get(&a, cache, repo, &bases.ids[0], ours)) <
	        0 ||
	    (error = change_cache_get(&b, cache, repo, &bases.ids[0], theirs)) <
	        0)
		goto done;
	error = merge_changes(out, out_conflicted, paths, cache, repo, a, b);
done:
	git_oidarray_dispose(&bases);
	return error;
}

/* One merge of the matrix: the first pass, else libgit2 on whole trees. */
static int analyze_merge(int *out_conflicted, orch_strvec *paths,
                         orch_merge_analysis *analysis, change_cache *cache,
                         git_repository *repo, const git_oid *ours,
                         const git_oid *theirs, unsigned flags)
{
	pair_outcome outcome = PAIR_WHOLE_TREE;
	int error;

	*out_conflicted = 0;
	if (!(flags & ORCH_MERGE_ANALYZE_ALL) &&
	    (error = quick_merge(&outcome, out_conflicted, paths, cache, repo,
	                         ours, theirs)) < 0)
		return error;
	if (outcome == PAIR_CLEAN) {
		analysis->merges_skipped++;
		return 0;
	}
	analysis->merges_done++;
	if (outcome == PAIR_MERGED)
		return 0;
	return merge_check(out_conflicted, paths, repo, ours, theirs);
}

int orch_merge_analyze(orch_merge_analysis **out, git_repository *repo,
                       const git_oid *base, const char *const *ids,
                       const git_oid *commits, size_t n, unsigned flags)
{
	orch_merge_analysis *analysis = orch_calloc(1, sizeof(*analysis));
	change_cache cache = {0};
	size_t alloc = 0;
	int error = 0, conflicted;

	*out = NULL;
	git_oid_cpy(&analysis->base, base);
	analysis->branches = orch_calloc(n ? n : 1, sizeof(orch_merge_branch));
	analysis->nbranches = n;
	for (size_t i = 0; i < n; i++) {
		analysis->branches[i].id = orch_strdup(ids[i]);
		git_oid_cpy(&analysis->branches[i].commit, &commits[i]);
	}
	for (size_t i = 0; i < n; i++) {
		orch_merge_branch *branch = &analysis->branches[i];
		if ((error = analyze_merge(
		         &branch->conflicts_base, &branch->paths, analysis,
		         &cache, repo, base, &branch->commit, flags)) < 0)
			goto done;
	}
	for (size_t a = 0; a < n; a++) {
		for (size_t b = a + 1; b < n; b++) {
			orch_merge_pair *pair;
			orch_strvec paths = {0};

			if ((error = analyze_merge(
			         &conflicted, &paths, analysis, &cache, repo,
			         &commits[a], &commits[b], flags)) < 0) {
				orch_strvec_free(&paths);
				goto done;
			}
			if (!conflicted) {
				orch_strvec_free(&paths);
				continue;
			}
			if (analysis->npairs == alloc) {
				alloc = alloc ? alloc * 2 : 16;
				analysis->pairs = orch_realloc(
				    analysis->pairs,
				    alloc * sizeof(orch_merge_pair));
			}
			pair = &analysis->pairs[analysis->npairs++];
			pair->a = a;
			pair->b = b;
			pair->paths = paths;
		}
	}
	*out = analysis;
	analysis = NULL;
done:
	change_cache_free(&cache);
	orch_merge_analysis_free(analysis);
	return error;
}

int orch_merge_analysis_pair(const orch_strvec **out_paths,
                             const orch_merge_analysis *analysis, size_t a,
                             size_t b)
{
	if (a > b) {
		size_t swap = a;
		a = b;
		b = swap;
	}
	for (size_t i = 0; i < analysis->npairs; i++) {
		if (analysis->pairs[i].a == a && analysis->pairs[i].b == b) {
			if (out_paths)
				*out_paths = &analysis->pairs[i].paths;
			return 1;
		}
	}
	return 0;
}

void orch_merge_analysis_free(orch_merge_analysis *analysis)
{
	if (!analysis)
		return;
	for (size_t i = 0; i < analysis->nbranches; i++) {
		free(analysis->branches[i].id);
		orch_strvec_free(&analysis->branches[i].paths);
	}
	for (size_t i = 0; i < analysis->npairs; i++)
		orch_strvec_free(&analysis->pairs[i].paths);
	free(analysis->branches);
	free(analysis->pairs);
	free(analysis);
}

/* ---- building the chain -------------------------------------------------- */

static int commit_message(orch_buf *msg, git_repository *repo,
                          const orch_merge_item *item, const char *plan,
                          int squash)
{
	git_commit *commit = NULL;
	int error;

	if ((error = git_commit_lookup(&commit, repo, &item->commit)) < 0)
		return orch_error_git(
		    error, "cannot read the result of task '%s'", item->id);
	if (squash) {
		const char *summary = git_commit_summary(commit);
		orch_buf_printf(msg,
		                "%s/%s: %s\n\nSquashed result of task '%s' of "
		                "plan '%s'.\n\n",
		                plan, item->id,
		                summary && *summary ? summary : "result",
		                item->id, plan);
	} else {
		orch_buf_printf(msg, "Merge task '%s' of plan '%s'\n\n",
		                item->id, plan);
	}
	orch_buf_printf(msg,
	                "Orchestrate-Plan: %s\nOrchestrate-Task: "
	                "%s\nOrchestrate-Commit: %s\n",
	                plan, item->id, git_oid_tostr_s(&item->commit));
	git_commit_free(commit);
	return 0;
}

int orch_merge_build(git_oid *out_tip, git_repository *repo,
                     const git_oid *base, orch_merge_item *items, size_t n,
                     const char *plan, unsigned flags)
{
	git_signature *sig = NULL;
	git_oid tip;
	int error = 0;

	git_oid_cpy(&tip, base);
	if ((error = orch_signature_default(&sig, repo)) < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		orch_merge_item *item = &items[i];
		git_commit *parents[2] = {NULL, NULL};
		git_tree *tree = NULL;
		orch_buf msg = {0};
		git_oid tree_id, new_tip;

		item->conflicted = 0;
		orch_strvec_free(&item->paths);
		memset(&item->merged, 0, sizeof(item->merged));
		if (git_oid_equal(&tip, &item->commit) ||
		    git_graph_descendant_of(repo, &tip, &item->commit) == 1) {
			git_oid_cpy(&item->merged,
			            &tip); /* already contained */
			continue;
		}
		error = orch_merge_trees_of(&tree_id, &item->paths, repo, &tip,
		                            &item->commit);
		if (error == ORCH_ECONFLICT) {
			item->conflicted = 1;
			error = 0;
			continue;
		}
		if (error < 0)
			goto done;
		if ((error = commit_message(&msg, repo, item, plan,
		                            flags & ORCH_MERGE_SQUASH)) < 0)
			goto done;
		if ((error = git_commit_lookup(&parents[0], repo, &tip)) < 0 ||
		    (error = git_commit_lookup(&parents[1], repo,
		                               &item->commit)) < 0 ||
		    (error = git_tree_lookup(&tree, repo, &tree_id)) < 0) {
			error = orch_error_git(
			    error, "cannot read the merge of task '%s'",
			    item->id);
		} else if ((error = git_commit_create(
		                &new_tip, repo, NULL, sig, sig, NULL, msg.ptr,
		                tree, (flags & ORCH_MERGE_SQUASH) ? 1 : 2,
		                (const git_commit **)parents)) < 0) {
			error = orch_error_git(
			    error, "cannot write the merge of task '%s'",
			    item->id);
		}
		git_commit_free(parents[0]);
		git_commit_free(parents[1]);
		git_tree_free(tree);
		orch_buf_free(&msg);
		if (error < 0)
			goto done;
		git_oid_cpy(&tip, &new_tip);
		git_oid_cpy(&item->merged, &new_tip);
	}
	git_oid_cpy(out_tip, &tip);
done:
	git_signature_free(sig);
	return error;
}

/* ---- verify ------------------------------------------------------------- */

#define VERIFY_OUTPUT_MAX (64 * 1024)

static unsigned verify_counter;

/* The environment of a verify command: ours, minus git's repository overrides.
 */
static char **verify_environment(const char *plan, const git_oid *commit)
{
	static const char *const drop[] = {
	    "GIT_DIR=",        "GIT_WORK_TREE=",
	    "GIT_INDEX_FILE=", "GIT_OBJECT_DIRECTORY=",
	    "GIT_PREFIX=",     NULL};
	orch_strvec env = {0};
	orch_buf var = {0};

	for (char **e = environ; e && *e; e++) {
		int skip = 0;
		for (size_t i = 0; drop[i]; i++)
			skip |= !strncmp(*e, drop[i], strlen(drop[i]));
		skip |= !strncmp(*e, "ORCHESTRATE_PLAN=", 17) ||
		        !strncmp(*e, "ORCHESTRATE_COMMIT=", 19);
		if (!skip)
			orch_strvec_push(&env, *e);
	}
	orch_buf_printf(&var, "ORCHESTRATE_PLAN=%s", plan ? plan : "");
	orch_strvec_push_take(&env, orch_buf_detach(&var));
	orch_buf_printf(&var, "ORCHESTRATE_COMMIT=%s", git_oid_tostr_s(commit));
	orch_strvec_push_take(&env, orch_buf_detach(&var));
	orch_strvec_push_take(&env, NULL);
	return env.items; /* NULL-terminated; freed with free_environment */
}

static void free_environment(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* Run `sh -c command` in `dir`, output to `log_path`; *out_status its exit. */
static int run_in(int *out_status, const char *dir, const char *command,
                  const char *log_path, char **env)
{
	pid_t pid, waited;
	int status = 0, fd;

	if ((fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	               0600)) < 0)
		return orch_error_os("cannot create '%s'", log_path);
	if ((pid = fork()) < 0) {
		close(fd);
		return orch_error_os("cannot start verify");
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (chdir(dir) < 0)
			_exit(127);
		if (null >= 0)
			dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		setpgid(0, 0);
		execve("/bin/sh",
		       (char *const[]){"sh", "-c", (char *)command, NULL}, env);
		_exit(127);
	}
	close(fd);
	do {
		waited = waitpid(pid, &status, 0);
	} while (waited < 0 && errno == EINTR);
	if (waited < 0)
		return orch_error_os("cannot wait for verify");
	*out_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return 0;
}

static void append_tail(orch_buf *out, const char *path)
{
	orch_buf content = {0};

	if (!out || orch_read_file(&content, path) < 0) {
		orch_error_clear();
		orch_buf_free(&content);
		return;
	}
	if (content.len > VERIFY_OUTPUT_MAX)
		orch_buf_put(out, content.ptr + content.len - VERIFY_OUTPUT_MAX,
		             VERIFY_OUTPUT_MAX);
	else
		orch_buf_put(out, content.ptr, content.len);
	orch_buf_free(&content);
}

int orch_merge_verify(int *out_status, orch_buf *output, git_repository *repo,
                      const git_oid *commit, const char *command,
                      const char *plan)
{
	git_worktree_add_options wtopts;
	git_worktree_prune_options pruneopts;
	git_reference *branch = NULL;
	git_worktree *worktree = NULL;
	git_repository *wtrepo = NULL;
	git_commit *target = NULL;
	orch_buf dir = {0}, path = {0}, log_path = {0}, name = {0};
	char **env = NULL;
	int error;

	git_worktree_prune_options_init(&pruneopts,
	                                GIT_WORKTREE_PRUNE_OPTIONS_VERSION);
	git_worktree_add_options_init(&wtopts,
	                              GIT_WORKTREE_ADD_OPTIONS_VERSION);
	*out_status = -1;
	/* a name of our own: the worktree's branch exists only until HEAD is
	 * detached */
	orch_buf_printf(&name, "orchestrate-verify-%d-%u-%ld", (int)getpid(),
	                verify_counter++, (long)(orch_now_ms() % 1000000));
	orch_buf_printf(&dir, "%sorchestrate-verify",
	                git_repository_commondir(repo));
	orch_buf_printf(&path, "%s/%s", dir.ptr, name.ptr);
	orch_buf_printf(&log_path, "%s/%s.log", dir.ptr, name.ptr);
	if (mkdir(dir.ptr, 0700) < 0 && errno != EEXIST) {
		error = orch_error_os("cannot create '%s'", dir.ptr);
		goto done;
	}
	if ((error = git_commit_lookup(&target, repo, commit)) < 0) {
		error = orch_error_git(error, "cannot read commit %s",
		                       git_oid_tostr_s(commit));
		goto done;
	}
	if ((error = git_branch_create(&branch, repo, name.ptr, target, 0)) <
	    0) {
		error =
		    orch_error_git(error, "cannot prepare the verify worktree");
		goto done;
	}
	wtopts.ref = branch;
	if ((error = git_worktree_add(&worktree, repo, name.ptr, path.ptr,
	                              &wtopts)) < 0) {
		error = orch_error_git(
		    error, "cannot create the verify worktree '%s'", path.ptr);
		goto done;
	}
	if ((error = git_repository_open_from_worktree(&wtrepo, worktree)) <
	        0 ||
	    (error = git_repository_set_head_detached(wtrepo, commit)) < 0) {
		error =
		    orch_error_git(error, "cannot detach the verify worktree");
		goto done;
	}
	env = verify_environment(plan, commit);
	if ((error = run_in(out_status, path.ptr, command, log_path.ptr, env)) <
	    0)
		goto done;
	append_tail(output, log_path.ptr);
done:
	if (branch) {
		if (git_reference_delete(branch) < 0)
			git_error_clear();
	}
	if (worktree) {
		pruneopts.flags = GIT_WORKTREE_PRUNE_VALID |
		                  GIT_WORKTREE_PRUNE_LOCKED |
		                  GIT_WORKTREE_PRUNE_WORKING_TREE;
		git_repository_free(wtrepo);
		wtrepo = NULL;
		if (git_worktree_prune(worktree, &pruneopts) < 0)
			git_error_clear();
	}
	if (path.ptr)
		orch_remove_tree(path.ptr);
	if (log_path.ptr)
		unlink(log_path.ptr);
	if (dir.ptr)
		rmdir(dir.ptr); /* only when empty: another verify may be
		                   running */
	free_environment(env);
	git_repository_free(wtrepo);
	git_worktree_free(worktree);
	git_reference_free(branch);
	git_commit_free(target);
	orch_buf_free(&dir);
	orch_buf_free(&path);
	orch_buf_free(&log_path);
	orch_buf_free(&name);
	return error;
}

/* ---- the user's checkout ------------------------------------------------ */

/* 1 when `repo` has a work tree whose HEAD is the symbolic ref `refname`. */
static int head_is(git_repository *repo, const char *refname)
{
	git_reference *head = NULL;
	int match = 0;

	if (git_repository_is_bare(repo))
		return 0;
	if (git_reference_lookup(&head, repo, "HEAD") < 0) {
		git_error_clear();
		return 0;
	}
	match = git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	        !strcmp(git_reference_symbolic_target(head), refname);
	git_reference_free(head);
	return match;
}

/* Open the work tree where `refname` is checked out into *out, or NULL. */
static int open_checkout(git_repository **out, git_repository *repo,
                         const char *refname)
{
	git_strarray names = {0};
	git_repository *candidate = NULL;
	int error = 0;

	*out = NULL;
	/* the main work tree: the common dir's repository */
	if (git_repository_open(&candidate, git_repository_commondir(repo)) ==
	    0) {
		if (head_is(candidate, refname)) {
			*out = candidate;
			return 0;
		}
		git_repository_free(candidate);
		candidate = NULL;
	} else {
		git_error_clear();
	}
	if ((error = git_worktree_list(&names, repo)) < 0) {
		git_error_clear();
		return 0;
	}
	for (size_t i = 0; i < names.count && !*out; i++) {
		git_worktree *wt = NULL;
		if (git_worktree_lookup(&wt, repo, names.strings[i]) < 0 ||
		    git_worktree_validate(wt) < 0 ||
		    git_repository_open_from_worktree(&candidate, wt) < 0) {
			git_error_clear();
			git_worktree_free(wt);
			continue;
		}
		if (head_is(candidate, refname))
			*out = candidate;
		else
			git_repository_free(candidate);
		candidate = NULL;
		git_worktree_free(wt);
	}
	git_strarray_dispose(&names);
	return 0;
}

static int is_dirty(int *out, git_repository *wtrepo)
{
	git_status_options opts;
	git_status_list *list = NULL;
	int error;

	git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
	opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if ((error = git_status_list_new(&list, wtrepo, &opts)) < 0)
		return orch_error_git(error, "cannot read the status of '%s'",
		                      git_repository_workdir(wtrepo));
	*out = git_status_list_entrycount(list) > 0;
	git_status_list_free(list);
	return 0;
}

int orch_merge_checkout_state(char **out_path, int *out_dirty,
                              git_repository *repo, const char *branch)
{
	git_repository *wtrepo = NULL;
	orch_buf refname = {0};
	int error;

	*out_path = NULL;
	*out_dirty = 0;
	orch_buf_printf(&refname, "refs/heads/%s", branch);
	if ((error = open_checkout(&wtrepo, repo, refname.ptr)) < 0 || !wtrepo)
		goto done;
	if ((error = is_dirty(out_dirty, wtrepo)) < 0)
		goto done;
	*out_path = orch_strdup(git_repository_workdir(wtrepo));
done:
	git_repository_free(wtrepo);
	orch_buf_free(&refname);
	return error;
}

/* Check out `to` in `wtrepo` from `from`, as a fast-forward of files and index.
 */
static int checkout_between(git_repository *wtrepo, const git_oid *from,
                            const git_oid *to)
{
	git_checkout_options opts;
	git_commit *target = NULL;
	git_tree *baseline = NULL;
	int error;

	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	opts.checkout_strategy = GIT_CHECKOUT_SAFE;
	if ((error = tree_of_commit(&baseline, wtrepo, from)) < 0)
		goto done;
	opts.baseline = baseline;
	if ((error = git_commit_lookup(&target, wtrepo, to)) < 0) {
		error = orch_error_git(error, "cannot read commit %s",
		                       git_oid_tostr_s(to));
		goto done;
	}
	if ((error = git_checkout_tree(wtrepo, (git_object *)target, &opts)) <
	    0)
		error =
		    orch_error_git(error, "cannot update the work tree '%s'",
		                   git_repository_workdir(wtrepo));
done:
	git_tree_free(baseline);
	git_commit_free(target);
	return error;
}

int orch_merge_move_branch(git_repository *repo, const char *branch,
                           const git_oid *expected, const git_oid *target,
                           const char *reflog)
{
	git_repository *wtrepo = NULL;
	git_reference *ref = NULL, *moved = NULL;
	orch_buf refname = {0};
	int error, dirty = 0;

	orch_buf_printf(&refname, "refs/heads/%s", branch);
	if ((error = git_reference_lookup(&ref, repo, refname.ptr)) < 0) {
		error =
		    orch_error_git(error, "cannot read branch '%s'", branch);
		goto done;
	}
	if (git_reference_type(ref) != GIT_REFERENCE_DIRECT ||
	    !git_oid_equal(git_reference_target(ref), expected)) {
		orch_error_set("branch '%s' moved to %s meanwhile (expected "
		               "%.12s): nothing was overwritten",
		               branch,
		               git_reference_target(ref)
		                   ? git_oid_tostr_s(git_reference_target(ref))
		                   : "?",
		               git_oid_tostr_s(expected));
		orch_error_hint(
		    "look at what was added to '%s', then merge again", branch);
		error = ORCH_EMODIFIED;
		goto done;
	}
	if ((error = open_checkout(&wtrepo, repo, refname.ptr)) < 0)
		goto done;
	if (wtrepo) {
		if ((error = is_dirty(&dirty, wtrepo)) < 0)
			goto done;
		if (dirty) {
			orch_error_set(
			    "branch '%s' is checked out in '%s' with "
			    "uncommitted changes: it was not moved",
			    branch, git_repository_workdir(wtrepo));
			orch_error_hint("commit or stash the changes in '%s', "
			                "then run the command again",
			                git_repository_workdir(wtrepo));
			error = ORCH_ELOCKED;
			goto done;
		}
		if ((error = checkout_between(wtrepo, expected, target)) < 0) {
			orch_error_hint(
			    "files in '%s' would be overwritten; move them "
			    "away and run the command again",
			    git_repository_workdir(wtrepo));
			error = ORCH_ELOCKED;
			goto done;
		}
	}
	error = git_reference_create_matching(&moved, repo, refname.ptr, target,
	                                      1, expected, reflog);
	if (error < 0) {
		error =
		    orch_error_git(error, "cannot move branch '%s'", branch);
		if (error == ORCH_EMODIFIED || error == ORCH_ENOTFOUND) {
			orch_error_set("branch '%s' moved meanwhile: nothing "
			               "was overwritten",
			               branch);
			orch_error_hint(
			    "look at what was added to '%s', then merge again",
			    branch);
			error = ORCH_EMODIFIED;
		}
		/* put the files back to what the branch still says */
		if (wtrepo && checkout_between(wtrepo, target, expected) < 0)
			git_error_clear();
	}
done:
	git_reference_free(moved);
	git_reference_free(ref);
	git_repository_free(wtrepo);
	orch_buf_free(&refname);
	return error;
}

/* ---- push ---------------------------------------------------------------- */

static int collect_value(const git_config_entry *entry, void *payload)
{
	orch_strvec_push(payload, entry->value);
	return 0;
}

/*
 * libgit2's git_remote_push has no force-with-lease, so this one step runs
 * `git push --force-with-lease=<ref>:<expected>` through orch_remote_git
 * (an argv array, no shell; the branch and remote names come from the
 * repository's own configuration and are checked as ref names).
 */
int orch_merge_push(git_repository *repo, const char *branch)
{
	git_buf remote = {0}, merge = {0}, upstream = {0};
	git_config *config = NULL;
	orch_buf fetch_key = {0};
	orch_strvec fetch = {0};
	orch_buf refname = {0}, lease = {0}, refspec = {0}, output = {0};
	git_oid tracked;
	int has_tracked = 0, status = 0, error;

	orch_buf_printf(&refname, "refs/heads/%s", branch);
	if ((error = git_branch_upstream_remote(&remote, repo, refname.ptr)) <
	        0 ||
	    (error = git_branch_upstream_merge(&merge, repo, refname.ptr)) <
	        0) {
		error = orch_error_git(
		    error, "branch '%s' has no upstream to push to", branch);
		orch_error_hint("set one with 'git branch "
		                "--set-upstream-to=<remote>/<branch> %s'",
		                branch);
		error = ORCH_EINVALID;
		goto done;
	}
	if (!git_reference_is_valid_name(merge.ptr) || remote.ptr[0] == '-') {
		error = orch_error_set(
		    "the upstream of '%s' (%s %s) is not a valid ref", branch,
		    remote.ptr, merge.ptr);
		goto done;
	}
	/*
	 * The remote-tracking ref, through the remote's fetch refspecs read
	 * from the configuration (git_branch_upstream_name and
	 * git_remote_lookup run regex searches over the configuration that
	 * libgit2 1.5 leaks when they do not match).
	 */
	if ((error = git_repository_config_snapshot(&config, repo)) < 0) {
		error = orch_error_git(error, "cannot read the configuration");
		goto done;
	}
	orch_buf_printf(&fetch_key, "remote.%s.fetch", remote.ptr);
	if (git_config_get_multivar_foreach(config, fetch_key.ptr, NULL,
	                                    collect_value, &fetch) < 0)
		git_error_clear();
	for (size_t i = 0; i < fetch.count && !has_tracked; i++) {
		git_refspec *spec = NULL;
		if (git_refspec_parse(&spec, fetch.items[i], 1) == 0 &&
		    git_refspec_src_matches(spec, merge.ptr)) {
			git_buf_dispose(&upstream);
			if (git_refspec_transform(&upstream, spec, merge.ptr) ==
			        0 &&
			    git_reference_name_to_id(&tracked, repo,
			                             upstream.ptr) == 0)
				has_tracked = 1;
		}
		git_refspec_free(spec);
	}
	git_error_clear();
	if (has_tracked)
		orch_buf_printf(&lease, "--force-with-lease=%s:%s", merge.ptr,
		                git_oid_tostr_s(&tracked));
	else
		orch_buf_printf(&lease, "--force-with-lease=%s:", merge.ptr);
	orch_buf_printf(&refspec, "%s:%s", refname.ptr, merge.ptr);
	{
		const char *args[] = {"push", "--porcelain", lease.ptr,
		                      "--",   remote.ptr,    refspec.ptr,
		                      NULL};
		if ((error = orch_remote_git(&output, &status, repo, args)) < 0)
			goto done;
	}
	if (status != 0) {
		/* the reason is the porcelain line of our ref, or git's last
		 * words */
		const char *why = output.ptr ? output.ptr : "";
		const char *line = strstr(why, "\t");
		orch_buf reason = {0};
		if (line && strchr(line, '\n') && strstr(why, "!\t")) {
			const char *start = strstr(why, "!\t");
			const char *end = strchr(start, '\n');
			orch_buf_put(&reason, start + 2,
			             (size_t)(end - start - 2));
		} else {
			size_t len = strlen(why);
			while (len && why[len - 1] == '\n')
				len--;
			orch_buf_put(&reason, why, len);
		}
		orch_error_set("push of '%s' to '%s' was rejected: %s (the "
		               "local branch keeps the merge)",
		               branch, remote.ptr,
		               reason.ptr ? reason.ptr : "unknown reason");
		orch_error_hint(
		    "fetch '%s', look at what changed there, then push again",
		    remote.ptr);
		orch_buf_free(&reason);
		error = ORCH_EMODIFIED;
	}
done:
	git_buf_dispose(&remote);
	git_buf_dispose(&merge);
	git_buf_dispose(&upstream);
	git_config_free(config);
	orch_buf_free(&fetch_key);
	orch_strvec_free(&fetch);
	orch_buf_free(&refname);
	orch_buf_free(&lease);
	orch_buf_free(&refspec);
	orch_buf_free(&output);
	return error;
}
