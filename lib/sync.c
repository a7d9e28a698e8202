#include "sync.h"
#include "error.h"
#include "remote.h"
#include "shared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLANS_PREFIX "refs/orchestrate/plans/"
#define HEADS_PREFIX "refs/heads/orchestrate/"
#define NS_ROOT "refs/orchestrate-sync/"
#define REFNAME_MAX 512
/* A push rejected because the remote moved is tried again this often. */
#define PUSH_TRIES 5
/* The identity of merge commits: the same on every clone. */
#define SYNC_NAME "git-orchestrate"
#define SYNC_EMAIL "orchestrate@localhost"
/* Notes trees: flat up to this many notes, then xx/ subtrees. */
#define NOTES_FLAT_MAX 256

/* ---- the per-task rule -------------------------------------------------- */

int orch_sync_state_rank(orch_state state)
{
	switch (state) {
	case ORCH_STATE_PENDING:
		return 0;
	case ORCH_STATE_READY:
		return 1;
	case ORCH_STATE_RUNNING:
		return 2;
	case ORCH_STATE_FAILED:
	case ORCH_STATE_TIMEOUT:
	case ORCH_STATE_CANCELLED:
	case ORCH_STATE_SKIPPED:
		return 3;
	case ORCH_STATE_DONE:
		return 4;
	case ORCH_STATE_CONFLICT:
	case ORCH_STATE_REJECTED:
		return 5;
	case ORCH_STATE_MERGED:
		return 6;
	default:
		return 0;
	}
}

int orch_sync_pick(const orch_task_state *first, const orch_task_state *second)
{
	if (second->attempts != first->attempts)
		return second->attempts > first->attempts;
	/* a task set to run again on conflict starts a later round */
	if (second->reruns != first->reruns)
		return second->reruns > first->reruns;
	return orch_sync_state_rank(second->state) >
	       orch_sync_state_rank(first->state);
}

/* ---- report ------------------------------------------------------------- */

void orch_sync_report_clear(orch_sync_report *report)
{
	for (size_t i = 0; i < report->nplans; i++) {
		free(report->plans[i].plan);
		free(report->plans[i].why);
	}
	free(report->plans);
	memset(report, 0, sizeof(*report));
}

static orch_sync_plan_result *report_add(orch_sync_report *report,
                                         const char *plan)
{
	orch_sync_plan_result *r;

	report->plans = orch_realloc(report->plans, (report->nplans + 1) *
	                                                sizeof(*report->plans));
	r = &report->plans[report->nplans++];
	memset(r, 0, sizeof(*r));
	r->plan = orch_strdup(plan);
	return r;
}

/* ---- the remote and the private namespace ------------------------------- */

int orch_sync_default_remote(char **out, git_repository *repo)
{
	git_reference *head = NULL;
	git_config *config = NULL;
	git_buf name = {0};

	*out = NULL;
	/*
	 * branch.<name>.remote read directly: libgit2's upstream lookup
	 * parses every remote's refspecs (and leaks pcre2 match data).
	 */
	if (git_repository_head(&head, repo) == 0 &&
	    git_reference_is_branch(head) &&
	    git_repository_config_snapshot(&config, repo) == 0) {
		orch_buf key = {0};
		orch_buf_printf(&key, "branch.%s.remote",
		                git_reference_shorthand(head));
		if (git_config_get_string_buf(&name, config, key.ptr) == 0 &&
		    name.size && strcmp(name.ptr, "."))
			*out = orch_strdup(name.ptr);
		orch_buf_free(&key);
	}
	git_error_clear();
	git_buf_dispose(&name);
	git_config_free(config);
	git_reference_free(head);
	if (!*out)
		*out = orch_strdup("origin");
	return 0;
}

/* What one sync works with. */
struct sync_ctx {
	git_repository *repo;
	const char *remote;
	char ns[128]; /* refs/orchestrate-sync/<key>/ */
};

/*
 * The namespace of this process and remote: the remote's name or URL may
 * hold anything, so it is hashed; the pid keeps two syncs of one clone
 * apart.
 */
static void ns_init(struct sync_ctx *ctx)
{
	uint32_t hash = 2166136261u;

	for (const char *p = ctx->remote; *p; p++) {
		hash ^= (unsigned char)*p;
		hash *= 16777619u;
	}
	snprintf(ctx->ns, sizeof(ctx->ns), NS_ROOT "%08x-%ld/", hash,
	         (long)getpid());
}

