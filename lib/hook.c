/*
 * The hooks of a hub: pre-receive keeps the plan state append-only and
 * applies the declared-files policy; post-receive records pushed task
 * results and merges them with `merge = auto`. Both only decide and call
 * the modules that own each rule (task.c for states, merge_run.c for
 * merging, store.c for refs and notes).
 */
#include "hook.h"
#include "error.h"
#include "glob.h"
#include "graph.h"
#include "merge.h"
#include "notes.h"
#include "plan.h"
#include "task.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TASK_REF_PREFIX "refs/heads/orchestrate/"
#define STATE_PREFIX "refs/orchestrate/"
#define PLANS_PREFIX "refs/orchestrate/plans/"
#define LOCKS_PREFIX "refs/orchestrate/locks/"

static void say(orch_hook_report_fn report, void *payload,
                orch_hook_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(orch_hook_report_fn report, void *payload,
                orch_hook_level level, const char *fmt, ...)
{
	orch_buf msg = {0};
	va_list ap;

	va_start(ap, fmt);
	orch_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (!msg.ptr)
		return;
	if (report)
		report(level, msg.ptr, payload);
	orch_buf_free(&msg);
}

/* ---- parsing -------------------------------------------------------------
 */

void orch_hook_updates_free(orch_hook_updates *updates)
{
	if (!updates)
		return;
	for (size_t i = 0; i < updates->count; i++)
		free(updates->items[i].ref);
	free(updates->items);
	updates->items = NULL;
	updates->count = 0;
}

static int parse_oid(git_oid *out, const char *text, size_t len)
{
	if (len != GIT_OID_HEXSZ)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdef", text[i]) || !text[i])
			return -1;
	return git_oid_fromstrn(out, text, len) < 0 ? -1 : 0;
}

static int parse_line(orch_hook_update *out, const char *line, size_t len)
{
	const char *sp1 = memchr(line, ' ', len), *sp2, *ref;
	size_t reflen;

	if (!sp1 || parse_oid(&out->old_oid, line, (size_t)(sp1 - line)) < 0)
		return -1;
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line));
	if (!sp2 ||
	    parse_oid(&out->new_oid, sp1 + 1, (size_t)(sp2 - sp1 - 1)) < 0)
		return -1;
	ref = sp2 + 1;
	reflen = len - (size_t)(ref - line);
	if (reflen == 0 || memchr(ref, '\0', reflen))
		return -1;
	out->ref = orch_strndup(ref, reflen);
	if (!git_reference_is_valid_name(out->ref)) {
		free(out->ref);
		out->ref = NULL;
		return -1;
	}
	return 0;
}

int orch_hook_parse(orch_hook_updates *out, const char *text, size_t len)
{
	size_t pos = 0, alloc = 0, lineno = 0;
	int error = 0;

	out->items = NULL;
	out->count = 0;
	while (pos < len) {
		const char *line = text + pos, *nl;
		size_t linelen;

		nl = memchr(line, '\n', len - pos);
		linelen = nl ? (size_t)(nl - line) : len - pos;
		pos += linelen + (nl ? 1 : 0);
		lineno++;
		if (linelen && line[linelen - 1] == '\r')
			linelen--;
		if (linelen == 0)
			continue;
		if (out->count == alloc) {
			alloc = alloc ? alloc * 2 : 8;
			out->items = orch_realloc(
			    out->items, alloc * sizeof(orch_hook_update));
		}
		if (parse_line(&out->items[out->count], line, linelen) < 0) {
			int shown = linelen > 80 ? 80 : (int)linelen;
			error = orch_error_set(
			    "line %zu of the hook's input is not \"<old> "
			    "<new> <ref>\": '%.*s%s'",
			    lineno, shown, line, linelen > 80 ? "..." : "");
			orch_error_hint("a receive hook reads what git gives "
			                "it; run it from the shims that "
			                "'git orchestrate hooks install' puts "
			                "in place");
			error = ORCH_EINVALID;
			goto done;
		}
		out->count++;
	}
done:
	if (error < 0)
		orch_hook_updates_free(out);
	return error;
}

