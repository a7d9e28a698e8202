/*
 * The store: plans and their states as commits on
 * refs/orchestrate/plans/<plan>, leases as refs under
 * refs/orchestrate/locks/<plan>/, results as notes on refs/notes/orchestrate.
 * Every ref update is a compare-and-swap done by libgit2 under the ref's lock
 * file (git_reference_create_matching and git_reference_delete both compare the
 * old value while holding it).
 *
 * Layout of a plan's state tree (see store.h): with more than
 * ORCH_STORE_FLAT_MAX tasks, tasks/ and logs/ fan out into 256
 * subdirectories named by two lowercase hex digits: the low byte of the
 * 32-bit FNV-1a hash of the task id (offset basis 2166136261, prime
 * 16777619, over the id's bytes). orch_store_task_path() and
 * orch_store_log_path() are the only places that decide a path.
 */
#include "store.h"
#include "remote.h"
#include "error.h"
#include "lease.h"
#include "store_internal.h"
#include "signature.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PLANS_PREFIX "refs/orchestrate/plans/"
/* On a hub, a transition keeps being re-applied for this long. */
#define ORCH_REMOTE_UPDATE_MS (300 * 1000)
#define PLAN_FILE "plan.json"
#define PATH_MAX_LEN 512
/* A lost race is retried this many times before giving up. */
/*
 * A ref's lock file is held for milliseconds; one older than this was left
 * by a process killed while holding it, and is removed.
 */
#define STALE_LOCK_SECONDS 10
/* Parsed states kept; beyond this the cache starts over. */
#define STATE_CACHE_MAX (1u << 18)

/* Parsed task states by blob oid: equal states share one blob. */
struct state_slot {
	git_oid oid;
	int used;
	orch_task_state state;
};

struct state_cache {
	struct state_slot *slots;
	size_t cap;
	size_t count;
};

static size_t oid_hash(const git_oid *oid)
{
	uint32_t hash;

	memcpy(&hash, oid->id, sizeof(hash));
	return hash;
}

static void state_cache_clear(struct state_cache *cache)
{
	for (size_t i = 0; i < cache->cap; i++)
		if (cache->slots[i].used)
			orch_task_state_clear(&cache->slots[i].state);
	free(cache->slots);
	memset(cache, 0, sizeof(*cache));
}

static orch_task_state *state_cache_get(struct state_cache *cache,
                                        const git_oid *oid)
{
	size_t mask, i;

	if (!cache->cap)
		return NULL;
	mask = cache->cap - 1;
	for (i = oid_hash(oid) & mask; cache->slots[i].used; i = (i + 1) & mask)
		if (git_oid_equal(&cache->slots[i].oid, oid))
			return &cache->slots[i].state;
	return NULL;
}

/* Take `state` (moved in) as the state of blob `oid`; returns it, borrowed. */
static orch_task_state *state_cache_add(struct state_cache *cache,
                                        const git_oid *oid,
                                        orch_task_state *state)
{
	size_t mask, i;

	if (cache->count >= STATE_CACHE_MAX)
		state_cache_clear(cache);
	if ((cache->count + 1) * 2 > cache->cap) {
		struct state_cache bigger = {0};
		bigger.cap = cache->cap ? cache->cap * 2 : 64;
		bigger.slots = orch_calloc(bigger.cap, sizeof(*bigger.slots));
		for (size_t k = 0; k < cache->cap; k++) {
			struct state_slot *slot = &cache->slots[k];
			if (!slot->used)
				continue;
			for (i = oid_hash(&slot->oid) & (bigger.cap - 1);
			     bigger.slots[i].used;
			     i = (i + 1) & (bigger.cap - 1))
				;
			bigger.slots[i] = *slot;
			bigger.count++;
		}
		free(cache->slots);
		*cache = bigger;
	}
	mask = cache->cap - 1;
	for (i = oid_hash(oid) & mask; cache->slots[i].used; i = (i + 1) & mask)
		;
	cache->slots[i].used = 1;
	git_oid_cpy(&cache->slots[i].oid, oid);
	cache->slots[i].state = *state;
	orch_task_state_init(state);
	cache->count++;
	return &cache->slots[i].state;
}

/* ---- the store ---------------------------------------------------------- */

/* A parsed plan.json, shared by the transactions that read the same blob. */
struct cached_plan {
	struct cached_plan *next;
	char *name;
	git_oid blob;
	orch_plan *plan;
	int refs;
	int stale; /* a newer plan.json of the same plan was read */
};

struct orch_store {
	git_repository *repo;
	char *plans_prefix; /* NULL: PLANS_PREFIX */
	struct state_cache states;
	struct cached_plan *plans;
	uint64_t random;
	char *remote;            /* shared remote (SPEC 8), or NULL */
	int64_t last_refresh_ms; /* monotonic time of the last fetch */
	int64_t fetch_ms;        /* how long a fetch takes (moving average) */
	int64_t last_win_ms;     /* when our last transition was pushed */
	orch_packer *packer;     /* new objects go into packs */
	int keep_replaced;       /* orch_store_keep_replaced was called */
};

int orch_store_open(orch_store **out, git_repository *repo)
{
	orch_store *store = orch_calloc(1, sizeof(*store));
	int error;

	*out = NULL;
	if ((error = orch_packer_new(&store->packer, repo)) < 0) {
		free(store);
		return error;
	}
	store->repo = repo;
	store->random = ((uint64_t)getpid() << 32) ^
	                (uint64_t)orch_monotonic_ms() ^
	                (uint64_t)(uintptr_t)store ^ 0x9e3779b97f4a7c15ull;
	*out = store;
	return 0;
}

int orch_store_open_prefix(orch_store **out, git_repository *repo,
                           const char *plans_prefix)
{
	int error;

	if ((error = orch_store_open(out, repo)) < 0)
		return error;
	(*out)->plans_prefix = orch_strdup(plans_prefix);
	return 0;
}

static const char *plans_prefix(const orch_store *store)
{
	return store->plans_prefix ? store->plans_prefix : PLANS_PREFIX;
}

void orch_store_set_remote(orch_store *store, const char *remote)
{
	free(store->remote);
	store->remote = remote ? orch_strdup(remote) : NULL;
	store->last_refresh_ms = 0;
}

int orch_store_attach_remote(orch_store *store, const char *remote,
                             const char *plan)
{
	orch_strvec patterns = {0};
	orch_remote_ref *refs = NULL;
	orch_buf refname = {0};
	size_t n = 0;
	int error;

	if ((error = orch_store_check_plan_name(plan)) < 0)
		return error;
	orch_buf_printf(&refname, PLANS_PREFIX "%s", plan);
	orch_strvec_push(&patterns, refname.ptr);
	if ((error = orch_remote_list(&refs, &n, store->repo, remote,
	                              &patterns)) < 0)
		goto done;
	if (n == 0) {
		orch_error_set("'%s' has no plan '%s' (no ref %s there)",
		               remote, plan, refname.ptr);
		orch_error_hint(
		    "store it in a clone with 'git orchestrate plan "
		    "FILE', then 'git push %s BASE "
		    "\'refs/orchestrate/*:refs/orchestrate/*\''",
		    remote);
		error = ORCH_ENOTFOUND;
		goto done;
	}
	orch_store_set_remote(store, remote);
	error = orch_store_refresh(store, plan, 1);
done:
	orch_remote_refs_free(refs, n);
	orch_strvec_free(&patterns);
	orch_buf_free(&refname);
	return error;
}

const char *orch_store_remote(const orch_store *store)
{
	return store->remote;
}

int orch_store_refresh(orch_store *store, const char *plan, int force)
{
	orch_buf spec = {0}, locks = {0};
	int64_t now = orch_monotonic_ms();
	int error;

	if (!store->remote)
		return 0;
	if (!force && store->last_refresh_ms &&
	    now - store->last_refresh_ms < ORCH_REFRESH_MS)
		return 0;
	orch_buf_printf(&spec, PLANS_PREFIX "%s", plan);
	orch_buf_printf(&locks, ORCH_STORE_LOCKS_PREFIX "%s/", plan);
	if ((error = orch_remote_mirror(store->repo, store->remote, locks.ptr,
	                                spec.ptr)) == 0) {
		store->last_refresh_ms = orch_monotonic_ms();
		store->fetch_ms =
		    (3 * store->fetch_ms + (store->last_refresh_ms - now)) / 4;
	}
	orch_buf_free(&spec);
	orch_buf_free(&locks);
	return error;
}

static void cached_plan_free(struct cached_plan *cp)
{
	free(cp->name);
	orch_plan_free(cp->plan);
	free(cp);
}

void orch_store_free(orch_store *store)
{
	if (!store)
		return;
	orch_packer_free(store->packer);
	free(store->remote);
	state_cache_clear(&store->states);
	while (store->plans) {
		struct cached_plan *next = store->plans->next;
		cached_plan_free(store->plans);
		store->plans = next;
	}
	free(store->plans_prefix);
	free(store);
}

void orch_store_keep_replaced(orch_store *store)
{
	store->keep_replaced = 1;
}

void orch_store_keep_ref(orch_store *store, const char *refname)
{
	orch_buf path = {0};

	if (!store->keep_replaced)
		return;
	/* the packer's trash: it goes when the packer does, with the store */
	orch_buf_printf(&path, "%s%s", git_repository_commondir(store->repo),
	                refname);
	orch_trash_keep(orch_packer_trash(store->packer), path.ptr);
	orch_buf_free(&path);
}

void orch_store_pack_some(orch_store *store)
{
	/* on failure the objects stay loose (as they were before packs) */
	if (orch_packer_pack(store->packer, 0) < 0)
		git_error_clear();
}

/*
 * Pack the loose refs into packed-refs (git_refdb_compress, as
 * `git pack-refs --all`): under packed-refs.lock, and a loose ref is only
 * removed under its own lock and while it still has the value packed, so a
 * concurrent update (CAS) is never lost. Another process packing at the
 * same time is left to it.
 */