static int ns_clear(struct sync_ctx *ctx)
{
	git_reference_iterator *iter = NULL;
	orch_strvec names = {0};
	const char *name;
	char glob[REFNAME_MAX];
	int error;

	snprintf(glob, sizeof(glob), "%s*", ctx->ns);
	if ((error = git_reference_iterator_glob_new(&iter, ctx->repo, glob)) <
	    0) {
		error = orch_error_git(error, "cannot list '%s'", glob);
		goto done;
	}
	while ((error = git_reference_next_name(&name, iter)) == 0)
		orch_strvec_push(&names, name);
	if (error != GIT_ITEROVER) {
		error = orch_error_git(error, "cannot list '%s'", glob);
		goto done;
	}
	error = 0;
	for (size_t i = 0; i < names.count; i++)
		git_reference_remove(ctx->repo, names.items[i]);
	git_error_clear();
done:
	git_reference_iterator_free(iter);
	orch_strvec_free(&names);
	return error;
}

/* Fetch the remote's state into the namespace; `all`: branches and notes
 * too, else the plan refs only. */
static int ns_fetch(struct sync_ctx *ctx, int all)
{
	orch_strvec specs = {0};
	orch_buf spec = {0};
	int error;

	orch_buf_printf(&spec, "+" PLANS_PREFIX "*:%splans/*", ctx->ns);
	orch_strvec_push_take(&specs, orch_buf_detach(&spec));
	if (all) {
		orch_buf_printf(&spec, "+" HEADS_PREFIX "*:%sheads/*", ctx->ns);
		orch_strvec_push_take(&specs, orch_buf_detach(&spec));
		/* a glob: a remote without notes is not an error */
		orch_buf_printf(&spec, "+refs/notes/*:%snotes/*", ctx->ns);
		orch_strvec_push_take(&specs, orch_buf_detach(&spec));
	}
	error = orch_remote_fetch(ctx->repo, ctx->remote, &specs);
	orch_strvec_free(&specs);
	return error;
}

/* *found = 0 when `refname` does not exist. */
static int read_ref(git_oid *out, int *found, git_repository *repo,
                    const char *refname)
{
	int error = git_reference_name_to_id(out, repo, refname);

	*found = error == 0;
	if (error == GIT_ENOTFOUND) {
		git_error_clear();
		return 0;
	}
	if (error < 0)
		return orch_error_git(error, "cannot read '%s'", refname);
	return 0;
}

/*
 * Set local ref `refname` to `new_oid` if it still is `old` (NULL: absent).
 * ORCH_EMODIFIED when it moved meanwhile.
 */
static int cas_local(git_repository *repo, const char *refname,
                     const git_oid *new_oid, const git_oid *old)
{
	git_reference *ref = NULL;
	int error;

	if (old)
		error = git_reference_create_matching(
		    &ref, repo, refname, new_oid, 1, old, "orchestrate: sync");
	else
		error = git_reference_create(&ref, repo, refname, new_oid, 0,
		                             "orchestrate: sync");
	git_reference_free(ref);
	if (error == GIT_EMODIFIED || error == GIT_EEXISTS ||
	    error == GIT_ELOCKED) {
		orch_error_set("'%s' changed while syncing", refname);
		return ORCH_EMODIFIED;
	}
	if (error < 0)
		return orch_error_git(error, "cannot update '%s'", refname);
	return 0;
}

/* Mirror a successful push in the namespace (so a retry starts from it). */
static void ns_set(struct sync_ctx *ctx, const char *ns_ref, const git_oid *oid)
{
	git_reference *ref = NULL;

	if (git_reference_create(&ref, ctx->repo, ns_ref, oid, 1,
	                         "orchestrate: sync") < 0)
		git_error_clear();
	git_reference_free(ref);
}

/* The later committer time of two commits: the merge's own time. */
static int merge_signature(git_signature **out, git_repository *repo,
                           const git_oid *first, const git_oid *second)
{
	git_commit *a = NULL, *b = NULL;
	git_time_t when;
	int error;

	if ((error = git_commit_lookup(&a, repo, first)) < 0 ||
	    (error = git_commit_lookup(&b, repo, second)) < 0) {
		error = orch_error_git(error, "cannot read a commit to merge");
		goto done;
	}
	when = git_commit_time(a) > git_commit_time(b) ? git_commit_time(a)
	                                               : git_commit_time(b);
	if ((error = git_signature_new(out, SYNC_NAME, SYNC_EMAIL, when, 0)) <
	    0)
		error = orch_error_git(error, "cannot make a signature");
done:
	git_commit_free(a);
	git_commit_free(b);
	return error;
}