int orch_hook_task_ref(char **out_plan, char **out_task, const char *ref)
{
	const char *rest, *slash;
	char *plan = NULL;

	*out_plan = NULL;
	*out_task = NULL;
	if (strncmp(ref, TASK_REF_PREFIX, strlen(TASK_REF_PREFIX)))
		return 0;
	rest = ref + strlen(TASK_REF_PREFIX);
	if (!(slash = strchr(rest, '/')))
		return 0;
	plan = orch_strndup(rest, (size_t)(slash - rest));
	if (!orch_id_valid(plan) || !orch_id_valid(slash + 1)) {
		free(plan);
		return 0;
	}
	*out_plan = plan;
	*out_task = orch_strdup(slash + 1);
	return 1;
}

/* A path as a glob that matches only itself. */
static char *escape_path(const char *path)
{
	orch_buf out = {0};

	for (const char *p = path; *p; p++) {
		if (strchr("*?[]\\", *p))
			orch_buf_put(&out, "\\", 1);
		orch_buf_put(&out, p, 1);
	}
	orch_buf_puts(&out, "");
	return orch_buf_detach(&out);
}

void orch_hook_outside_files(orch_strvec *out, const orch_strvec *paths,
                             const orch_strvec *files)
{
	for (size_t i = 0; i < paths->count; i++) {
		char *literal = escape_path(paths->items[i]);
		int covered = 0;
		for (size_t j = 0; j < files->count && !covered; j++)
			covered = orch_glob_overlap(files->items[j], literal);
		if (!covered)
			orch_strvec_push(out, paths->items[i]);
		free(literal);
	}
}

int orch_hook_declared_policy(orch_declared_policy *out, git_repository *repo)
{
	git_config *config = NULL;
	git_buf value = {0};
	int error;

	*out = ORCH_DECLARED_WARN;
	if ((error = git_repository_config_snapshot(&config, repo)) < 0) {
		error = orch_error_git(error, "cannot read the configuration");
		goto done;
	}
	error = git_config_get_string_buf(&value, config,
	                                  "orchestrate.declaredFiles");
	if (error == GIT_ENOTFOUND) {
		git_error_clear();
		error = 0;
		goto done;
	}
	if (error < 0) {
		error = orch_error_git(error, "cannot read "
		                              "orchestrate.declaredFiles");
		goto done;
	}
	if (!strcmp(value.ptr, "warn")) {
		*out = ORCH_DECLARED_WARN;
	} else if (!strcmp(value.ptr, "refuse")) {
		*out = ORCH_DECLARED_REFUSE;
	} else {
		orch_error_set("orchestrate.declaredFiles is '%s': it takes "
		               "warn or refuse",
		               value.ptr);
		orch_error_hint("git config orchestrate.declaredFiles warn "
		                "(or refuse) in the hub");
		error = ORCH_EINVALID;
	}
done:
	git_buf_dispose(&value);
	git_config_free(config);
	return error;
}

/* ---- reading a plan from a commit ---------------------------------------
 */

/* The blob at `path` in the tree of commit `id`; ORCH_ENOTFOUND if none. */
static int read_blob(orch_buf *out, git_repository *repo, const git_oid *id,
                     const char *path)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	int error;

	if ((error = git_commit_lookup(&commit, repo, id)) < 0 ||
	    (error = git_commit_tree(&tree, commit)) < 0)
		goto done;
	if ((error = git_tree_entry_bypath(&entry, tree, path)) < 0 ||
	    (error = git_blob_lookup(&blob, repo, git_tree_entry_id(entry))) <
	        0)
		goto done;
	orch_buf_put(out, git_blob_rawcontent(blob),
	             (size_t)git_blob_rawsize(blob));
	orch_buf_puts(out, "");
done:
	if (error == GIT_ENOTFOUND) {
		git_error_clear();
		error = ORCH_ENOTFOUND;
	} else if (error < 0) {
		error = orch_error_git(error, "cannot read %s", path);
	}
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(commit);
	return error;
}

/* plan.json of plan commit `id`: ORCH_EINVALID saying what is wrong. */
static int plan_at(orch_plan **out, git_repository *repo, const git_oid *id)
{
	orch_buf json = {0};
	git_commit *commit = NULL;
	int error;

	*out = NULL;
	if ((error = git_commit_lookup(&commit, repo, id)) < 0) {
		git_error_clear();
		orch_error_set("it points to no commit");
		error = ORCH_EINVALID;
		goto done;
	}
	error = read_blob(&json, repo, id, "plan.json");
	if (error == ORCH_ENOTFOUND) {
		orch_error_set("its commit has no plan.json");
		error = ORCH_EINVALID;
		goto done;
	}
	if (error < 0)
		goto done;
	if (orch_plan_from_json(out, json.ptr, json.len) < 0) {
		orch_buf why = {0};
		orch_buf_printf(&why, "its plan.json does not parse: %s",
		                orch_error_message());
		orch_error_set("%s", why.ptr);
		orch_buf_free(&why);
		error = ORCH_EINVALID;
	}
done:
	git_commit_free(commit);
	orch_buf_free(&json);
	return error;
}