static int pack_refs(orch_store *store)
{
	git_refdb *refdb = NULL;
	int error, tries;

	if ((error = git_repository_refdb(&refdb, store->repo)) < 0)
		return orch_error_git(error, "cannot open the refs");
	for (tries = 0; tries < ORCH_STORE_CAS_TRIES; tries++) {
		if ((error = git_refdb_compress(refdb)) != GIT_ELOCKED)
			break;
		orch_store_clear_stale_lock(store, "packed-refs");
		orch_store_backoff(store, tries);
	}
	git_refdb_free(refdb);
	if (error == GIT_ELOCKED) {
		git_error_clear();
		return 0;
	}
	return error < 0 ? orch_error_git(error, "cannot pack the refs") : 0;
}

/*
 * Read every state of each plan this store changed, so that its states
 * cache is written for the tree the run leaves (the first status after a
 * run reads it); most states are in the state cache already. Only a
 * cache: a failure changes nothing, and the error already set (a run's)
 * stays as it was.
 */
static void write_states_caches(orch_store *store)
{
	char saved[4096], hint[2048];
	const char *had_hint = orch_error_hint_text();
	orch_strvec done = {0};

	if (store->plans_prefix || store->remote)
		return;
	snprintf(saved, sizeof(saved), "%s", orch_error_message());
	snprintf(hint, sizeof(hint), "%s", had_hint ? had_hint : "");
	for (struct cached_plan *cp = store->plans; cp; cp = cp->next) {
		const orch_plan *plan = cp->plan;
		orch_task_state *states;
		if (cp->stale || orch_strvec_contains(&done, cp->name))
			continue;
		orch_strvec_push(&done, cp->name);
		states = orch_calloc(plan->ntasks + 1, sizeof(*states));
		for (size_t i = 0; i < plan->ntasks; i++)
			orch_task_state_init(&states[i]);
		orch_store_read_states(states, NULL, store, plan);
		for (size_t i = 0; i < plan->ntasks; i++)
			orch_task_state_clear(&states[i]);
		free(states);
	}
	orch_strvec_free(&done);
	git_error_clear();
	orch_error_set("%s", saved);
	orch_error_hint(had_hint ? "%s" : NULL, hint);
}

int orch_store_finish(orch_store *store)
{
	int error;

	write_states_caches(store);
	if ((error = orch_packer_finish(store->packer)) < 0)
		return error;
	return pack_refs(store);
}

git_repository *orch_store_repo(orch_store *store)
{
	return store->repo;
}

/* xorshift64*: only to spread the retries of racing processes apart. */
static uint32_t next_random(orch_store *store)
{
	uint64_t x = store->random;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	store->random = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/* Sleep 1..N ms after the `tries`-th lost race, N growing up to 20. */
void orch_store_backoff(orch_store *store, int tries)
{
	int limit = tries + 2 < 20 ? tries + 2 : 20;
	long ms = 1 + (long)(next_random(store) % (uint32_t)limit);
	struct timespec ts = {0, ms * 1000000L};

	nanosleep(&ts, NULL);
}

int orch_store_is_race(int git_error)
{
	return git_error == GIT_EMODIFIED || git_error == GIT_ELOCKED ||
	       git_error == GIT_EEXISTS;
}

/* Remove lock file `name` (under the common dir) if it is stale. */
static int clear_stale_lock_file(orch_store *store, const char *name)
{
	char path[4096];
	struct stat st;
	int len;

	len = snprintf(path, sizeof(path), "%s%s.lock",
	               git_repository_commondir(store->repo), name);
	if (len < 0 || (size_t)len >= sizeof(path) || stat(path, &st) < 0)
		return 0;
	if (time(NULL) - st.st_mtime < STALE_LOCK_SECONDS)
		return 0;
	return unlink(path) == 0;
}

/*
 * After GIT_ELOCKED on `refname`: remove its lock file if it is stale (see
 * STALE_LOCK_SECONDS), so that a process killed at the wrong moment does
 * not wedge the ref forever. Deleting a packed ref also rewrites
 * packed-refs, under packed-refs.lock: one left by a process killed while
 * packing refs would refuse every such delete, so it counts as the ref's
 * lock too. Returns 1 when a stale lock was removed.
 */
int orch_store_clear_stale_lock(orch_store *store, const char *refname)
{
	int removed = clear_stale_lock_file(store, refname);

	if (strcmp(refname, "packed-refs"))
		removed |= clear_stale_lock_file(store, "packed-refs");
	return removed;
}

int orch_store_check_plan_name(const char *plan)
{
	if (!plan || !orch_id_valid(plan)) {
		orch_error_set("invalid plan name '%s'", plan ? plan : "");
		orch_error_hint(
		    "a plan name is 1-100 characters of A-Z a-z 0-9 . _ -, "
		    "not starting with '.' or '-'");
		return ORCH_EINVALID;
	}
	return 0;
}

static int plan_refname(char *out, size_t outlen, const orch_store *store,
                        const char *plan)
{
	int error;

	if ((error = orch_store_check_plan_name(plan)) < 0)
		return error;
	snprintf(out, outlen, "%s%s", plans_prefix(store), plan);
	return 0;
}

static int plan_not_found(const orch_store *store, const char *plan)
{
	orch_error_set("no plan '%s' (no ref %s%s)", plan, plans_prefix(store),
	               plan);
	orch_error_hint("store it with 'git orchestrate plan FILE'");
	return ORCH_ENOTFOUND;
}

int orch_store_plan_ref(char *out, size_t outlen, orch_store *store,
                        const char *plan)
{
	git_oid head;
	int error;

	if ((error = plan_refname(out, outlen, store, plan)) < 0)
		return error;
	if ((error = git_reference_name_to_id(&head, store->repo, out)) < 0)
		return error == GIT_ENOTFOUND
		           ? plan_not_found(store, plan)
		           : orch_error_git(error, "cannot read '%s'", out);
	return 0;
}

/* The head of plan `plan` and its tree (caller frees). */
static int plan_head(git_oid *out_head, git_tree **out_tree, orch_store *store,
                     const char *plan)
{
	char refname[ORCH_STORE_REFNAME_MAX];
	git_commit *commit = NULL;
	int error;

	if ((error = plan_refname(refname, sizeof(refname), store, plan)) < 0)
		return error;
	if ((error = git_reference_name_to_id(out_head, store->repo, refname)) <
	    0) {
		if (error == GIT_ENOTFOUND)
			return plan_not_found(store, plan);
		return orch_error_git(error, "cannot read '%s'", refname);
	}
	if (!out_tree)
		return 0;
	if ((error = git_commit_lookup(&commit, store->repo, out_head)) < 0 ||
	    (error = git_commit_tree(out_tree, commit)) < 0)
		error = orch_error_git(error, "cannot read the head of '%s'",
		                       refname);
	git_commit_free(commit);
	return error;
}

int orch_store_read_blob(orch_buf *out, git_repository *repo,
                         const git_oid *oid, const char *what)
{
	git_blob *blob = NULL;
	int error;

	if ((error = git_blob_lookup(&blob, repo, oid)) < 0)
		return orch_error_git(error, "cannot read %s", what);
	orch_buf_put(out, git_blob_rawcontent(blob),
	             (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return 0;
}

/*
 * The plan in plan.json blob `oid`, parsed where libgit2 holds it: a copy
 * would add the whole plan.json (21 MB at 100,000 tasks) to the peak.
 */
static int plan_from_blob(orch_plan **out, git_repository *repo,
                          const git_oid *oid)
{
	git_blob *blob = NULL;
	const char *json;
	int error;

	if ((error = git_blob_lookup(&blob, repo, oid)) < 0)
		return orch_error_git(error, "cannot read " PLAN_FILE);
	json = git_blob_rawcontent(blob);
	error = orch_plan_from_json(out, json ? json : "",
	                            (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return error;
}

/* The parsed state of blob `oid`, cached (borrowed until the next call). */
static int cached_state(const orch_task_state **out, orch_store *store,
                        const git_oid *oid, const char *path)
{
	orch_task_state *state = state_cache_get(&store->states, oid);
	orch_task_state parsed;
	git_blob *blob = NULL;
	int error;

	if (state) {
		*out = state;
		return 0;
	}
	if ((error = git_blob_lookup(&blob, store->repo, oid)) < 0)
		return orch_error_git(error, "cannot read '%s'", path);
	orch_task_state_init(&parsed);
	error = orch_task_state_from_json(&parsed, git_blob_rawcontent(blob),
	                                  (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	if (error < 0)
		return orch_error_set("%s: %s", path, orch_error_message());
	*out = state_cache_add(&store->states, oid, &parsed);
	return 0;
}

static void initial_state(orch_task_state *out, const orch_task *task)
{
	orch_task_state_clear(out);
	out->state =
	    task->depends.count ? ORCH_STATE_PENDING : ORCH_STATE_READY;
}

/* ---- paths -------------------------------------------------------------- */

static int state_path(char *out, size_t outlen, const orch_plan *plan,
                      const char *dir, const char *id, const char *ext)
{
	int len;

	if (plan->ntasks > ORCH_STORE_FLAT_MAX)
		len =
		    snprintf(out, outlen, "%s/%02x/%s%s", dir,
		             (unsigned)(orch_hash_fnv1a(id, strlen(id)) & 0xff),
		             id, ext);
	else
		len = snprintf(out, outlen, "%s/%s%s", dir, id, ext);
	if (len < 0 || (size_t)len >= outlen)
		return orch_error_set("path of task '%s' is too long", id);
	return 0;
}

int orch_store_task_path(char *out, size_t outlen, const orch_plan *plan,
                         const char *id)
{
	return state_path(out, outlen, plan, "tasks", id, ".json");
}

int orch_store_log_path(char *out, size_t outlen, const orch_plan *plan,
                        const char *id)
{
	return state_path(out, outlen, plan, "logs", id, ".log");
}

/* A relative path of plain components, none of them ".", ".." or ".git". */
static int path_valid(const char *path)
{
	const char *p = path;

	if (!*p || *p == '/')
		return 0;
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && !strncmp(p, "..", 2)) ||
		    (len == 4 && !strncasecmp(p, ".git", 4)))
			return 0;
		p += len;
		if (*p == '/' && !*++p)
			return 0;
	}
	return 1;
}

/* ---- plans -------------------------------------------------------------- */

struct raw_entry {
	const char *name;
	git_oid oid;
	int is_tree;
};

static int raw_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct raw_entry *)a)->name,
	              ((const struct raw_entry *)b)->name);
}