static int write_merge_commit(git_oid *out, git_repository *repo,
                              const git_oid *tree_oid, const git_oid *first,
                              const git_oid *second, const char *message)
{
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	git_commit *parents[2] = {NULL, NULL};
	int error;

	if ((error = merge_signature(&sig, repo, first, second)) < 0)
		goto done;
	if ((error = git_tree_lookup(&tree, repo, tree_oid)) < 0 ||
	    (error = git_commit_lookup(&parents[0], repo, first)) < 0 ||
	    (error = git_commit_lookup(&parents[1], repo, second)) < 0 ||
	    (error = git_commit_create(out, repo, NULL, sig, sig, NULL, message,
	                               tree, 2, (const git_commit **)parents)) <
	        0)
		error = orch_error_git(error, "cannot write the merge commit");
done:
	git_commit_free(parents[0]);
	git_commit_free(parents[1]);
	git_tree_free(tree);
	git_signature_free(sig);
	return error;
}

/* ---- merging two plan states -------------------------------------------- */

struct plan_merge {
	git_repository *repo;
	git_tree *roots[2]; /* first (remote) and second (local) parent */
	size_t tasks_differ;
	orch_buf
	    taken; /* "id: state (attempt n)" lines taken from the second */
};

static int read_state_blob(orch_task_state *out, git_repository *repo,
                           const git_oid *oid, const char *path)
{
	git_blob *blob = NULL;
	int error;

	if ((error = git_blob_lookup(&blob, repo, oid)) < 0)
		return orch_error_git(error, "cannot read '%s'", path);
	error = orch_task_state_from_json(out, git_blob_rawcontent(blob),
	                                  (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	if (error < 0)
		return orch_error_set("%s: %s", path, orch_error_message());
	return 0;
}

/*
 * *out_second = 1 when the second parent's record of the task in state
 * file `task_path` wins. Records equal or missing on a side: the first.
 */
static int task_pick(int *out_second, struct plan_merge *m,
                     const char *task_path, int count)
{
	git_tree_entry *entries[2] = {NULL, NULL};
	orch_task_state states[2];
	int error = 0;

	*out_second = 0;
	orch_task_state_init(&states[0]);
	orch_task_state_init(&states[1]);
	for (int i = 0; i < 2; i++)
		if (git_tree_entry_bypath(&entries[i], m->roots[i], task_path) <
		    0) {
			git_error_clear();
			goto done;
		}
	if (git_oid_equal(git_tree_entry_id(entries[0]),
	                  git_tree_entry_id(entries[1])))
		goto done;
	if ((error = read_state_blob(&states[0], m->repo,
	                             git_tree_entry_id(entries[0]),
	                             task_path)) < 0 ||
	    (error =
	         read_state_blob(&states[1], m->repo,
	                         git_tree_entry_id(entries[1]), task_path)) < 0)
		goto done;
	*out_second = orch_sync_pick(&states[0], &states[1]);
	if (count) {
		const char *base = strrchr(task_path, '/');
		size_t len = strlen(base + 1) - 5; /* without ".json" */
		m->tasks_differ++;
		if (*out_second)
			orch_buf_printf(&m->taken, "%.*s: %s (attempt %d)\n",
			                (int)len, base + 1,
			                orch_state_name(states[1].state),
			                states[1].attempts);
	}
done:
	orch_task_state_clear(&states[0]);
	orch_task_state_clear(&states[1]);
	git_tree_entry_free(entries[0]);
	git_tree_entry_free(entries[1]);
	return error;
}

static int has_prefix_suffix(const char *str, const char *prefix,
                             const char *suffix)
{
	size_t len = strlen(str), plen = strlen(prefix), slen = strlen(suffix);

	return len > plen + slen && !strncmp(str, prefix, plen) &&
	       !strcmp(str + len - slen, suffix);
}

/* Which side's blob at `path` (differing on both sides) goes in. */
static int blob_pick(int *out_second, struct plan_merge *m, const char *path)
{
	*out_second = 0;
	if (has_prefix_suffix(path, "tasks/", ".json"))
		return task_pick(out_second, m, path, 1);
	if (has_prefix_suffix(path, "logs/", ".log")) {
		/* a log goes with its task's record: logs/X.log, tasks/X.json
		 */
		orch_buf task = {0};
		int error;
		orch_buf_printf(&task, "tasks/%.*s.json",
		                (int)(strlen(path) - 9), path + 5);
		error = task_pick(out_second, m, task.ptr, 0);
		orch_buf_free(&task);
		return error;
	}
	return 0;
}

/*
 * Findings (shared/...) are only ever added: two versions of one file merge
 * into the union of their lines, the first's first (orch_shared_union).
 */
static int union_blob(git_oid *out, struct plan_merge *m,
                      const git_tree_entry *ea, const git_tree_entry *eb,
                      const char *path)
{
	git_blob *blobs[2] = {NULL, NULL};
	orch_buf merged = {0};
	int error;

	if ((error = git_blob_lookup(&blobs[0], m->repo,
	                             git_tree_entry_id(ea))) < 0 ||
	    (error = git_blob_lookup(&blobs[1], m->repo,
	                             git_tree_entry_id(eb))) < 0) {
		error = orch_error_git(error, "cannot read '%s'", path);
		goto done;
	}
	orch_shared_union(&merged, git_blob_rawcontent(blobs[0]),
	                  (size_t)git_blob_rawsize(blobs[0]),
	                  git_blob_rawcontent(blobs[1]),
	                  (size_t)git_blob_rawsize(blobs[1]));
	if ((error = git_blob_create_from_buffer(out, m->repo, merged.ptr,
	                                         merged.len)) < 0)
		error = orch_error_git(error, "cannot merge '%s'", path);
done:
	git_blob_free(blobs[0]);
	git_blob_free(blobs[1]);
	orch_buf_free(&merged);
	return error;
}

/* The union of trees `a` (first) and `b` (second) at `dir` into *out. */
static int merge_trees(git_oid *out, struct plan_merge *m, const git_tree *a,
                       const git_tree *b, const char *dir)
{
	git_treebuilder *builder = NULL;
	git_tree *sub_a = NULL, *sub_b = NULL;
	orch_buf path = {0};
	int error;

	if ((error = git_treebuilder_new(&builder, m->repo, a)) < 0) {
		error = orch_error_git(error, "cannot merge '%s'", dir);
		goto done;
	}
	for (size_t i = 0; i < git_tree_entrycount(b); i++) {
		const git_tree_entry *eb = git_tree_entry_byindex(b, i);
		const char *name = git_tree_entry_name(eb);
		const git_tree_entry *ea = git_tree_entry_byname(a, name);
		git_oid merged;
		int second = 0;

		orch_buf_clear(&path);
		orch_buf_printf(&path, "%s%s", dir, name);
		if (ea &&
		    git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)))
			continue;
		if (!ea) {
			second = 1;
		} else if (git_tree_entry_type(ea) != git_tree_entry_type(eb)) {
			second = 0; /* the first parent's */
		} else if (git_tree_entry_type(ea) == GIT_OBJECT_TREE) {
			git_tree_free(sub_a);
			git_tree_free(sub_b);
			sub_a = sub_b = NULL;
			orch_buf_puts(&path, "/");
			if ((error = git_tree_lookup(
			         &sub_a, m->repo, git_tree_entry_id(ea))) < 0 ||
			    (error = git_tree_lookup(
			         &sub_b, m->repo, git_tree_entry_id(eb))) < 0) {
				error = orch_error_git(
				    error, "cannot read '%s'", path.ptr);
				goto done;
			}
			if ((error = merge_trees(&merged, m, sub_a, sub_b,
			                         path.ptr)) < 0)
				goto done;
			if ((error = git_treebuilder_insert(
			         NULL, builder, name, &merged,
			         GIT_FILEMODE_TREE)) < 0) {
				error = orch_error_git(
				    error, "cannot merge '%s'", path.ptr);
				goto done;
			}
			continue;
		} else if (has_prefix_suffix(path.ptr, "shared/", ".json")) {
			if ((error = union_blob(&merged, m, ea, eb, path.ptr)) <
			    0)
				goto done;
			if ((error = git_treebuilder_insert(
			         NULL, builder, name, &merged,
			         git_tree_entry_filemode(eb))) < 0) {
				error = orch_error_git(
				    error, "cannot merge '%s'", path.ptr);
				goto done;
			}
			continue;
		} else if ((error = blob_pick(&second, m, path.ptr)) < 0) {
			goto done;
		}
		if (second && (error = git_treebuilder_insert(
		                   NULL, builder, name, git_tree_entry_id(eb),
		                   git_tree_entry_filemode(eb))) < 0) {
			error = orch_error_git(error, "cannot merge '%s'",
			                       path.ptr);
			goto done;
		}
	}
	if ((error = git_treebuilder_write(out, builder)) < 0)
		error = orch_error_git(error, "cannot merge '%s'", dir);
done:
	git_tree_free(sub_a);
	git_tree_free(sub_b);
	git_treebuilder_free(builder);
	orch_buf_free(&path);
	return error;
}