/* ---- pre-receive ---------------------------------------------------------
 */

static const orch_hook_update *find_update(const orch_hook_updates *updates,
                                           const char *ref)
{
	for (size_t i = 0; i < updates->count; i++)
		if (!strcmp(updates->items[i].ref, ref))
			return &updates->items[i];
	return NULL;
}

/* A ref under refs/orchestrate/: 1 when allowed, 0 refused (reported). */
static int check_state_ref(git_repository *repo, const orch_hook_update *u,
                           orch_hook_report_fn report, void *payload)
{
	char old_hex[GIT_OID_HEXSZ + 1], new_hex[GIT_OID_HEXSZ + 1];
	orch_plan *plan = NULL;
	int ok = 1;

	if (!strncmp(u->ref, LOCKS_PREFIX, strlen(LOCKS_PREFIX)))
		return 1; /* leases are created, renewed, broken, deleted */
	git_oid_tostr(old_hex, sizeof(old_hex), &u->old_oid);
	git_oid_tostr(new_hex, sizeof(new_hex), &u->new_oid);
	if (git_oid_is_zero(&u->new_oid)) {
		say(report, payload, ORCH_HOOK_ERROR,
		    "%s: refusing to delete plan state on the hub (it only "
		    "moves forward)",
		    u->ref);
		return 0;
	}
	if (!git_oid_is_zero(&u->old_oid) &&
	    !git_oid_equal(&u->old_oid, &u->new_oid)) {
		int descends =
		    git_graph_descendant_of(repo, &u->new_oid, &u->old_oid);
		if (descends != 1) {
			git_error_clear();
			say(report, payload, ORCH_HOOK_ERROR,
			    "%s: refusing a rewrite of plan state: %.7s is not "
			    "a fast-forward of %.7s",
			    u->ref, new_hex, old_hex);
			say(report, payload, ORCH_HOOK_INFO,
			    "fetch the hub's state and build on it: 'git "
			    "orchestrate sync' merges diverged plan states");
			return 0;
		}
	}
	if (!strncmp(u->ref, PLANS_PREFIX, strlen(PLANS_PREFIX))) {
		if (plan_at(&plan, repo, &u->new_oid) < 0) {
			say(report, payload, ORCH_HOOK_ERROR,
			    "%s: refusing a broken plan state at %.7s: %s",
			    u->ref, new_hex, orch_error_message());
			ok = 0;
		}
		orch_plan_free(plan);
	}
	return ok;
}

/* The paths a commit changes against `base`, appended to *out. */
static int changed_paths(orch_strvec *out, git_repository *repo,
                         const git_oid *base, const git_oid *tip)
{
	git_commit *bc = NULL, *tc = NULL;
	git_tree *bt = NULL, *tt = NULL;
	git_diff *diff = NULL;
	int error;

	if ((error = git_commit_lookup(&bc, repo, base)) < 0 ||
	    (error = git_commit_lookup(&tc, repo, tip)) < 0 ||
	    (error = git_commit_tree(&bt, bc)) < 0 ||
	    (error = git_commit_tree(&tt, tc)) < 0 ||
	    (error = git_diff_tree_to_tree(&diff, repo, bt, tt, NULL)) < 0) {
		error = orch_error_git(error, "cannot compare with the base");
		goto done;
	}
	for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		if (d->old_file.path &&
		    !orch_strvec_contains(out, d->old_file.path))
			orch_strvec_push(out, d->old_file.path);
		if (d->new_file.path &&
		    !orch_strvec_contains(out, d->new_file.path))
			orch_strvec_push(out, d->new_file.path);
	}
done:
	git_diff_free(diff);
	git_tree_free(bt);
	git_tree_free(tt);
	git_commit_free(bc);
	git_commit_free(tc);
	return error;
}

struct pre_ctx {
	git_repository *repo;
	const orch_hook_updates *updates;
	orch_hook_report_fn report;
	void *payload;
	int have_policy;
	orch_declared_policy policy;
};

/*
 * A pushed task result: its paths against the task's declared files. 1
 * allowed, 0 refused, <0 the check could not be made.
 */