/*
 * Write a tree object directly: git_treebuilder checks that every entry's
 * object exists, one odb read per entry, which for 100,000 task files
 * would cost seconds. Entries are sorted here; all names of one tree have
 * the same kind (all files, or all two-digit directories), so plain byte
 * order is git's tree order.
 */
static int write_raw_tree(git_oid *out, git_odb *odb, struct raw_entry *entries,
                          size_t n)
{
	orch_buf buf = {0};
	int error;

	qsort(entries, n, sizeof(*entries), raw_entry_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && !strcmp(entries[i - 1].name, entries[i].name)) {
			orch_buf_free(&buf);
			orch_error_set("duplicate entry '%s' in the state tree",
			               entries[i].name);
			return ORCH_EINVALID;
		}
		orch_buf_puts(&buf, entries[i].is_tree ? "40000 " : "100644 ");
		orch_buf_put(&buf, entries[i].name,
		             strlen(entries[i].name) + 1);
		orch_buf_put(&buf, entries[i].oid.id, GIT_OID_RAWSZ);
	}
	error = git_odb_write(out, odb, buf.ptr ? buf.ptr : "", buf.len,
	                      GIT_OBJECT_TREE);
	orch_buf_free(&buf);
	return error < 0 ? orch_error_git(error, "cannot write the state tree")
	                 : 0;
}

static int write_state_blob(git_oid *out, git_repository *repo,
                            const orch_task_state *state)
{
	char *json = orch_task_state_to_json(state);
	int error = git_blob_create_from_buffer(out, repo, json, strlen(json));

	free(json);
	return error < 0 ? orch_error_git(error, "cannot write a task state")
	                 : 0;
}

/* The tree of a freshly stored plan: plan.json and every task's initial state.
 */
static int build_plan_tree(git_oid *out, orch_store *store,
                           const orch_plan *plan)
{
	git_repository *repo = store->repo;
	git_odb *odb = NULL;
	git_treebuilder *root = NULL;
	struct raw_entry *files = NULL, *dirs = NULL;
	char **names = NULL;
	size_t counts[256] = {0}, starts[257] = {0}, fill[256], ndirs = 0;
	int fanned = plan->ntasks > ORCH_STORE_FLAT_MAX;
	orch_task_state initial;
	git_oid blobs[2], plan_blob, tasks_tree;
	int have[2] = {0, 0};
	char *json = NULL;
	int error;

	orch_task_state_init(&initial);
	if ((error = orch_plan_to_json(&json, plan)) < 0)
		goto done;
	if ((error = git_blob_create_from_buffer(&plan_blob, repo, json,
	                                         strlen(json))) < 0) {
		error = orch_error_git(
		    error, "cannot write plan.json of plan '%s'", plan->name);
		goto done;
	}
	if ((error = git_repository_odb(&odb, repo)) < 0) {
		error =
		    orch_error_git(error, "cannot open the object database");
		goto done;
	}
	names = orch_calloc(plan->ntasks + 1, sizeof(*names));
	files = orch_calloc(plan->ntasks + 1, sizeof(*files));
	for (size_t i = 0; i < plan->ntasks; i++) {
		const orch_task *task = &plan->tasks[i];
		int kind = task->depends.count ? 0 : 1;
		size_t len;

		if (!task->id || !orch_id_valid(task->id)) {
			orch_error_set("invalid task id '%s'",
			               task->id ? task->id : "");
			error = ORCH_EINVALID;
			goto done;
		}
		if (!have[kind]) {
			initial.state =
			    kind ? ORCH_STATE_READY : ORCH_STATE_PENDING;
			if ((error = write_state_blob(&blobs[kind], repo,
			                              &initial)) < 0)
				goto done;
			have[kind] = 1;
		}
		len = strlen(task->id);
		names[i] = orch_malloc(len + 6);
		memcpy(names[i], task->id, len);
		memcpy(names[i] + len, ".json", 6);
		if (fanned)
			counts[orch_hash_fnv1a(task->id, len) & 0xff]++;
	}
	if (!fanned) {
		for (size_t i = 0; i < plan->ntasks; i++) {
			files[i].name = names[i];
			files[i].oid =
			    blobs[plan->tasks[i].depends.count ? 0 : 1];
		}
		if ((error = write_raw_tree(&tasks_tree, odb, files,
		                            plan->ntasks)) < 0)
			goto done;
	} else {
		/* bucket the files by directory, then one tree per directory */
		for (size_t b = 0; b < 256; b++)
			starts[b + 1] = starts[b] + counts[b];
		memcpy(fill, starts, sizeof(fill));
		for (size_t i = 0; i < plan->ntasks; i++) {
			const char *id = plan->tasks[i].id;
			size_t at =
			    fill[orch_hash_fnv1a(id, strlen(id)) & 0xff]++;
			files[at].name = names[i];
			files[at].oid =
			    blobs[plan->tasks[i].depends.count ? 0 : 1];
		}
		dirs = orch_calloc(256, sizeof(*dirs));
		for (size_t b = 0; b < 256; b++) {
			char *dirname;
			if (!counts[b])
				continue;
			dirname = orch_malloc(3);
			snprintf(dirname, 3, "%02x", (unsigned)b);
			dirs[ndirs].name = dirname;
			dirs[ndirs].is_tree = 1;
			error = write_raw_tree(&dirs[ndirs].oid, odb,
			                       files + starts[b], counts[b]);
			ndirs++;
			if (error < 0)
				goto done;
		}
		if ((error = write_raw_tree(&tasks_tree, odb, dirs, ndirs)) < 0)
			goto done;
	}
	if ((error = git_treebuilder_new(&root, repo, NULL)) < 0 ||
	    (error = git_treebuilder_insert(NULL, root, PLAN_FILE, &plan_blob,
	                                    GIT_FILEMODE_BLOB)) < 0 ||
	    (error = git_treebuilder_insert(NULL, root, "tasks", &tasks_tree,
	                                    GIT_FILEMODE_TREE)) < 0 ||
	    (error = git_treebuilder_write(out, root)) < 0)
		error = orch_error_git(
		    error, "cannot write the tree of plan '%s'", plan->name);
done:
	if (names)
		for (size_t i = 0; i < plan->ntasks; i++)
			free(names[i]);
	for (size_t b = 0; b < ndirs; b++)
		free((char *)dirs[b].name);
	free(names);
	free(files);
	free(dirs);
	free(json);
	git_treebuilder_free(root);
	git_odb_free(odb);
	return error;
}

/*
 * Set *out when some task of the tree at `head` has started: an attempt
 * counted or a state past ready, or a lease of the plan is held.
 */
static int walk_started(int *out, orch_store *store, const git_tree *tree,
                        int depth)
{
	int error = 0;

	for (size_t i = 0; i < git_tree_entrycount(tree) && !*out; i++) {
		const git_tree_entry *entry = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(entry);
		if (git_tree_entry_type(entry) == GIT_OBJECT_TREE &&
		    depth == 0) {
			git_tree *sub = NULL;
			if ((error =
			         git_tree_lookup(&sub, store->repo,
			                         git_tree_entry_id(entry))) < 0)
				return orch_error_git(
				    error, "cannot read tasks/%s", name);
			error = walk_started(out, store, sub, 1);
			git_tree_free(sub);
		} else if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
			const orch_task_state *state;
			if ((error = cached_state(&state, store,
			                          git_tree_entry_id(entry),
			                          name)) < 0)
				return error;
			if (state->attempts > 0 ||
			    state->state > ORCH_STATE_READY)
				*out = 1;
		}
		if (error < 0)
			return error;
	}
	return 0;
}

static int plan_started(int *out, orch_store *store, const char *plan,
                        const git_oid *head)
{
	git_commit *commit = NULL;
	git_tree *root = NULL, *tasks = NULL;
	const git_tree_entry *entry;
	orch_strvec leases = {0};
	int error;

	*out = 0;
	if ((error = git_commit_lookup(&commit, store->repo, head)) < 0 ||
	    (error = git_commit_tree(&root, commit)) < 0) {
		error = orch_error_git(error, "cannot read plan '%s'", plan);
		goto done;
	}
	entry = git_tree_entry_byname(root, "tasks");
	if (entry && git_tree_entry_type(entry) == GIT_OBJECT_TREE) {
		if ((error = git_tree_lookup(&tasks, store->repo,
		                             git_tree_entry_id(entry))) < 0) {
			error = orch_error_git(
			    error, "cannot read the tasks of plan '%s'", plan);
			goto done;
		}
		if ((error = walk_started(out, store, tasks, 0)) < 0)
			goto done;
	}
	if (!*out) {
		if ((error = orch_lease_list(&leases, store, plan)) < 0)
			goto done;
		*out = leases.count > 0;
	}
done:
	orch_strvec_free(&leases);
	git_tree_free(tasks);
	git_tree_free(root);
	git_commit_free(commit);
	return error;
}