static int commit_tree(git_tree **out, git_repository *repo, const git_oid *oid)
{
	git_commit *commit = NULL;
	int error;

	if ((error = git_commit_lookup(&commit, repo, oid)) < 0 ||
	    (error = git_commit_tree(out, commit)) < 0)
		error = orch_error_git(error, "cannot read commit %s",
		                       git_oid_tostr_s(oid));
	git_commit_free(commit);
	return error;
}

/*
 * The merge of plan heads `first` (the remote's) and `second` (local) into
 * *out; *out_tasks gets how many task records differed. ORCH_ECONFLICT
 * when plan.json differs.
 */
static int merge_plan(git_oid *out, size_t *out_tasks, git_repository *repo,
                      const char *plan, const git_oid *first,
                      const git_oid *second)
{
	struct plan_merge m = {repo, {NULL, NULL}, 0, {0}};
	const git_tree_entry *pa, *pb;
	orch_buf message = {0};
	git_oid tree;
	int error;

	if ((error = commit_tree(&m.roots[0], repo, first)) < 0 ||
	    (error = commit_tree(&m.roots[1], repo, second)) < 0)
		goto done;
	pa = git_tree_entry_byname(m.roots[0], "plan.json");
	pb = git_tree_entry_byname(m.roots[1], "plan.json");
	if (!pa || !pb ||
	    !git_oid_equal(git_tree_entry_id(pa), git_tree_entry_id(pb))) {
		orch_error_set("plan '%s' differs here and on the remote "
		               "(plan.json): it was stored again on one side",
		               plan);
		orch_error_hint("keep one: 'git orchestrate forget %s' on one "
		                "side, or store it under another name",
		                plan);
		error = ORCH_ECONFLICT;
		goto done;
	}
	if ((error = merge_trees(&tree, &m, m.roots[0], m.roots[1], "")) < 0)
		goto done;
	orch_buf_printf(&message,
	                "sync: merge diverged states of %s (%zu task%s)\n",
	                plan, m.tasks_differ, m.tasks_differ == 1 ? "" : "s");
	if (m.taken.len)
		orch_buf_printf(&message, "\n%s", m.taken.ptr);
	if ((error = write_merge_commit(out, repo, &tree, first, second,
	                                message.ptr)) < 0)
		goto done;
	*out_tasks = m.tasks_differ;
done:
	orch_buf_free(&message);
	orch_buf_free(&m.taken);
	git_tree_free(m.roots[0]);
	git_tree_free(m.roots[1]);
	return error;
}