static int check_task_result(struct pre_ctx *ctx, const orch_hook_update *u,
                             const char *plan_name, const char *task_id)
{
	char ref[300], path[400], base_hex[GIT_OID_HEXSZ + 1];
	const orch_hook_update *plan_update;
	orch_plan *plan = NULL;
	orch_task_state st;
	orch_strvec paths = {0}, outside = {0};
	orch_buf state_json = {0};
	git_oid plan_head, base;
	const char *base_text = NULL;
	long pos;
	int result = 1, error;

	orch_task_state_init(&st);
	snprintf(ref, sizeof(ref), PLANS_PREFIX "%s", plan_name);
	/* the state pushed along with the result, else the hub's */
	plan_update = find_update(ctx->updates, ref);
	if (plan_update && !git_oid_is_zero(&plan_update->new_oid)) {
		git_oid_cpy(&plan_head, &plan_update->new_oid);
	} else if (git_reference_name_to_id(&plan_head, ctx->repo, ref) < 0) {
		git_error_clear();
		goto done; /* no such plan: post-receive says so */
	}
	if (plan_at(&plan, ctx->repo, &plan_head) < 0 ||
	    (pos = orch_plan_find(plan, task_id)) < 0 ||
	    plan->tasks[pos].files.count == 0)
		goto done; /* broken plan, unknown task or no files: no check */
	if (orch_store_task_path(path, sizeof(path), plan, task_id) == 0 &&
	    read_blob(&state_json, ctx->repo, &plan_head, path) == 0 &&
	    orch_task_state_from_json(&st, state_json.ptr, state_json.len) ==
	        0 &&
	    st.base)
		base_text = st.base;
	else
		base_text = plan->base_commit;
	orch_error_clear();
	if (!base_text || git_oid_fromstr(&base, base_text) < 0) {
		git_error_clear();
		say(ctx->report, ctx->payload, ORCH_HOOK_WARNING,
		    "%s: task '%s' of plan '%s' has no base commit recorded: "
		    "its declared files are not checked",
		    u->ref, task_id, plan_name);
		goto done;
	}
	if ((error = changed_paths(&paths, ctx->repo, &base, &u->new_oid)) <
	    0) {
		result = error;
		goto done;
	}
	orch_hook_outside_files(&outside, &paths, &plan->tasks[pos].files);
	if (outside.count == 0)
		goto done;
	if (!ctx->have_policy) {
		if ((error = orch_hook_declared_policy(&ctx->policy,
		                                       ctx->repo)) < 0) {
			result = error;
			goto done;
		}
		ctx->have_policy = 1;
	}
	git_oid_tostr(base_hex, sizeof(base_hex), &base);
	for (size_t i = 0; i < outside.count; i++)
		say(ctx->report, ctx->payload,
		    ctx->policy == ORCH_DECLARED_REFUSE ? ORCH_HOOK_ERROR
		                                        : ORCH_HOOK_WARNING,
		    "task '%s' of plan '%s' changes '%s', outside its "
		    "declared files (since %.7s)",
		    task_id, plan_name, outside.items[i], base_hex);
	if (ctx->policy == ORCH_DECLARED_REFUSE) {
		say(ctx->report, ctx->payload, ORCH_HOOK_ERROR,
		    "%s: refused (orchestrate.declaredFiles = refuse)", u->ref);
		result = 0;
	}
done:
	orch_strvec_free(&paths);
	orch_strvec_free(&outside);
	orch_buf_free(&state_json);
	orch_task_state_clear(&st);
	orch_plan_free(plan);
	return result;
}

int orch_hook_pre_receive(size_t *out_refused, git_repository *repo,
                          const orch_hook_updates *updates,
                          orch_hook_report_fn report, void *payload)
{
	struct pre_ctx ctx = {repo,    updates, report,
	                      payload, 0,       ORCH_DECLARED_WARN};
	int error = 0;

	*out_refused = 0;
	for (size_t i = 0; i < updates->count; i++) {
		const orch_hook_update *u = &updates->items[i];
		char *plan = NULL, *task = NULL;
		int ok = 1;

		if (!strncmp(u->ref, STATE_PREFIX, strlen(STATE_PREFIX)))
			ok = check_state_ref(repo, u, report, payload);
		else if (!git_oid_is_zero(&u->new_oid) &&
		         orch_hook_task_ref(&plan, &task, u->ref))
			ok = check_task_result(&ctx, u, plan, task);
		free(plan);
		free(task);
		if (ok < 0) {
			error = ok;
			goto done;
		}
		if (!ok)
			(*out_refused)++;
	}
done:
	return error;
}