int orch_store_create_plan(orch_store *store, const orch_plan *plan,
                           int replace)
{
	char refname[ORCH_STORE_REFNAME_MAX], message[128];
	git_signature *sig = NULL;
	git_reference *ref = NULL;
	git_commit *parent = NULL;
	git_tree *tree = NULL;
	git_oid tree_oid, head, commit, zero = {{0}};
	int error, tries;

	if ((error =
	         plan_refname(refname, sizeof(refname), store, plan->name)) < 0)
		return error;
	if ((error = build_plan_tree(&tree_oid, store, plan)) < 0)
		goto done;
	if ((error = git_tree_lookup(&tree, store->repo, &tree_oid)) < 0 ||
	    (error = orch_signature_default(&sig, store->repo)) < 0) {
		error = error == ORCH_ERROR
		            ? error
		            : orch_error_git(error, "cannot store plan");
		goto done;
	}
	for (tries = 0; tries < ORCH_STORE_CAS_TRIES; tries++) {
		int exists, started = 0;
		const git_commit *parents[1];

		git_commit_free(parent);
		parent = NULL;
		error = git_reference_name_to_id(&head, store->repo, refname);
		if (error < 0 && error != GIT_ENOTFOUND) {
			error =
			    orch_error_git(error, "cannot read '%s'", refname);
			goto done;
		}
		exists = error == 0;
		if (exists && !replace) {
			orch_error_set("plan '%s' already exists", plan->name);
			orch_error_hint("store it under another name with "
			                "--name, or delete the stored one "
			                "with 'git orchestrate forget %s'",
			                plan->name);
			error = ORCH_EEXISTS;
			goto done;
		}
		if (exists && (error = plan_started(&started, store, plan->name,
		                                    &head)) < 0)
			goto done;
		if (started) {
			orch_error_set(
			    "plan '%s' already exists and has started tasks",
			    plan->name);
			orch_error_hint("run it with 'git orchestrate run %s', "
			                "delete it with "
			                "'git orchestrate forget %s', or store "
			                "this one under "
			                "another name with --name",
			                plan->name, plan->name);
			error = ORCH_EEXISTS;
			goto done;
		}
		if (exists && (error = git_commit_lookup(&parent, store->repo,
		                                         &head)) < 0) {
			error =
			    orch_error_git(error, "cannot read '%s'", refname);
			goto done;
		}
		snprintf(message, sizeof(message), "plan %s: %zu task%s\n",
		         exists ? "replaced" : "stored", plan->ntasks,
		         plan->ntasks == 1 ? "" : "s");
		parents[0] = parent;
		if ((error = git_commit_create(&commit, store->repo, NULL, sig,
		                               sig, NULL, message, tree,
		                               exists ? 1 : 0, parents)) < 0) {
			error = orch_error_git(error, "cannot commit plan '%s'",
			                       plan->name);
			goto done;
		}
		/* creation: an all-zero expected value fails if the ref
		 * appeared */
		error = git_reference_create_matching(
		    &ref, store->repo, refname, &commit, exists,
		    exists ? &head : &zero, message);
		git_reference_free(ref);
		ref = NULL;
		if (error == 0)
			goto done;
		if (!orch_store_is_race(error) && error != GIT_ENOTFOUND) {
			error = orch_error_git(error, "cannot update '%s'",
			                       refname);
			goto done;
		}
		if (error == GIT_ELOCKED)
			orch_store_clear_stale_lock(store, refname);
		orch_store_backoff(store, tries);
	}
	orch_error_set("cannot store plan '%s': '%s' kept changing", plan->name,
	               refname);
	error = ORCH_EMODIFIED;
done:
	git_commit_free(parent);
	git_tree_free(tree);
	git_signature_free(sig);
	return error;
}

int orch_store_load_plan(orch_plan **out, git_oid *out_head, orch_store *store,
                         const char *name)
{
	git_tree *tree = NULL;
	const git_tree_entry *entry;
	git_oid head;
	int error;

	*out = NULL;
	if ((error = plan_head(&head, &tree, store, name)) < 0)
		goto done;
	if (!(entry = git_tree_entry_byname(tree, PLAN_FILE))) {
		error = orch_error_set("plan '%s' has no " PLAN_FILE, name);
		goto done;
	}
	if ((error = plan_from_blob(out, store->repo,
	                            git_tree_entry_id(entry))) < 0)
		goto done;
	if (out_head)
		git_oid_cpy(out_head, &head);
done:
	git_tree_free(tree);
	return error;
}

int orch_store_reload_plan(orch_plan **out, git_oid *head, git_oid *blob,
                           orch_store *store, const char *name,
                           const git_oid *seen)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	const git_tree_entry *entry;
	git_oid now;
	int error;

	*out = NULL;
	if (seen)
		git_oid_cpy(&now, seen);
	else if ((error = plan_head(&now, NULL, store, name)) < 0)
		return error;
	if (git_oid_equal(&now, head))
		return 0;
	if ((error = git_commit_lookup(&commit, store->repo, &now)) < 0 ||
	    (error = git_commit_tree(&tree, commit)) < 0) {
		error = orch_error_git(
		    error, "cannot read the head of plan '%s'", name);
		goto done;
	}
	if (!(entry = git_tree_entry_byname(tree, PLAN_FILE))) {
		error = orch_error_set("plan '%s' has no " PLAN_FILE, name);
		goto done;
	}
	git_oid_cpy(head, &now);
	if (git_oid_equal(git_tree_entry_id(entry), blob))
		goto done;
	if ((error = plan_from_blob(out, store->repo,
	                            git_tree_entry_id(entry))) < 0)
		goto done;
	git_oid_cpy(blob, git_tree_entry_id(entry));
done:
	git_tree_free(tree);
	git_commit_free(commit);
	return error;
}

struct orch_states_reader {
	size_t ntasks;
	int have_head, have_tasks;
	git_oid head, tasks;
	unsigned char have_sub[256];
	git_oid sub[256];
	unsigned char *bucket; /* each task's fan-out subtree */
	size_t *in_bucket;     /* the tasks of each subtree (CSR) */
	size_t bucket_start[257];
	unsigned char *have_blob;
	git_oid *blob;       /* what each task's state was read from */
	unsigned char *seen; /* read in this call (cleared after it) */
	size_t *seen_list, nseen;
	size_t *changed; /* the tasks whose state the last call changed */
	size_t nchanged;
};

orch_states_reader *orch_states_reader_new(const orch_plan *plan)
{
	orch_states_reader *r = orch_calloc(1, sizeof(*r));

	r->ntasks = plan->ntasks;
	r->bucket = orch_calloc(plan->ntasks + 1, 1);
	r->in_bucket = orch_calloc(plan->ntasks + 1, sizeof(size_t));
	r->have_blob = orch_calloc(plan->ntasks + 1, 1);
	r->blob = orch_calloc(plan->ntasks + 1, sizeof(git_oid));
	r->seen = orch_calloc(plan->ntasks + 1, 1);
	r->seen_list = orch_calloc(plan->ntasks + 1, sizeof(size_t));
	r->changed = orch_calloc(plan->ntasks + 1, sizeof(size_t));
	for (size_t i = 0; i < plan->ntasks; i++) {
		const char *id = plan->tasks[i].id;
		r->bucket[i] =
		    (unsigned char)(orch_hash_fnv1a(id, strlen(id)) & 0xff);
		r->bucket_start[r->bucket[i] + 1]++;
	}
	for (size_t b = 0; b < 256; b++)
		r->bucket_start[b + 1] += r->bucket_start[b];
	{
		size_t fill[256];
		memcpy(fill, r->bucket_start, sizeof(fill));
		for (size_t i = 0; i < plan->ntasks; i++)
			r->in_bucket[fill[r->bucket[i]]++] = i;
	}
	return r;
}

void orch_states_reader_free(orch_states_reader *r)
{
	if (!r)
		return;
	free(r->bucket);
	free(r->in_bucket);
	free(r->have_blob);
	free(r->blob);
	free(r->seen);
	free(r->seen_list);
	free(r->changed);
	free(r);
}

struct read_ctx {
	orch_store *store;
	const orch_plan *plan;
	orch_task_state *states;
	unsigned char *seen;
	orch_states_reader *reader; /* or NULL: read everything */
	unsigned char skipped[256]; /* fan-out subtrees unchanged */
};

/* The fan-out subtree named by two lowercase hex digits, or -1. */
static int subtree_byte(const char *name)
{
	static const char hex[] = "0123456789abcdef";
	const char *hi, *lo;

	if (strlen(name) != 2 || !(hi = strchr(hex, name[0])) ||
	    !(lo = strchr(hex, name[1])))
		return -1;
	return (int)((hi - hex) * 16 + (lo - hex));
}

static int read_states_tree(struct read_ctx *ctx, const git_tree *tree,
                            int depth)
{
	int error = 0;

	for (size_t i = 0; i < git_tree_entrycount(tree); i++) {
		const git_tree_entry *entry = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(entry);
		size_t len = strlen(name);
		long pos;
		const orch_task_state *state;
		char id[128];

		if (git_tree_entry_type(entry) == GIT_OBJECT_TREE &&
		    depth == 0) {
			git_tree *sub = NULL;
			orch_states_reader *r = ctx->reader;
			int b = subtree_byte(name);
			if (r && b >= 0 && r->have_sub[b] &&
			    git_oid_equal(&r->sub[b],
			                  git_tree_entry_id(entry))) {
				ctx->skipped[b] = 1;
				continue;
			}
			if (r && b >= 0) {
				r->have_sub[b] = 1;
				git_oid_cpy(&r->sub[b],
				            git_tree_entry_id(entry));
			}
			if ((error =
			         git_tree_lookup(&sub, ctx->store->repo,
			                         git_tree_entry_id(entry))) < 0)
				return orch_error_git(
				    error, "cannot read tasks/%s", name);
			error = read_states_tree(ctx, sub, 1);
			git_tree_free(sub);
			if (error < 0)
				return error;
			continue;
		}
		if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB || len <= 5 ||
		    len - 5 >= sizeof(id) || strcmp(name + len - 5, ".json"))
			continue;
		memcpy(id, name, len - 5);
		id[len - 5] = '\0';
		if ((pos = orch_plan_find(ctx->plan, id)) < 0)
			continue; /* not a task of this plan */
		if (ctx->reader && !ctx->seen[pos])
			ctx->reader->seen_list[ctx->reader->nseen++] =
			    (size_t)pos;
		ctx->seen[pos] = 1;
		if (ctx->reader && ctx->reader->have_blob[pos] &&
		    git_oid_equal(&ctx->reader->blob[pos],
		                  git_tree_entry_id(entry)))
			continue; /* read from this blob last time */
		if ((error = cached_state(&state, ctx->store,
		                          git_tree_entry_id(entry), name)) < 0)
			return error;
		orch_task_state_copy(&ctx->states[pos], state);
		if (ctx->reader) {
			ctx->reader->changed[ctx->reader->nchanged++] =
			    (size_t)pos;
			ctx->reader->have_blob[pos] = 1;
			git_oid_cpy(&ctx->reader->blob[pos],
			            git_tree_entry_id(entry));
		}
	}
	return 0;
}