/* ---- merging two notes refs --------------------------------------------- */

struct note_entry {
	git_oid annotated;
	git_oid blob;
};

static int note_entry_cmp(const void *a, const void *b)
{
	return git_oid_cmp(&((const struct note_entry *)a)->annotated,
	                   &((const struct note_entry *)b)->annotated);
}

static int collect_notes(struct note_entry **entries, size_t *count,
                         size_t *alloc, git_repository *repo,
                         const git_oid *notes_commit)
{
	git_commit *commit = NULL;
	git_note_iterator *iter = NULL;
	struct note_entry e;
	int error;

	if ((error = git_commit_lookup(&commit, repo, notes_commit)) < 0 ||
	    (error = git_note_commit_iterator_new(&iter, commit)) < 0) {
		if (error == GIT_ENOTFOUND) {
			git_error_clear();
			error = 0;
		} else {
			error = orch_error_git(error, "cannot read notes");
		}
		goto done;
	}
	while ((error = git_note_next(&e.blob, &e.annotated, iter)) == 0) {
		if (*count == *alloc) {
			*alloc = *alloc ? 2 * *alloc : 64;
			*entries =
			    orch_realloc(*entries, *alloc * sizeof(**entries));
		}
		(*entries)[(*count)++] = e;
	}
	if (error != GIT_ITEROVER) {
		error = orch_error_git(error, "cannot read notes");
		goto done;
	}
	error = 0;
done:
	git_note_iterator_free(iter);
	git_commit_free(commit);
	return error;
}

/*
 * The union of two notes refs into *out: a note on a commit annotated on
 * both sides is the first's. Flat up to NOTES_FLAT_MAX notes, else in xx/
 * subtrees, as git notes lays them out.
 */