/* ---- post-receive --------------------------------------------------------
 */

struct pushed {
	const char *task;
	const char *commit; /* hex */
	int64_t now_ms;
	const orch_plan *plan;
	const orch_graph *graph;
	size_t pos;
	orch_task_state before; /* out: the state it had */
	orch_task_state after;  /* out: the state it has */
};

static int record_cb(orch_txn *txn, void *payload)
{
	struct pushed *p = payload;
	int error;

	orch_task_state_clear(&p->before);
	orch_task_state_clear(&p->after);
	orch_task_state_init(&p->before);
	orch_task_state_init(&p->after);
	if ((error = orch_txn_get_task(&p->before, txn, p->task)) < 0)
		return error;
	orch_task_state_copy(&p->after, &p->before);
	if ((error = orch_task_record_pushed(&p->after, p->task, p->commit,
	                                     NULL, p->now_ms)) < 0)
		return error;
	if ((error = orch_txn_put_task(txn, p->task, &p->after)) < 0)
		return error;
	orch_txn_message(txn,
	                 "%s: done, pushed to the hub as %.7s (attempt %d)",
	                 p->task, p->commit, p->after.attempts);
	return orch_task_promote_dependents(txn, p->plan, p->graph, p->pos);
}

/* The note a runner writes on a result, unless the commit has one. */
static void note_result(orch_store *store, const git_oid *commit,
                        const char *plan, const char *task,
                        const orch_task_state *before,
                        const orch_task_state *after,
                        orch_hook_report_fn report, void *payload)
{
	orch_buf text = {0};
	char *existing = NULL;
	int64_t duration = -1;

	if (orch_notes_read(&existing, store, commit) == 0)
		goto done;
	orch_error_clear();
	if (after->duration_ms >= 0 && before->state == ORCH_STATE_DONE)
		duration = after->duration_ms;
	else if (before->state == ORCH_STATE_RUNNING && after->started_ms > 0)
		duration = after->ended_ms - after->started_ms;
	orch_buf_printf(&text, "plan: %s\ntask: %s\nworker: %s\nattempt: %d\n",
	                plan, task, after->worker ? after->worker : "push",
	                after->attempts);
	if (duration >= 0)
		orch_buf_printf(&text, "duration-ms: %lld\n",
		                (long long)duration);
	orch_buf_puts(&text, "exit: 0\n");
	if (orch_notes_set(store, commit, text.ptr) < 0)
		say(report, payload, ORCH_HOOK_WARNING,
		    "cannot add the note on %s's result: %s", task,
		    orch_error_message());
done:
	free(existing);
	orch_buf_free(&text);
}

/* A task to merge once every pushed result is recorded. */
struct to_merge {
	char *plan;
	char *task;
	size_t rank; /* position in the plan's dependency order */
	int rerun;   /* merge = auto-rerun: a conflict is set to run again */
};