/* Is a task of states[0..n) that has a state file (have[i]) running? */
static int any_running(const orch_task_state *states, const unsigned char *have,
                       size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (have[i] && states[i].state == ORCH_STATE_RUNNING)
			return 1;
	return 0;
}

/* Read the states of tasks tree `oid` (read_states_tree). */
static int read_tasks(struct read_ctx *ctx, const git_oid *oid)
{
	git_tree *tasks = NULL;
	int error;

	if ((error = git_tree_lookup(&tasks, ctx->store->repo, oid)) < 0)
		return orch_error_git(error,
		                      "cannot read the tasks of plan '%s'",
		                      ctx->plan->name);
	error = read_states_tree(ctx, tasks, 0);
	git_tree_free(tasks);
	return error;
}

int orch_store_read_states(orch_task_state *states, git_oid *out_head,
                           orch_store *store, const orch_plan *plan)
{
	return orch_store_read_states_since(states, out_head, store, plan,
	                                    NULL);
}

/* Task `i` has no state file (any more): its state is the initial one. */
static void reset_state(struct read_ctx *ctx, size_t i, int first)
{
	orch_states_reader *r = ctx->reader;

	if (ctx->seen[i])
		return;
	if (r && !first && !r->have_blob[i])
		return; /* initial already */
	initial_state(&ctx->states[i], &ctx->plan->tasks[i]);
	if (r) {
		r->have_blob[i] = 0;
		r->changed[r->nchanged++] = i;
	}
}

int orch_store_read_states_since(orch_task_state *states, git_oid *out_head,
                                 orch_store *store, const orch_plan *plan,
                                 orch_states_reader *r)
{
	struct read_ctx ctx = {store, plan, states, NULL, r, {0}};
	git_tree *root = NULL;
	const git_tree_entry *entry;
	git_oid head;
	int error, all_skipped = 0, have_tasks = 0, first = !r || !r->have_head;

	if (r && r->ntasks != plan->ntasks)
		return orch_error_set("plan '%s': the states reader was made "
		                      "for another plan",
		                      plan->name);
	if (r)
		r->nchanged = 0;
	if ((error = orch_store_refresh(store, plan->name, 0)) < 0 ||
	    (error = plan_head(&head, NULL, store, plan->name)) < 0)
		goto done;
	if (r && r->have_head && git_oid_equal(&r->head, &head)) {
		if (out_head)
			git_oid_cpy(out_head, &head);
		return 0; /* nothing changed */
	}
	if ((error = plan_head(&head, &root, store, plan->name)) < 0)
		goto done;
	ctx.seen = r ? r->seen : orch_calloc(plan->ntasks + 1, 1);
	entry = git_tree_entry_byname(root, "tasks");
	if (entry && git_tree_entry_type(entry) == GIT_OBJECT_TREE && r &&
	    r->have_tasks &&
	    git_oid_equal(&r->tasks, git_tree_entry_id(entry))) {
		all_skipped = 1;
	} else if (entry && git_tree_entry_type(entry) == GIT_OBJECT_TREE) {
		/* reading every state: the cache, if made from this tree */
		int cacheable = !r && !store->plans_prefix;
		have_tasks = 1;
		if (r) {
			r->have_tasks = 1;
			git_oid_cpy(&r->tasks, git_tree_entry_id(entry));
		}
		if (cacheable && orch_states_cache_read(
		                     states, ctx.seen, store->repo, plan->name,
		                     plan, git_tree_entry_id(entry)))
			cacheable = 0; /* read from it */
		else if ((error = read_tasks(&ctx, git_tree_entry_id(entry))) <
		         0)
			goto done;
		/* not while a task runs: its tree changes again within
		 * seconds, and `status --watch` would write the whole cache
		 * each time (a run writes it when it ends) */
		if (cacheable && !any_running(states, ctx.seen, plan->ntasks))
			orch_states_cache_write(store->repo, plan->name, plan,
			                        git_tree_entry_id(entry),
			                        states, ctx.seen);
	}
	/*
	 * The tasks without a state file have the initial state. A reader
	 * looks only in the fan-out subtrees it read again: the cost stays
	 * that of what changed.
	 */
	if (all_skipped) {
		/* as read before */
	} else if (r && !first && have_tasks &&
	           plan->ntasks > ORCH_STORE_FLAT_MAX) {
		for (size_t b = 0; b < 256; b++) {
			if (ctx.skipped[b])
				continue;
			for (size_t k = r->bucket_start[b];
			     k < r->bucket_start[b + 1]; k++)
				reset_state(&ctx, r->in_bucket[k], first);
		}
	} else {
		for (size_t i = 0; i < plan->ntasks; i++)
			reset_state(&ctx, i, first);
	}
	if (r) {
		r->have_head = 1;
		git_oid_cpy(&r->head, &head);
	}
	if (out_head)
		git_oid_cpy(out_head, &head);
done:
	if (r) {
		for (size_t k = 0; k < r->nseen; k++)
			r->seen[r->seen_list[k]] = 0;
		r->nseen = 0;
	} else {
		free(ctx.seen);
	}
	git_tree_free(root);
	return error;
}

const size_t *orch_states_reader_changed(const orch_states_reader *r,
                                         size_t *count)
{
	*count = r->nchanged;
	return r->changed;
}

int orch_store_read_file(orch_buf *out, orch_store *store, const char *plan,
                         const char *path)
{
	int found,
	    error = orch_store_read_file_if(out, &found, store, plan, path);

	if (error == 0 && !found) {
		orch_error_set("plan '%s' has no file '%s'", plan, path);
		error = ORCH_ENOTFOUND;
	}
	return error;
}

int orch_store_read_file_if(orch_buf *out, int *found, orch_store *store,
                            const char *plan, const char *path)
{
	git_tree *root = NULL;
	git_tree_entry *entry = NULL;
	git_oid head;
	int error;

	*found = 0;
	if ((error = plan_head(&head, &root, store, plan)) < 0)
		goto done;
	error = git_tree_entry_bypath(&entry, root, path);
	if (error == GIT_ENOTFOUND ||
	    (!error && git_tree_entry_type(entry) != GIT_OBJECT_BLOB)) {
		error = 0;
		goto done;
	}
	if (error < 0) {
		error = orch_error_git(error, "cannot read '%s' of plan '%s'",
		                       path, plan);
		goto done;
	}
	error = orch_store_read_blob(out, store->repo, git_tree_entry_id(entry),
	                             path);
	*found = error == 0;
done:
	git_tree_entry_free(entry);
	git_tree_free(root);
	return error;
}

int orch_store_list_dir(orch_strvec *out, orch_store *store, const char *plan,
                        const char *dir)
{
	git_tree *root = NULL, *sub = NULL;
	git_tree_entry *entry = NULL;
	git_oid head;
	int error;

	if ((error = plan_head(&head, &root, store, plan)) < 0)
		goto done;
	error = git_tree_entry_bypath(&entry, root, dir);
	if (error == GIT_ENOTFOUND ||
	    (!error && git_tree_entry_type(entry) != GIT_OBJECT_TREE)) {
		error = 0; /* nothing there */
		goto done;
	}
	if (error < 0 ||
	    (error = git_tree_lookup(&sub, store->repo,
	                             git_tree_entry_id(entry))) < 0) {
		error = orch_error_git(error, "cannot read '%s' of plan '%s'",
		                       dir, plan);
		goto done;
	}
	for (size_t i = 0; i < git_tree_entrycount(sub); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(sub, i);
		if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
			orch_strvec_push(out, git_tree_entry_name(e));
	}
done:
	git_tree_free(sub);
	git_tree_entry_free(entry);
	git_tree_free(root);
	return error;
}

static int strptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the names under `prefix` (without it), sorted; nested: with '/'. */
int orch_store_list_refs(orch_strvec *out, orch_store *store,
                         const char *prefix, int nested)
{
	git_reference_iterator *iter = NULL;
	const char *name;
	size_t len = strlen(prefix), first = out->count;
	char glob[ORCH_STORE_REFNAME_MAX];
	int error;

	snprintf(glob, sizeof(glob), "%s*", prefix);
	if ((error =
	         git_reference_iterator_glob_new(&iter, store->repo, glob)) < 0)
		return orch_error_git(error, "cannot list '%s'", glob);
	while ((error = git_reference_next_name(&name, iter)) == 0) {
		if (strncmp(name, prefix, len) || !name[len])
			continue;
		if (!nested && strchr(name + len, '/'))
			continue;
		orch_strvec_push(out, name + len);
	}
	git_reference_iterator_free(iter);
	if (error != GIT_ITEROVER)
		return orch_error_git(error, "cannot list '%s'", glob);
	if (out->count > first)
		qsort(out->items + first, out->count - first, sizeof(char *),
		      strptr_cmp);
	return 0;
}

int orch_store_list_plans(orch_strvec *out, orch_store *store)
{
	return orch_store_list_refs(out, store, plans_prefix(store), 0);
}

/* ---- transactions --------------------------------------------------- */

struct txn_put {
	char *path;
	git_oid oid;
};

struct txn_dir {
	char *path;
	git_tree *tree; /* NULL: no such directory */
};

/* A ref pushed (or expected) together with a transition on a remote. */
enum { TXN_REF_SET, TXN_REF_EXPECT, TXN_REF_DELETE };

struct txn_ref {
	char *refname;
	git_oid oid;
	int mode; /* TXN_REF_SET, TXN_REF_EXPECT or TXN_REF_DELETE */
};