static int merge_notes(git_oid *out, git_repository *repo, const git_oid *first,
                       const git_oid *second)
{
	struct note_entry *entries = NULL;
	size_t count = 0, alloc = 0, kept = 0, nfirst;
	git_treebuilder *root = NULL, *sub = NULL;
	git_oid tree;
	int error, fanout;

	if ((error = collect_notes(&entries, &count, &alloc, repo, first)) < 0)
		goto done;
	nfirst = count;
	if ((error = collect_notes(&entries, &count, &alloc, repo, second)) < 0)
		goto done;
	{
		/* sort each side, then merge keeping the first on equal keys */
		struct note_entry *merged;
		size_t i = 0, j = nfirst;
		qsort(entries, nfirst, sizeof(*entries), note_entry_cmp);
		qsort(entries + nfirst, count - nfirst, sizeof(*entries),
		      note_entry_cmp);
		merged = orch_calloc(count + 1, sizeof(*merged));
		while (i < nfirst || j < count) {
			int c = i >= nfirst ? 1
			        : j >= count
			            ? -1
			            : note_entry_cmp(&entries[i], &entries[j]);
			if (c <= 0) {
				merged[kept++] = entries[i++];
				if (c == 0)
					j++;
			} else {
				merged[kept++] = entries[j++];
			}
		}
		free(entries);
		entries = merged;
	}
	fanout = kept > NOTES_FLAT_MAX;
	if ((error = git_treebuilder_new(&root, repo, NULL)) < 0)
		goto git_fail;
	for (size_t i = 0; i < kept; i++) {
		char hex[GIT_OID_HEXSZ + 1];
		git_oid_tostr(hex, sizeof(hex), &entries[i].annotated);
		if (!fanout) {
			if ((error = git_treebuilder_insert(
			         NULL, root, hex, &entries[i].blob,
			         GIT_FILEMODE_BLOB)) < 0)
				goto git_fail;
			continue;
		}
		if (!sub && (error = git_treebuilder_new(&sub, repo, NULL)) < 0)
			goto git_fail;
		if ((error = git_treebuilder_insert(NULL, sub, hex + 2,
		                                    &entries[i].blob,
		                                    GIT_FILEMODE_BLOB)) < 0)
			goto git_fail;
		/* the last of its xx/ group (sorted by oid): write it */
		if (i + 1 == kept || entries[i + 1].annotated.id[0] !=
		                         entries[i].annotated.id[0]) {
			char dir[3] = {hex[0], hex[1], '\0'};
			if ((error = git_treebuilder_write(&tree, sub)) < 0 ||
			    (error =
			         git_treebuilder_insert(NULL, root, dir, &tree,
			                                GIT_FILEMODE_TREE)) < 0)
				goto git_fail;
			git_treebuilder_free(sub);
			sub = NULL;
		}
	}
	if ((error = git_treebuilder_write(&tree, root)) < 0)
		goto git_fail;
	error = write_merge_commit(out, repo, &tree, first, second,
	                           "sync: merge diverged notes\n");
	goto done;
git_fail:
	error = orch_error_git(error, "cannot merge the notes");
done:
	git_treebuilder_free(sub);
	git_treebuilder_free(root);
	free(entries);
	return error;
}

/* ---- one ref: fast-forward either way, or merge ------------------------- */

typedef int (*merge_fn)(git_oid *out, size_t *out_count, git_repository *repo,
                        const char *name, const git_oid *first,
                        const git_oid *second);

static int merge_plan_fn(git_oid *out, size_t *out_count, git_repository *repo,
                         const char *name, const git_oid *first,
                         const git_oid *second)
{
	return merge_plan(out, out_count, repo, name, first, second);
}

static int merge_notes_fn(git_oid *out, size_t *out_count, git_repository *repo,
                          const char *name, const git_oid *first,
                          const git_oid *second)
{
	(void)name;
	*out_count = 0;
	return merge_notes(out, repo, first, second);
}

/*
 * Bring local ref `local_ref` and the remote's `remote_ref` (fetched as
 * `ns_ref`) to one value. ORCH_ECONFLICT from `merge` (the message says
 * why) is returned as is.
 */
static int sync_ref(orch_sync_action *out_action, size_t *out_count,
                    struct sync_ctx *ctx, const char *local_ref,
                    const char *remote_ref, const char *ns_ref, merge_fn merge,
                    const char *name)
{
	int error = 0;

	*out_action = ORCH_SYNC_UP_TO_DATE;
	*out_count = 0;
	for (int tries = 0; tries < PUSH_TRIES; tries++) {
		git_oid local, hub, result;
		int has_local, has_hub;

		if ((error = read_ref(&local, &has_local, ctx->repo,
		                      local_ref)) < 0 ||
		    (error = read_ref(&hub, &has_hub, ctx->repo, ns_ref)) < 0)
			return error;
		if (!has_local && !has_hub)
			return 0;
		if (has_local && has_hub && git_oid_equal(&local, &hub))
			return 0;
		if (!has_local ||
		    (has_hub &&
		     git_graph_descendant_of(ctx->repo, &hub, &local) == 1)) {
			/* only the remote moved */
			error = cas_local(ctx->repo, local_ref, &hub,
			                  has_local ? &local : NULL);
			if (error == ORCH_EMODIFIED)
				continue;
			if (error == 0)
				*out_action = ORCH_SYNC_FETCHED;
			return error;
		}
		if (!has_hub ||
		    git_graph_descendant_of(ctx->repo, &local, &hub) == 1) {
			/* only this side moved */
			git_oid_cpy(&result, &local);
			*out_action = ORCH_SYNC_PUSHED;
		} else {
			if ((error = merge(&result, out_count, ctx->repo, name,
			                   &hub, &local)) < 0)
				return error;
			*out_action = ORCH_SYNC_MERGED;
		}
		{
			orch_remote_update update = {
			    remote_ref, has_hub ? &hub : NULL, &result, 0};
			error = orch_remote_push(ctx->repo, ctx->remote,
			                         &update, 1);
		}
		if (error == ORCH_EMODIFIED) {
			/* the remote moved: fetch it again and start over */
			if ((error = ns_fetch(ctx, 1)) < 0)
				return error;
			continue;
		}
		if (error < 0)
			return error;
		ns_set(ctx, ns_ref, &result);
		if (git_oid_equal(&result, &local))
			return 0;
		error = cas_local(ctx->repo, local_ref, &result, &local);
		if (error == ORCH_EMODIFIED)
			continue; /* a local change meanwhile: merge it too */
		return error;
	}
	orch_error_set("'%s' kept changing on '%s'", remote_ref, ctx->remote);
	orch_error_hint("run 'git orchestrate sync %s' again", ctx->remote);
	return ORCH_EMODIFIED;
}

