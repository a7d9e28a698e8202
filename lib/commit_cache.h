#ifndef ORCH_COMMIT_CACHE_H
#define ORCH_COMMIT_CACHE_H

#include <stddef.h>

#include <git2.h>

/*
 * Commits kept in memory for the history walks of one repository.
 *
 * libgit2 walks history (merge bases, ancestry checks) on raw commits read
 * from the object database, and its object cache does not serve them there
 * once a commit was looked up parsed: every walk reads and inflates every
 * commit it passes again. A task's start commit walks the history of its
 * dependencies' results, which grows with the plan, so each start commit
 * cost more than the one before. This cache is an object database backend
 * tried before the others: it serves the commits it keeps from memory, and
 * while filling it reads what it lacks from the repository's objects
 * directory and keeps the commits among them. Objects never change, so what
 * it serves is what the other backends would: walks and merges give the
 * same results, without reading a commit twice.
 */
typedef struct orch_commit_cache orch_commit_cache;

/*
 * The cache of `repo`'s object database, added to it on first use. It is
 * borrowed: it lives as long as that object database. *out is NULL (and 0
 * returned) when the repository has no objects directory to read from.
 */
int orch_commit_cache_get(orch_commit_cache **out, git_repository *repo);

/*
 * While `on`, objects the cache lacks are read through it and the commits
 * among them kept; otherwise it serves only the commits it has and leaves
 * the rest to the other backends. NULL-safe.
 */
void orch_commit_cache_fill(orch_commit_cache *cache, int on);

/*
 * What a walk or a merge found from commits, kept with them: `value` (ids)
 * computed from `key` (ids, in order) by the function named by `kind` (the
 * caller's numbering). Only for results that depend on nothing but the
 * objects named by the key, which never change: merge bases, a merged tree.
 * orch_commit_cache_recall returns 1 and the borrowed values (valid as long
 * as the cache) when kept, 0 when not (and for a NULL cache).
 */
int orch_commit_cache_recall(const git_oid **out, size_t *out_count,
                             const orch_commit_cache *cache, int kind,
                             const git_oid *key, size_t nkey);
void orch_commit_cache_remember(orch_commit_cache *cache, int kind,
                                const git_oid *key, size_t nkey,
                                const git_oid *value, size_t nvalue);

/*
 * Count generations from `floor` (the commit a run's tasks start from):
 * the merge bases and ancestry below walk the commits above it, never the
 * history below it. Only the first call sets it (NULL-safe); before it,
 * they answer 1 or -1 (ask libgit2).
 */
void orch_commit_cache_floor(orch_commit_cache *cache, const git_oid *floor);

/*
 * The merge bases of commits `one` and `two` (their common ancestors that
 * are no ancestor of another), in no particular order, into *out (malloc'd,
 * caller frees; none: count 0). Walks the commits by generation numbers
 * kept with them, so it meets the commits between the two and their bases,
 * not their whole history. Returns 0, or 1 (nothing set) when a commit is
 * not in the objects directory or not above the floor, or `cache` is NULL:
 * then ask libgit2.
 */
int orch_commit_cache_merge_bases(git_oid **out, size_t *out_count,
                                  orch_commit_cache *cache, const git_oid *one,
                                  const git_oid *two);

/*
 * 1 when commit `to` is `from` or one of its ancestors, 0 when not, -1 when
 * a commit is not in the objects directory or not above the floor, or
 * `cache` is NULL (then ask libgit2). What it finds for each commit it passes
 * is remembered, so asking again about a newer commit costs the commits since.
 */
int orch_commit_cache_reaches(orch_commit_cache *cache, const git_oid *from,
                              const git_oid *to);

/* How many commits the cache keeps (0 for NULL). */
size_t orch_commit_cache_count(const orch_commit_cache *cache);

/* How many results it remembers (0 for NULL). */
size_t orch_commit_cache_memo_count(const orch_commit_cache *cache);

#endif