struct orch_txn {
	struct txn_ref *refs;
	size_t nrefs;
	orch_store *store;
	const char *plan_name;
	struct cached_plan *cached;
	git_tree *root;
	struct txn_put *puts;
	size_t nputs, aputs;
	orch_strmap put_index; /* path -> position in puts */
	struct txn_dir *dirs;
	size_t ndirs, adirs;
	orch_strmap dir_index; /* directory path -> position in dirs */
	orch_buf message;
};

static void cached_plan_release(orch_store *store, struct cached_plan *cp)
{
	struct cached_plan **link;

	if (!cp || --cp->refs > 0 || !cp->stale)
		return;
	for (link = &store->plans; *link; link = &(*link)->next) {
		if (*link == cp) {
			*link = cp->next;
			cached_plan_free(cp);
			return;
		}
	}
}

/* The parsed plan.json of `root`, shared while plan.json stays the same blob.
 */
static int cached_plan_get(struct cached_plan **out, orch_store *store,
                           const char *name, const git_tree *root)
{
	const git_tree_entry *entry = git_tree_entry_byname(root, PLAN_FILE);
	struct cached_plan *cp, **link;
	orch_plan *plan = NULL;
	int error;

	if (!entry || git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
		return orch_error_set("plan '%s' has no " PLAN_FILE, name);
	for (cp = store->plans; cp; cp = cp->next) {
		if (!cp->stale && !strcmp(cp->name, name) &&
		    git_oid_equal(&cp->blob, git_tree_entry_id(entry))) {
			cp->refs++;
			*out = cp;
			return 0;
		}
	}
	if ((error = plan_from_blob(&plan, store->repo,
	                            git_tree_entry_id(entry))) < 0)
		return error;
	/* older versions of this plan go as soon as no transaction uses them */
	for (link = &store->plans; *link;) {
		cp = *link;
		if (!strcmp(cp->name, name)) {
			cp->stale = 1;
			if (cp->refs == 0) {
				*link = cp->next;
				cached_plan_free(cp);
				continue;
			}
		}
		link = &cp->next;
	}
	cp = orch_calloc(1, sizeof(*cp));
	cp->name = orch_strdup(name);
	git_oid_cpy(&cp->blob, git_tree_entry_id(entry));
	cp->plan = plan;
	cp->refs = 1;
	cp->next = store->plans;
	store->plans = cp;
	*out = cp;
	return 0;
}

static void txn_clear(orch_txn *txn)
{
	for (size_t i = 0; i < txn->nrefs; i++)
		free(txn->refs[i].refname);
	free(txn->refs);
	for (size_t i = 0; i < txn->nputs; i++)
		free(txn->puts[i].path);
	free(txn->puts);
	orch_strmap_clear(&txn->put_index);
	for (size_t i = 0; i < txn->ndirs; i++) {
		free(txn->dirs[i].path);
		git_tree_free(txn->dirs[i].tree);
	}
	free(txn->dirs);
	orch_strmap_clear(&txn->dir_index);
	orch_buf_free(&txn->message);
	git_tree_free(txn->root);
	cached_plan_release(txn->store, txn->cached);
	memset(txn, 0, sizeof(*txn));
}

static void txn_add_ref(orch_txn *txn, const char *refname, const git_oid *oid,
                        int mode)
{
	txn->refs =
	    orch_realloc(txn->refs, (txn->nrefs + 1) * sizeof(*txn->refs));
	txn->refs[txn->nrefs].refname = orch_strdup(refname);
	git_oid_cpy(&txn->refs[txn->nrefs].oid, oid);
	txn->refs[txn->nrefs].mode = mode;
	txn->nrefs++;
}

void orch_txn_push_ref(orch_txn *txn, const char *refname, const git_oid *oid)
{
	txn_add_ref(txn, refname, oid, TXN_REF_SET);
}

void orch_txn_expect_ref(orch_txn *txn, const char *refname, const git_oid *oid)
{
	txn_add_ref(txn, refname, oid, TXN_REF_EXPECT);
}

void orch_txn_delete_ref(orch_txn *txn, const char *refname, const git_oid *oid)
{
	txn_add_ref(txn, refname, oid, TXN_REF_DELETE);
}

const orch_plan *orch_txn_plan(orch_txn *txn)
{
	return txn->cached->plan;
}

/* The tree of directory `dir` (len bytes) at the head, cached; NULL if none. */
static int txn_dir(git_tree **out, orch_txn *txn, const char *dir, size_t len)
{
	git_tree_entry *entry = NULL;
	git_tree *tree = NULL;
	char *path;
	size_t pos;
	int error;

	if (len == 0) {
		*out = txn->root;
		return 0;
	}
	path = orch_strndup(dir, len);
	if (orch_strmap_get(&pos, &txn->dir_index, path)) {
		free(path);
		*out = txn->dirs[pos].tree;
		return 0;
	}
	error = git_tree_entry_bypath(&entry, txn->root, path);
	if (error == 0 && git_tree_entry_type(entry) == GIT_OBJECT_TREE)
		error = git_tree_lookup(&tree, txn->store->repo,
		                        git_tree_entry_id(entry));
	git_tree_entry_free(entry);
	if (error < 0 && error != GIT_ENOTFOUND) {
		error = orch_error_git(error, "cannot read '%s'", path);
		free(path);
		return error;
	}
	if (txn->ndirs == txn->adirs) {
		txn->adirs = txn->adirs ? txn->adirs * 2 : 16;
		txn->dirs =
		    orch_realloc(txn->dirs, txn->adirs * sizeof(*txn->dirs));
	}
	txn->dirs[txn->ndirs].path = path;
	txn->dirs[txn->ndirs].tree = tree;
	orch_strmap_set(&txn->dir_index, path, txn->ndirs);
	txn->ndirs++;
	*out = tree;
	return 0;
}

/* The blob at `path` as of this transaction: *found is 0 when absent. */
static int txn_lookup(git_oid *out, int *found, orch_txn *txn, const char *path)
{
	const char *slash = strrchr(path, '/');
	const git_tree_entry *entry;
	git_tree *dir = NULL;
	size_t pos;
	int error;

	*found = 0;
	if (orch_strmap_get(&pos, &txn->put_index, path)) {
		git_oid_cpy(out, &txn->puts[pos].oid);
		*found = 1;
		return 0;
	}
	if ((error = txn_dir(&dir, txn, path,
	                     slash ? (size_t)(slash - path) : 0)) < 0)
		return error;
	if (!dir)
		return 0;
	entry = git_tree_entry_byname(dir, slash ? slash + 1 : path);
	if (entry && git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
		git_oid_cpy(out, git_tree_entry_id(entry));
		*found = 1;
	}
	return 0;
}

static int txn_put(orch_txn *txn, const char *path, const git_oid *oid)
{
	size_t pos;

	if (orch_strmap_get(&pos, &txn->put_index, path)) {
		git_oid_cpy(&txn->puts[pos].oid, oid);
		return 0;
	}
	if (txn->nputs == txn->aputs) {
		txn->aputs = txn->aputs ? txn->aputs * 2 : 16;
		txn->puts =
		    orch_realloc(txn->puts, txn->aputs * sizeof(*txn->puts));
	}
	txn->puts[txn->nputs].path = orch_strdup(path);
	git_oid_cpy(&txn->puts[txn->nputs].oid, oid);
	orch_strmap_set(&txn->put_index, txn->puts[txn->nputs].path,
	                txn->nputs);
	txn->nputs++;
	return 0;
}

static int txn_task(size_t *pos, orch_txn *txn, const char *id)
{
	long found = id ? orch_plan_find(txn->cached->plan, id) : -1;

	if (found >= 0) {
		*pos = (size_t)found;
		return 0;
	}
	orch_error_set("plan '%s' has no task '%s'", txn->plan_name,
	               id ? id : "");
	return ORCH_ENOTFOUND;
}

int orch_txn_get_task(orch_task_state *out, orch_txn *txn, const char *id)
{
	const orch_plan *plan = txn->cached->plan;
	const orch_task_state *state;
	char path[PATH_MAX_LEN];
	git_oid oid;
	size_t pos;
	int error, found;

	if ((error = txn_task(&pos, txn, id)) < 0 ||
	    (error = orch_store_task_path(path, sizeof(path), plan, id)) < 0 ||
	    (error = txn_lookup(&oid, &found, txn, path)) < 0)
		return error;
	if (!found) {
		initial_state(out, &plan->tasks[pos]);
		return 0;
	}
	if ((error = cached_state(&state, txn->store, &oid, path)) < 0)
		return error;
	orch_task_state_copy(out, state);
	return 0;
}

int orch_txn_put_task(orch_txn *txn, const char *id,
                      const orch_task_state *state)
{
	char path[PATH_MAX_LEN];
	git_oid oid;
	size_t pos;
	int error;

	if ((error = txn_task(&pos, txn, id)) < 0 ||
	    (error = orch_store_task_path(path, sizeof(path), txn->cached->plan,
	                                  id)) < 0 ||
	    (error = write_state_blob(&oid, txn->store->repo, state)) < 0)
		return error;
	return txn_put(txn, path, &oid);
}

static int put_bytes(orch_txn *txn, const char *path, const void *bytes,
                     size_t len)
{
	git_oid oid;
	int error;

	if ((error = git_blob_create_from_buffer(&oid, txn->store->repo,
	                                         len ? bytes : "", len)) < 0)
		return orch_error_git(error, "cannot write '%s' of plan '%s'",
		                      path, txn->plan_name);
	return txn_put(txn, path, &oid);
}

int orch_txn_put_file(orch_txn *txn, const char *path, const void *bytes,
                      size_t len)
{
	if (!path || !path_valid(path)) {
		orch_error_set(
		    "invalid path '%s' in the state tree of plan '%s'",
		    path ? path : "", txn->plan_name);
		return ORCH_EINVALID;
	}
	return put_bytes(txn, path, bytes, len);
}

int orch_txn_put_log(orch_txn *txn, const char *id, const void *bytes,
                     size_t len)
{
	char path[PATH_MAX_LEN];
	size_t pos;
	int error;

	if ((error = txn_task(&pos, txn, id)) < 0 ||
	    (error = orch_store_log_path(path, sizeof(path), txn->cached->plan,
	                                 id)) < 0)
		return error;
	if (len > ORCH_LOG_MAX) {
		bytes = (const char *)bytes + (len - ORCH_LOG_MAX);
		len = ORCH_LOG_MAX;
	}
	return put_bytes(txn, path, bytes, len);
}

int orch_txn_read_file(orch_buf *out, orch_txn *txn, const char *path)
{
	git_oid oid;
	int error, found;

	if ((error = txn_lookup(&oid, &found, txn, path)) < 0)
		return error;
	if (!found) {
		orch_error_set("plan '%s' has no file '%s'", txn->plan_name,
		               path);
		return ORCH_ENOTFOUND;
	}
	return orch_store_read_blob(out, txn->store->repo, &oid, path);
}

void orch_txn_message(orch_txn *txn, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (len < 0)
		abort();
	orch_buf_clear(&txn->message);
	orch_buf_puts(&txn->message, text);
	free(text);
}

static int put_cmp(const void *a, const void *b)
{
	return strcmp((*(struct txn_put *const *)a)->path,
	              (*(struct txn_put *const *)b)->path);
}

/*
 * Write `base` (may be NULL) with puts[0..n) applied, where each put's path
 * starts `skip` bytes into this directory. Only the directories that
 * receive a put are rebuilt; every other entry is kept as it is.
 */
static int write_tree(git_oid *out, git_repository *repo, const git_tree *base,
                      struct txn_put **puts, size_t n, size_t skip)
{
	git_treebuilder *bld = NULL;
	git_tree *sub = NULL;
	char *component = NULL;
	int error;

	if ((error = git_treebuilder_new(&bld, repo, base)) < 0) {
		error = orch_error_git(error, "cannot build the state tree");
		goto done;
	}
	for (size_t i = 0; i < n;) {
		const char *rest = puts[i]->path + skip,
		           *slash = strchr(rest, '/');
		const git_tree_entry *old;
		size_t len, j;
		git_oid sub_oid;

		if (!slash) {
			old = git_treebuilder_get(bld, rest);
			if (old &&
			    git_tree_entry_type(old) == GIT_OBJECT_TREE) {
				error = orch_error_set(
				    "cannot write '%s': it is a directory",
				    puts[i]->path);
				goto done;
			}
			if ((error = git_treebuilder_insert(
			         NULL, bld, rest, &puts[i]->oid,
			         GIT_FILEMODE_BLOB)) < 0) {
				error = orch_error_git(
				    error, "cannot write '%s'", puts[i]->path);
				goto done;
			}
			i++;
			continue;
		}
		len = (size_t)(slash - rest);
		for (j = i + 1;
		     j < n && !strncmp(puts[j]->path + skip, rest, len + 1);
		     j++)
			;
		component = orch_strndup(rest, len);
		old = git_treebuilder_get(bld, component);
		if (old && git_tree_entry_type(old) != GIT_OBJECT_TREE) {
			error = orch_error_set(
			    "cannot write '%s': '%.*s' is a file",
			    puts[i]->path, (int)(skip + len), puts[i]->path);
			goto done;
		}
		if (old && (error = git_tree_lookup(
		                &sub, repo, git_tree_entry_id(old))) < 0) {
			error =
			    orch_error_git(error, "cannot read '%.*s'",
			                   (int)(skip + len), puts[i]->path);
			goto done;
		}
		if ((error = write_tree(&sub_oid, repo, sub, puts + i, j - i,
		                        skip + len + 1)) < 0)
			goto done;
		if ((error =
		         git_treebuilder_insert(NULL, bld, component, &sub_oid,
		                                GIT_FILEMODE_TREE)) < 0) {
			error = orch_error_git(error, "cannot write '%s'",
			                       component);
			goto done;
		}
		git_tree_free(sub);
		sub = NULL;
		free(component);
		component = NULL;
		i = j;
	}
	if ((error = git_treebuilder_write(out, bld)) < 0)
		error = orch_error_git(error, "cannot write the state tree");
done:
	free(component);
	git_tree_free(sub);
	git_treebuilder_free(bld);
	return error;
}

/*
 * One round of orch_store_update. *raced is set when the ref moved under
 * us (the caller backs off and retries); the callback's own codes pass
 * through untouched.
 */
/*
 * On a shared remote: push the transition `commit` (built on `head`) with
 * the refs the transaction adds, atomically, each only if the remote still
 * has what it was built on; then move the local mirror of the plan ref. A
 * rejection sets *raced and fetches the remote's state for the next try.
 */
static int push_transition(int *raced, orch_store *store, orch_txn *txn,
                           const char *refname, const git_oid *head,
                           const git_oid *commit)
{
	orch_remote_update *updates =
	    orch_calloc(txn->nrefs + 1, sizeof(*updates));
	git_reference *ref = NULL;
	int error;

	updates[0].refname = refname;
	updates[0].expect = head;
	updates[0].new_oid = commit;
	for (size_t i = 0; i < txn->nrefs; i++) {
		struct txn_ref *r = &txn->refs[i];
		updates[i + 1].refname = r->refname;
		updates[i + 1].new_oid =
		    r->mode == TXN_REF_DELETE ? NULL : &r->oid;
		if (r->mode == TXN_REF_SET)
			updates[i + 1].force = 1; /* fenced by the lease */
		else
			updates[i + 1].expect = &r->oid;
	}
	error = orch_remote_push(store->repo, store->remote, updates,
	                         txn->nrefs + 1);
	if (error == ORCH_EMODIFIED) {
		*raced = 1;
		orch_store_refresh(store, txn->plan_name, 1);
		goto done;
	}
	if (error < 0)
		goto done;
	if ((error = git_reference_create(&ref, store->repo, refname, commit, 1,
	                                  "orchestrate: pushed")) < 0) {
		error = orch_error_git(error, "cannot update '%s'", refname);
		goto done;
	}
	/* the mirror of what was deleted there */
	for (size_t i = 0; i < txn->nrefs; i++) {
		git_reference *gone = NULL;
		if (txn->refs[i].mode == TXN_REF_DELETE &&
		    git_reference_lookup(&gone, store->repo,
		                         txn->refs[i].refname) == 0)
			git_reference_delete(gone);
		git_reference_free(gone);
	}
done:
	git_reference_free(ref);
	free(updates);
	return error;
}

/* The changes of one orch_store_update_each. */
struct batch {
	orch_store_update_cb cb;
	void *const *payloads;
	int *results;
	unsigned char *left_out; /* failed or changed nothing at this head */
	size_t n;
};

/* The commit message of `msgs`: one change's own, or "N changes" and each
 * change's lines after it. */
static void batch_message(orch_buf *out, const orch_strvec *msgs)
{
	if (msgs->count == 1) {
		orch_buf_puts(out, msgs->items[0]);
		orch_buf_puts(out, "\n");
		return;
	}
	orch_buf_printf(out, "%zu changes\n\n", msgs->count);
	for (size_t i = 0; i < msgs->count; i++) {
		for (const char *p = msgs->items[i]; *p;) {
			size_t len = strcspn(p, "\n");
			if (len) {
				orch_buf_put(out, p, len);
				orch_buf_puts(out, "\n");
			}
			p += len + (p[len] == '\n');
		}
	}
}

/*
 * Run the batch's callbacks on `txn`; their messages go to `msgs`. Returns
 * 1 when one that was not left out yet failed (it is now: run them all
 * again), 0 or a negative code (only one change: its callback's).
 */
static int run_batch(orch_strvec *msgs, orch_txn *txn, struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		int result;
		if (b->left_out[i])
			continue;
		result = b->cb(txn, b->payloads[i]);
		b->results[i] = result;
		if (result < 0 && b->n == 1)
			return result;
		if (result < 0) {
			b->left_out[i] = 1;
			return 1;
		}
		orch_strvec_push(msgs, txn->message.len ? txn->message.ptr
		                                        : "update");
		orch_buf_clear(&txn->message);
	}
	return 0;
}