/* ---- the whole sync ----------------------------------------------------- */

/* Names under `prefix` (without it), sorted, appended to *out. */
static int list_names(orch_strvec *out, git_repository *repo,
                      const char *prefix)
{
	git_reference_iterator *iter = NULL;
	const char *name;
	size_t len = strlen(prefix);
	char glob[REFNAME_MAX];
	int error;

	snprintf(glob, sizeof(glob), "%s*", prefix);
	if ((error = git_reference_iterator_glob_new(&iter, repo, glob)) < 0)
		return orch_error_git(error, "cannot list '%s'", glob);
	while ((error = git_reference_next_name(&name, iter)) == 0)
		if (!strncmp(name, prefix, len) && name[len])
			orch_strvec_push(out, name + len);
	git_reference_iterator_free(iter);
	if (error != GIT_ITEROVER)
		return orch_error_git(error, "cannot list '%s'", glob);
	return 0;
}

static int strptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sync_plans(orch_sync_report *report, struct sync_ctx *ctx)
{
	orch_strvec names = {0};
	char ns_plans[REFNAME_MAX];
	int error;

	snprintf(ns_plans, sizeof(ns_plans), "%splans/", ctx->ns);
	if ((error = list_names(&names, ctx->repo, PLANS_PREFIX)) < 0 ||
	    (error = list_names(&names, ctx->repo, ns_plans)) < 0)
		goto done;
	if (names.count)
		qsort(names.items, names.count, sizeof(char *), strptr_cmp);
	for (size_t i = 0; i < names.count; i++) {
		char local_ref[REFNAME_MAX], ns_ref[REFNAME_MAX];
		orch_sync_plan_result *r;
		if (i && !strcmp(names.items[i], names.items[i - 1]))
			continue;
		if (strchr(names.items[i], '/'))
			continue; /* not a plan */
		snprintf(local_ref, sizeof(local_ref), PLANS_PREFIX "%s",
		         names.items[i]);
		snprintf(ns_ref, sizeof(ns_ref), "%s%s", ns_plans,
		         names.items[i]);
		r = report_add(report, names.items[i]);
		error =
		    sync_ref(&r->action, &r->tasks_merged, ctx, local_ref,
		             local_ref, ns_ref, merge_plan_fn, names.items[i]);
		if (error == ORCH_ECONFLICT) {
			r->action = ORCH_SYNC_REFUSED;
			r->why = orch_strdup(orch_error_message());
			orch_error_clear();
			error = 0;
		}
		if (error < 0)
			goto done;
	}
done:
	orch_strvec_free(&names);
	return error;
}