static int compare_merge(const void *a, const void *b)
{
	const struct to_merge *x = a, *y = b;
	int c = strcmp(x->plan, y->plan);

	if (c)
		return c;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Record one pushed result; *out_merge (may stay NULL) when to merge it. */
static int post_one(struct to_merge **merges, size_t *nmerges,
                    orch_store *store, const orch_hook_update *u,
                    orch_hook_report_fn report, void *payload)
{
	char *plan_name = NULL, *task = NULL, hex[GIT_OID_HEXSZ + 1];
	orch_plan *plan = NULL;
	orch_graph *graph = NULL;
	struct pushed p;
	size_t *order = NULL;
	long pos;
	int error = 0;

	memset(&p, 0, sizeof(p));
	orch_task_state_init(&p.before);
	orch_task_state_init(&p.after);
	if (git_oid_is_zero(&u->new_oid))
		goto done; /* a deleted branch records nothing */
	if (!orch_hook_task_ref(&plan_name, &task, u->ref)) {
		if (!strncmp(u->ref, TASK_REF_PREFIX, strlen(TASK_REF_PREFIX)))
			say(report, payload, ORCH_HOOK_WARNING,
			    "%s: not a task result (refs/heads/orchestrate/"
			    "<plan>/<task>): nothing recorded",
			    u->ref);
		goto done;
	}
	git_oid_tostr(hex, sizeof(hex), &u->new_oid);
	error = orch_store_load_plan(&plan, NULL, store, plan_name);
	if (error == ORCH_ENOTFOUND) {
		say(report, payload, ORCH_HOOK_WARNING,
		    "%s: no plan '%s' is stored in this repository: nothing "
		    "recorded",
		    u->ref, plan_name);
		error = 0;
		goto done;
	}
	if (error < 0)
		goto report;
	if ((pos = orch_plan_find(plan, task)) < 0) {
		say(report, payload, ORCH_HOOK_WARNING,
		    "%s: plan '%s' has no task '%s': nothing recorded", u->ref,
		    plan_name, task);
		goto done;
	}
	if ((error = orch_graph_build(&graph, plan, NULL)) < 0)
		goto report;
	p.task = task;
	p.commit = hex;
	p.now_ms = orch_now_ms();
	p.plan = plan;
	p.graph = graph;
	p.pos = (size_t)pos;
	error = orch_store_update(store, plan_name, record_cb, &p, NULL);
	if (error == ORCH_EEXISTS || error == ORCH_EINVALID) {
		say(report, payload, ORCH_HOOK_WARNING, "%s: %s", u->ref,
		    orch_error_message());
		error = 0;
		goto done;
	}
	if (error < 0 && error != ORCH_ENOCHANGE)
		goto report;
	if (error == 0)
		say(report, payload, ORCH_HOOK_INFO,
		    "%s: task '%s' of plan '%s' recorded done with %.7s",
		    u->ref, task, plan_name, hex);
	error = 0;
	note_result(store, &u->new_oid, plan_name, task, &p.before, &p.after,
	            report, payload);
	if (plan->merge_auto && p.after.state == ORCH_STATE_DONE) {
		size_t rank = 0;
		order = orch_malloc((plan->ntasks + 1) * sizeof(size_t));
		if (orch_graph_topo_order(order, graph) == 0)
			for (size_t i = 0; i < plan->ntasks; i++)
				if (order[i] == (size_t)pos)
					rank = i;
		*merges =
		    orch_realloc(*merges, (*nmerges + 1) * sizeof(**merges));
		(*merges)[*nmerges].plan = plan_name;
		(*merges)[*nmerges].task = task;
		(*merges)[*nmerges].rank = rank;
		(*merges)[*nmerges].rerun = plan->merge_rerun;
		(*nmerges)++;
		plan_name = task = NULL;
	}
	goto done;
report:
	say(report, payload, ORCH_HOOK_ERROR, "%s: %s", u->ref,
	    orch_error_message());
	error = 0; /* one result's trouble does not stop the others */
done:
	orch_task_state_clear(&p.before);
	orch_task_state_clear(&p.after);
	free(order);
	orch_graph_free(graph);
	orch_plan_free(plan);
	free(plan_name);
	free(task);
	return error;
}

/*
 * merge = auto-rerun: a task that conflicts is set to run again from the
 * base branch as it is now; the runners of the plan (run --remote) pick it
 * up. Past its rerun-limit it stays in conflict.
 */
static void rerun_one(orch_store *store, const struct to_merge *m,
                      const orch_merge_result *merged,
                      orch_hook_report_fn report, void *payload)
{
	orch_rerun_result res = {0};
	const char *into = merged->into ? merged->into : "the base branch";
	int error = orch_merge_rerun(&res, store, m->plan, m->task);
	char tip[GIT_OID_HEXSZ + 1];

	git_oid_tostr(tip, sizeof(tip), &res.base_tip);
	if (error == 0)
		say(report, payload, ORCH_HOOK_INFO,
		    "task '%s' of plan '%s': conflicts with %s; set to run "
		    "again from %s at %.12s (merge = auto-rerun)",
		    m->task, m->plan, into, res.base ? res.base : into, tip);
	else if (error == ORCH_ENOCHANGE)
		say(report, payload, ORCH_HOOK_WARNING,
		    "task '%s' of plan '%s': conflicts with %s; left unmerged: "
		    "it was re-run %d time%s already (rerun-limit)",
		    m->task, m->plan, into, res.limit,
		    res.limit == 1 ? "" : "s");
	else
		say(report, payload, ORCH_HOOK_WARNING,
		    "task '%s' of plan '%s': conflicts with %s; not set to run "
		    "again: %s",
		    m->task, m->plan, into, orch_error_message());
	orch_rerun_result_clear(&res);
}

static void merge_one(orch_store *store, const struct to_merge *m,
                      orch_hook_report_fn report, void *payload)
{
	orch_merge_options opts = {0};
	orch_merge_result res;
	int error;

	orch_merge_result_init(&res);
	opts.plan = m->plan;
	error = orch_merge_task(&res, store, &opts, m->task);
	if (error < 0 && error != ORCH_ENOCHANGE)
		say(report, payload, ORCH_HOOK_WARNING,
		    "task '%s' of plan '%s': not merged: %s", m->task, m->plan,
		    orch_error_message());
	else if (res.merged.count)
		say(report, payload, ORCH_HOOK_INFO,
		    "task '%s' of plan '%s': merged into %s", m->task, m->plan,
		    res.into ? res.into : "the base branch");
	else if (res.conflicted.count && m->rerun)
		rerun_one(store, m, &res, report, payload);
	else if (res.conflicted.count)
		say(report, payload, ORCH_HOOK_WARNING,
		    "task '%s' of plan '%s': conflicts with %s; left unmerged",
		    m->task, m->plan, res.into ? res.into : "the base branch");
	else if (res.rejected.count)
		say(report, payload, ORCH_HOOK_WARNING,
		    "task '%s' of plan '%s': rejected: the merged result "
		    "fails verify; %s is left as it was",
		    m->task, m->plan, res.into ? res.into : "the base branch");
	orch_merge_result_clear(&res);
}

int orch_hook_post_receive(orch_store *store, const orch_hook_updates *updates,
                           orch_hook_report_fn report, void *payload)
{
	struct to_merge *merges = NULL;
	size_t nmerges = 0;
	int error = 0;

	for (size_t i = 0; i < updates->count && error == 0; i++)
		error = post_one(&merges, &nmerges, store, &updates->items[i],
		                 report, payload);
	if (error == 0 && nmerges > 1)
		qsort(merges, nmerges, sizeof(*merges), compare_merge);
	for (size_t i = 0; i < nmerges; i++) {
		if (error == 0)
			merge_one(store, &merges[i], report, payload);
		free(merges[i].plan);
		free(merges[i].task);
	}
	free(merges);
	return error;
}

/* ---- installation --------------------------------------------------------
 */

/* The same bytes as hooks/post-receive and hooks/pre-receive. */
static const char post_receive_shim[] =
    "#!/bin/sh\n"
    "# git-orchestrate hook shim: post-receive\n"
    "# Installed by 'git orchestrate hooks install'. A post-receive hook "
    "that\n"
    "# was here before is kept as post-receive.pre-orchestrate and runs "
    "first,\n"
    "# with the same input.\n"
    "kept=\"$(dirname \"$0\")/post-receive.pre-orchestrate\"\n"
    "test -x \"$kept\" || exec git orchestrate hook post-receive\n"
    "input=$(cat)\n"
    "feed () {\n"
    "\tif test -n \"$input\"\n"
    "\tthen\n"
    "\t\tprintf '%s\\n' \"$input\"\n"
    "\tfi\n"
    "}\n"
    "feed | \"$kept\" \"$@\"\n"
    "feed | git orchestrate hook post-receive\n";

static const char pre_receive_shim[] =
    "#!/bin/sh\n"
    "# git-orchestrate hook shim: pre-receive\n"
    "# Installed by 'git orchestrate hooks install'. A pre-receive hook "
    "that\n"
    "# was here before is kept as pre-receive.pre-orchestrate and runs "
    "first,\n"
    "# with the same input; when it fails, the push is refused.\n"
    "kept=\"$(dirname \"$0\")/pre-receive.pre-orchestrate\"\n"
    "test -x \"$kept\" || exec git orchestrate hook pre-receive\n"
    "input=$(cat)\n"
    "feed () {\n"
    "\tif test -n \"$input\"\n"
    "\tthen\n"
    "\t\tprintf '%s\\n' \"$input\"\n"
    "\tfi\n"
    "}\n"
    "feed | \"$kept\" \"$@\" || exit\n"
    "feed | git orchestrate hook pre-receive\n";

#define SHIM_MARK "# git-orchestrate hook shim: "

const char *orch_hook_shim(const char *name)
{
	if (!strcmp(name, "post-receive"))
		return post_receive_shim;
	if (!strcmp(name, "pre-receive"))
		return pre_receive_shim;
	return NULL;
}

int orch_hook_dir(char **out, git_repository *repo)
{
	git_config *config = NULL;
	git_buf value = {0};
	const char *rel_to;
	orch_buf path = {0};
	int error;

	*out = NULL;
	if ((error = git_repository_config_snapshot(&config, repo)) < 0) {
		error = orch_error_git(error, "cannot read the configuration");
		goto done;
	}
	error = git_config_get_path(&value, config, "core.hooksPath");
	if (error == GIT_ENOTFOUND || (error == 0 && !value.ptr[0])) {
		git_error_clear();
		orch_buf_printf(&path, "%shooks",
		                git_repository_commondir(repo));
		error = 0;
	} else if (error < 0) {
		error = orch_error_git(error, "cannot read core.hooksPath");
		goto done;
	} else if (value.ptr[0] == '/') {
		orch_buf_puts(&path, value.ptr);
	} else {
		/* where git runs hooks: the work tree, or a bare git dir */
		rel_to = git_repository_workdir(repo);
		if (!rel_to)
			rel_to = git_repository_path(repo);
		orch_buf_printf(&path, "%s%s", rel_to, value.ptr);
	}
	*out = orch_buf_detach(&path);
done:
	git_buf_dispose(&value);
	git_config_free(config);
	orch_buf_free(&path);
	return error;
}

int orch_hook_install(orch_hook_install_action *out, const char *dir,
                      const char *name)
{
	const char *shim = orch_hook_shim(name);
	orch_buf hook = {0}, kept = {0}, tmp = {0}, existing = {0};
	int fd = -1, error = 0, have_existing = 0, renamed = 0;
	struct stat sb;

	*out = ORCH_HOOK_INSTALLED;
	if (!shim)
		return orch_error_set("no hook '%s' to install", name);
	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		error = orch_error_os("cannot create '%s'", dir);
		goto done;
	}
	orch_buf_printf(&hook, "%s/%s", dir, name);
	orch_buf_printf(&kept, "%s/%s" ORCH_HOOK_KEPT_SUFFIX, dir, name);
	orch_buf_printf(&tmp, "%s/.%s.orchestrate-tmp", dir, name);
	if (lstat(hook.ptr, &sb) == 0) {
		have_existing = 1;
		if (S_ISREG(sb.st_mode) &&
		    orch_read_file(&existing, hook.ptr) == 0 &&
		    strstr(existing.ptr, SHIM_MARK)) {
			if (!strcmp(existing.ptr, shim) &&
			    (sb.st_mode & 0111) == 0111) {
				*out = ORCH_HOOK_UNCHANGED;
				goto done;
			}
			*out = ORCH_HOOK_UPDATED;
			have_existing = 0; /* ours: replaced, not kept */
		}
		orch_error_clear();
	} else if (errno != ENOENT) {
		error = orch_error_os("cannot read '%s'", hook.ptr);
		goto done;
	}
	if (have_existing) {
		if (lstat(kept.ptr, &sb) == 0 || errno != ENOENT) {
			orch_error_set("'%s' is there already: cannot keep "
			               "the present '%s' hook under that name",
			               kept.ptr, name);
			orch_error_hint("merge the two hooks into '%s' by "
			                "hand, then install again",
			                kept.ptr);
			error = ORCH_EEXISTS;
			goto done;
		}
		*out = ORCH_HOOK_KEPT;
	}
	if ((fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC, 0755)) < 0) {
		error = orch_error_os("cannot write '%s'", tmp.ptr);
		goto done;
	}
	if (orch_write_all(fd, shim, strlen(shim)) < 0 ||
	    fchmod(fd, 0755) < 0 || close(fd) < 0) {
		fd = -1;
		error = orch_error_os("cannot write '%s'", tmp.ptr);
		unlink(tmp.ptr);
		goto done;
	}
	fd = -1;
	if (have_existing) {
		if (rename(hook.ptr, kept.ptr) < 0) {
			error = orch_error_os("cannot rename '%s'", hook.ptr);
			unlink(tmp.ptr);
			goto done;
		}
		renamed = 1;
	}
	if (rename(tmp.ptr, hook.ptr) < 0) {
		error = orch_error_os("cannot install '%s'", hook.ptr);
		unlink(tmp.ptr);
		if (renamed)
			rename(kept.ptr, hook.ptr);
		goto done;
	}
done:
	if (fd >= 0)
		close(fd);
	orch_buf_free(&hook);
	orch_buf_free(&kept);
	orch_buf_free(&tmp);
	orch_buf_free(&existing);
	return error;
}