static int update_once(int *raced, git_oid *out_commit, orch_store *store,
                       const char *plan, struct batch *b)
{
	orch_txn txn;
	char refname[ORCH_STORE_REFNAME_MAX];
	git_commit *head_commit = NULL;
	git_signature *sig = NULL;
	git_reference *ref = NULL;
	git_tree *new_tree = NULL;
	struct txn_put **sorted = NULL;
	orch_buf message = {0};
	orch_strvec msgs = {0};
	git_oid head, tree_oid, commit;
	int error, result;

	*raced = 0;
	memset(&txn, 0, sizeof(txn));
	snprintf(refname, sizeof(refname), "%s%s", plans_prefix(store), plan);
again:
	txn.store = store;
	txn.plan_name = plan;
	if ((error = plan_head(&head, &txn.root, store, plan)) < 0 ||
	    (error = cached_plan_get(&txn.cached, store, plan, txn.root)) < 0)
		goto done;
	result = run_batch(&msgs, &txn, b);
	if (result < 0) {
		error = result;
		goto done;
	}
	if (result > 0) {
		/* a change left out: the others again, without what it put */
		txn_clear(&txn);
		orch_strvec_free(&msgs);
		goto again;
	}
	result = b->n == 1 ? b->results[0] : 0;
	if (!txn.nputs) {
		error = ORCH_ENOCHANGE;
		goto done;
	}
	sorted = orch_calloc(txn.nputs, sizeof(*sorted));
	for (size_t i = 0; i < txn.nputs; i++)
		sorted[i] = &txn.puts[i];
	qsort(sorted, txn.nputs, sizeof(*sorted), put_cmp);
	if ((error = write_tree(&tree_oid, store->repo, txn.root, sorted,
	                        txn.nputs, 0)) < 0)
		goto done;
	if (git_oid_equal(&tree_oid, git_tree_id(txn.root))) {
		error = ORCH_ENOCHANGE; /* what was put is what there was */
		goto done;
	}
	batch_message(&message, &msgs);
	if ((error = orch_signature_default(&sig, store->repo)) < 0)
		goto done;
	if ((error = git_commit_lookup(&head_commit, store->repo, &head)) < 0 ||
	    (error = git_tree_lookup(&new_tree, store->repo, &tree_oid)) < 0 ||
	    (error = git_commit_create(
	         &commit, store->repo, NULL, sig, sig, NULL, message.ptr,
	         new_tree, 1, (const git_commit **)&head_commit)) < 0) {
		error = orch_error_git(error, "cannot commit to '%s'", refname);
		goto done;
	}
	if (store->remote) {
		if ((error = push_transition(raced, store, &txn, refname, &head,
		                             &commit)) < 0)
			goto done;
		git_oid_cpy(&head, &commit);
		error = result;
		goto done;
	}
	orch_store_keep_ref(store, refname);
	error = git_reference_create_matching(&ref, store->repo, refname,
	                                      &commit, 1, &head, message.ptr);
	if (error == GIT_EMODIFIED || error == GIT_ELOCKED) {
		*raced = error == GIT_ELOCKED ? 2 : 1;
		error = orch_error_git(
		    error, "'%s' changed while being updated", refname);
		goto done;
	}
	if (error == GIT_ENOTFOUND) {
		orch_error_set("plan '%s' was deleted while being updated",
		               plan);
		error = ORCH_ENOTFOUND;
		goto done;
	}
	if (error < 0) {
		error = orch_error_git(error, "cannot update '%s'", refname);
		goto done;
	}
	git_oid_cpy(&head, &commit);
	error = result;
done:
	if (out_commit && (error >= 0 || error == ORCH_ENOCHANGE))
		git_oid_cpy(out_commit, &head);
	orch_buf_free(&message);
	orch_strvec_free(&msgs);
	free(sorted);
	git_reference_free(ref);
	git_tree_free(new_tree);
	git_commit_free(head_commit);
	git_signature_free(sig);
	txn_clear(&txn);
	return error;
}