static int sync_branches(orch_sync_report *report, struct sync_ctx *ctx)
{
	orch_strvec local = {0}, hub = {0}, missing = {0}, refnames = {0};
	orch_remote_update *updates = NULL;
	git_oid *oids = NULL;
	char ns_heads[REFNAME_MAX];
	int error;

	snprintf(ns_heads, sizeof(ns_heads), "%sheads/", ctx->ns);
	if ((error = list_names(&hub, ctx->repo, ns_heads)) < 0)
		goto done;
	for (size_t i = 0; i < hub.count; i++) {
		char local_ref[REFNAME_MAX], ns_ref[REFNAME_MAX];
		git_oid theirs, ours;
		int has_ours;
		snprintf(local_ref, sizeof(local_ref), HEADS_PREFIX "%s",
		         hub.items[i]);
		snprintf(ns_ref, sizeof(ns_ref), "%s%s", ns_heads,
		         hub.items[i]);
		if ((error = read_ref(&theirs, &has_ours, ctx->repo, ns_ref)) <
		        0 ||
		    (error = read_ref(&ours, &has_ours, ctx->repo, local_ref)) <
		        0)
			goto done;
		if (has_ours &&
		    (git_oid_equal(&ours, &theirs) ||
		     git_graph_descendant_of(ctx->repo, &theirs, &ours) != 1))
			continue; /* ours, or not an ancestor of theirs: kept */
		error = cas_local(ctx->repo, local_ref, &theirs,
		                  has_ours ? &ours : NULL);
		if (error == ORCH_EMODIFIED) {
			orch_error_clear();
			continue; /* changed here meanwhile: keep it */
		}
		if (error < 0)
			goto done;
		report->branches_fetched++;
	}
	/* ours that the remote lacks: create-only, all or none */
	if ((error = list_names(&local, ctx->repo, HEADS_PREFIX)) < 0)
		goto done;
	for (size_t i = 0; i < local.count; i++)
		if (!orch_strvec_contains(&hub, local.items[i]))
			orch_strvec_push(&missing, local.items[i]);
	if (!missing.count)
		goto done;
	updates = orch_calloc(missing.count, sizeof(*updates));
	oids = orch_calloc(missing.count, sizeof(*oids));
	for (size_t i = 0; i < missing.count; i++) {
		char local_ref[REFNAME_MAX];
		int found;
		snprintf(local_ref, sizeof(local_ref), HEADS_PREFIX "%s",
		         missing.items[i]);
		if ((error = read_ref(&oids[i], &found, ctx->repo, local_ref)) <
		    0)
			goto done;
		orch_strvec_push(&refnames, local_ref);
	}
	for (size_t i = 0; i < missing.count; i++) {
		updates[i].refname = refnames.items[i];
		updates[i].expect = NULL;
		updates[i].new_oid = &oids[i];
	}
	error =
	    orch_remote_push(ctx->repo, ctx->remote, updates, missing.count);
	if (error == ORCH_EMODIFIED) {
		/* one was created there meanwhile: the next sync takes it */
		orch_error_clear();
		error = 0;
		goto done;
	}
	if (error == 0)
		report->branches_pushed = missing.count;
done:
	free(updates);
	free(oids);
	orch_strvec_free(&local);
	orch_strvec_free(&hub);
	orch_strvec_free(&missing);
	orch_strvec_free(&refnames);
	return error;
}

int orch_sync_run(orch_sync_report *out, git_repository *repo,
                  const char *remote)
{
	struct sync_ctx ctx = {repo, remote, {0}};
	char ns_notes[REFNAME_MAX];
	size_t unused;
	int error;

	ns_init(&ctx);
	if ((error = ns_clear(&ctx)) < 0 || (error = ns_fetch(&ctx, 1)) < 0)
		goto done;
	if ((error = sync_plans(out, &ctx)) < 0 ||
	    (error = sync_branches(out, &ctx)) < 0)
		goto done;
	snprintf(ns_notes, sizeof(ns_notes), "%snotes/orchestrate", ctx.ns);
	error = sync_ref(&out->notes, &unused, &ctx, ORCH_NOTES_REF,
	                 ORCH_NOTES_REF, ns_notes, merge_notes_fn, NULL);
done:
	ns_clear(&ctx);
	return error;
}

/* ---- reading the remote's state ----------------------------------------- */

struct orch_sync_remote {
	struct sync_ctx ctx;
	orch_store *store;
};

int orch_sync_remote_open(orch_sync_remote **out, orch_store **out_store,
                          git_repository *repo, const char *remote)
{
	orch_sync_remote *fetched = orch_calloc(1, sizeof(*fetched));
	char prefix[REFNAME_MAX];
	int error;

	*out = NULL;
	*out_store = NULL;
	fetched->ctx.repo = repo;
	fetched->ctx.remote = remote;
	ns_init(&fetched->ctx);
	if ((error = ns_clear(&fetched->ctx)) < 0 ||
	    (error = ns_fetch(&fetched->ctx, 0)) < 0)
		goto done;
	snprintf(prefix, sizeof(prefix), "%splans/", fetched->ctx.ns);
	if ((error = orch_store_open_prefix(&fetched->store, repo, prefix)) < 0)
		goto done;
	*out_store = fetched->store;
	*out = fetched;
	fetched = NULL;
done:
	orch_sync_remote_close(fetched);
	return error;
}

void orch_sync_remote_close(orch_sync_remote *fetched)
{
	if (!fetched)
		return;
	ns_clear(&fetched->ctx);
	orch_store_free(fetched->store);
	free(fetched);
}