/*
 * Fairness on a hub: a runner whose last push won has a current mirror and
 * could push again before any loser has fetched the new state, winning
 * every race in a burst. It waits about one fetch's time first.
 */
static void yield_to_losers(orch_store *store)
{
	int64_t since = orch_monotonic_ms() - store->last_win_ms;
	int64_t wait =
	    store->fetch_ms / 2 +
	    (int64_t)(next_random(store) % (uint64_t)(store->fetch_ms + 1));

	if (store->last_win_ms && since < wait) {
		struct timespec ts = {(wait - since) / 1000,
		                      ((wait - since) % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static int update_batch(orch_store *store, const char *plan, struct batch *b,
                        git_oid *out_commit)
{
	char refname[ORCH_STORE_REFNAME_MAX];
	int error, raced;

	if ((error = plan_refname(refname, sizeof(refname), store, plan)) < 0)
		return error;
	int64_t deadline = orch_monotonic_ms() + ORCH_REMOTE_UPDATE_MS;

	for (int tries = 0; tries < ORCH_STORE_CAS_TRIES ||
	                    (store->remote && orch_monotonic_ms() < deadline);
	     tries++) {
		if (store->remote)
			yield_to_losers(store);
		/* a new head: every change may apply again */
		memset(b->left_out, 0, b->n);
		error = update_once(&raced, out_commit, store, plan, b);
		if (store->remote && !raced && error >= 0)
			store->last_win_ms = orch_monotonic_ms();
		if (!raced && error >= 0)
			orch_store_pack_some(store);
		if (!raced)
			return error;
		if (raced == 2)
			orch_store_clear_stale_lock(store, refname);
		orch_store_backoff(store, tries);
	}
	orch_error_set("cannot update plan '%s': the ref stayed locked or "
	               "kept changing over %d tries",
	               plan, ORCH_STORE_CAS_TRIES);
	if (store->remote)
		orch_error_set("cannot update plan '%s' on '%s': it kept "
		               "changing for %d s",
		               plan, store->remote,
		               ORCH_REMOTE_UPDATE_MS / 1000);
	orch_error_hint("another git-orchestrate process is busy with this "
	                "plan; try again");
	return ORCH_EMODIFIED;
}

int orch_store_update(orch_store *store, const char *plan,
                      orch_store_update_cb cb, void *payload,
                      git_oid *out_commit)
{
	int result = 0;
	unsigned char left_out = 0;
	struct batch b = {cb, &payload, &result, &left_out, 1};

	return update_batch(store, plan, &b, out_commit);
}

int orch_store_update_each(orch_store *store, const char *plan,
                           orch_store_update_cb cb, void *const *payloads,
                           int *results, size_t n, git_oid *out_commit)
{
	struct batch b = {cb, payloads, results, NULL, n};
	int error;

	if (n == 0)
		return ORCH_ENOCHANGE;
	b.left_out = orch_calloc(n, 1);
	for (size_t i = 0; i < n; i++)
		results[i] = ORCH_ENOCHANGE;
	error = update_batch(store, plan, &b, out_commit);
	free(b.left_out);
	if (n == 1 && error < 0 && error != ORCH_ENOCHANGE)
		results[0] = error;
	return error < 0 ? error : 0;
}

int orch_store_delete_plan(orch_store *store, const char *plan)
{
	char refname[ORCH_STORE_REFNAME_MAX];
	git_reference *ref = NULL;
	orch_strvec locks = {0};
	int error;

	if ((error = plan_refname(refname, sizeof(refname), store, plan)) < 0)
		return error;
	if ((error = git_reference_lookup(&ref, store->repo, refname)) < 0) {
		error =
		    error == GIT_ENOTFOUND
		        ? plan_not_found(store, plan)
		        : orch_error_git(error, "cannot read '%s'", refname);
		goto done;
	}
	/* git_reference_delete compares with the value looked up, under the
	 * lock */
	if ((error = git_reference_delete(ref)) < 0) {
		error = orch_error_git(error, "cannot delete '%s'", refname);
		goto done;
	}
	if (!store->plans_prefix)
		orch_states_cache_remove(store->repo, plan);
	if ((error = orch_lease_list(&locks, store, plan)) < 0)
		goto done;
	for (size_t i = 0; i < locks.count; i++) {
		char lockname[ORCH_STORE_REFNAME_MAX];
		git_reference *lock = NULL;
		snprintf(lockname, sizeof(lockname),
		         ORCH_STORE_LOCKS_PREFIX "%s/%s", plan, locks.items[i]);
		for (int tries = 0; tries < ORCH_STORE_CAS_TRIES; tries++) {
			error =
			    git_reference_lookup(&lock, store->repo, lockname);
			if (error == 0)
				error = git_reference_delete(lock);
			git_reference_free(lock);
			lock = NULL;
			if (!orch_store_is_race(error))
				break;
			if (error == GIT_ELOCKED)
				orch_store_clear_stale_lock(store, lockname);
			orch_store_backoff(store, tries);
		}
		if (error < 0 && error != GIT_ENOTFOUND) {
			error = orch_error_git(error, "cannot delete '%s'",
			                       lockname);
			goto done;
		}
		error = 0;
	}
done:
	orch_strvec_free(&locks);
	git_reference_free(ref);
	return error;
}

/* The branch HEAD points to, for a plan without `base`. */
static int current_branch(char **out, git_repository *repo)
{
	git_reference *head = NULL;
	int error = git_repository_head(&head, repo);

	if (error == GIT_EUNBORNBRANCH || error == GIT_ENOTFOUND) {
		orch_error_set("the repository has no commit yet");
		orch_error_hint(
		    "commit something first: tasks start from the base branch");
		return ORCH_EINVALID;
	}
	if (error < 0)
		return orch_error_git(error, "cannot read HEAD");
	if (!git_reference_is_branch(head)) {
		git_reference_free(head);
		orch_error_set(
		    "HEAD is detached and the plan names no base branch");
		orch_error_hint(
		    "set 'base = BRANCH' in [plan] or check out a branch");
		return ORCH_EINVALID;
	}
	*out = orch_strdup(git_reference_shorthand(head));
	git_reference_free(head);
	return 0;
}

/* Record base_commit: the tip of the base branch now. */
int orch_store_resolve_base(orch_plan *plan, orch_store *store)
{
	git_repository *repo = store->repo;
	char refname[512], hex[GIT_OID_HEXSZ + 1];
	git_oid oid;
	int error;

	if (!plan->base && (error = current_branch(&plan->base, repo)) < 0)
		return error;
	snprintf(refname, sizeof(refname), "refs/heads/%s", plan->base);
	if ((error = git_reference_name_to_id(&oid, repo, refname)) < 0) {
		orch_error_set("%s: base branch '%s' does not exist",
		               plan->source ? plan->source : "plan",
		               plan->base);
		orch_error_hint("create it, or set 'base = BRANCH' in [plan]");
		return ORCH_EINVALID;
	}
	git_oid_tostr(hex, sizeof(hex), &oid);
	free(plan->base_commit);
	plan->base_commit = orch_strdup(hex);
	return 0;
}

/*
 * A plan that names no agent (always the case with --prompts) takes git's
 * `orchestrate.agent` setting, so prompt-only tasks have a command.
 */
int orch_store_default_agent(orch_plan *plan, orch_store *store)
{
	git_repository *repo = store->repo;
	git_config *config = NULL;
	git_buf value = {0};
	int error, prompt_only = 0;

	for (size_t i = 0; i < plan->ntasks; i++)
		if (!plan->tasks[i].run)
			prompt_only = 1;
	/* a plan whose tasks all have a command needs none: keep it out */
	if (plan->agent || !prompt_only)
		return 0;
	if ((error = git_repository_config_snapshot(&config, repo)) < 0)
		return orch_error_git(error,
		                      "cannot read the git configuration");
	if (git_config_get_string_buf(&value, config, "orchestrate.agent") ==
	        0 &&
	    value.size)
		plan->agent = orch_strdup(value.ptr);
	git_buf_dispose(&value);
	git_config_free(config);
	return 0;
}
