/*
 * A shared remote on this machine (a path or a file:// URL) without receive
 * hooks, read and updated in-process: what `git push --atomic
 * --force-with-lease` and `git fetch` do there (copy the objects the other
 * side lacks, then update refs under the same `<ref>.lock` files git's
 * receive-pack takes), without starting git and its receive-pack or
 * upload-pack for every state change. A hub whose hooks must run, or any
 * other URL, is left to git (remote.c).
 */
#include "remote_local.h"
#include "error.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long a push waits for a ref another push has locked. */
#define LOCK_WAIT_MS 2000

/* The hooks a push runs on the receiving side (githooks(5)). */
static const char *const receive_hooks[] = {
    "pre-receive",  "update",           "post-receive",          "post-update",
    "proc-receive", "push-to-checkout", "reference-transaction",
};

/* The local path `url` names, or NULL when it is not one we can use. */
static char *local_path(git_repository *repo, const char *remote, int depth)
{
	const char *colon, *slash;
	struct stat st;

	if (!remote || !*remote)
		return NULL;
	if (!strncmp(remote, "file://", 7)) {
		/* an escaped URL is left to git */
		return strchr(remote + 7, '%') || remote[7] != '/'
		           ? NULL
		           : orch_strdup(remote + 7);
	}
	if (strstr(remote, "://"))
		return NULL;
	colon = strchr(remote, ':');
	slash = strchr(remote, '/');
	if (colon && (!slash || colon < slash))
		return NULL; /* host:path, as git reads it */
	if (!slash && depth == 0) {
		/* a configured remote's name comes before a directory's (read
		 * from the config directly: git_remote_lookup's config regex
		 * leaks in this libgit2) */
		git_config *cfg = NULL;
		git_buf url = {0}, push = {0};
		orch_buf key = {0};
		char *path = NULL;
		int named = 0;
		if (git_repository_config_snapshot(&cfg, repo) == 0) {
			orch_buf_printf(&key, "remote.%s.url", remote);
			named =
			    git_config_get_string_buf(&url, cfg, key.ptr) == 0;
			orch_buf_clear(&key);
			orch_buf_printf(&key, "remote.%s.pushurl", remote);
			/* a separate push URL: leave the choice to git */
			if (named &&
			    git_config_get_string_buf(&push, cfg, key.ptr) < 0)
				path = local_path(repo, url.ptr, 1);
		}
		orch_buf_free(&key);
		git_buf_dispose(&url);
		git_buf_dispose(&push);
		git_config_free(cfg);
		if (named)
			return path;
	}
	if (stat(remote, &st) < 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return orch_strdup(remote);
}

/* Does the repository run hooks when it receives a push? */
static int has_receive_hooks(git_repository *hub)
{
	git_config *cfg = NULL;
	git_buf hooks_path = {0};
	int found = 0;

	if (git_repository_config_snapshot(&cfg, hub) < 0)
		return 1;
	if (git_config_get_string_buf(&hooks_path, cfg, "core.hooksPath") == 0)
		found = 1; /* hooks elsewhere: let git find them */
	git_buf_dispose(&hooks_path);
	git_config_free(cfg);
	for (size_t i = 0;
	     !found && i < sizeof(receive_hooks) / sizeof(receive_hooks[0]);
	     i++) {
		orch_buf path = {0};
		orch_buf_printf(&path, "%shooks/%s",
		                git_repository_commondir(hub),
		                receive_hooks[i]);
		found = access(path.ptr, X_OK) == 0;
		orch_buf_free(&path);
	}
	return found;
}

int orch_remote_local_open(git_repository **out, git_repository *repo,
                           const char *remote)
{
	char *path = local_path(repo, remote, 0);
	git_repository *hub = NULL;

	*out = NULL;
	if (!path)
		goto none;
	if (git_repository_open_ext(&hub, path, GIT_REPOSITORY_OPEN_NO_SEARCH,
	                            NULL) < 0 ||
	    has_receive_hooks(hub)) {
		git_repository_free(hub);
		goto none;
	}
	free(path);
	*out = hub;
	return 0;
none:
	free(path);
	return ORCH_ENOTFOUND;
}

/*
 * Copy `id` and everything it reaches that `to` lacks from `from` (which
 * must have it). Stops at objects `to` has: a repository that has an
 * object has what it reaches, as git assumes for its refs' tips. O(new
 * objects + the entries of the new trees).
 */
static int copy_objects(git_repository *to, git_repository *from,
                        const git_oid *id)
{
	git_odb *src = NULL, *dst = NULL;
	git_oid *stack = NULL;
	size_t n = 0, alloc = 0;
	int error;

	if ((error = git_repository_odb(&src, from)) < 0 ||
	    (error = git_repository_odb(&dst, to)) < 0)
		goto done;
	stack = orch_malloc(16 * sizeof(*stack));
	alloc = 16;
	stack[n++] = *id;
	while (n > 0 && error == 0) {
		git_oid oid = stack[--n], written;
		git_odb_object *obj = NULL;
		git_object *parsed = NULL;

		if (git_odb_exists(dst, &oid))
			continue;
		if ((error = git_odb_read(&obj, src, &oid)) < 0)
			break;
		if ((error = git_object_lookup(&parsed, from, &oid,
		                               GIT_OBJECT_ANY)) < 0) {
			git_odb_object_free(obj);
			break;
		}
#define PUSH(x)                                                                \
	do {                                                                   \
		if (n == alloc) {                                              \
			alloc *= 2;                                            \
			stack = orch_realloc(stack, alloc * sizeof(*stack));   \
		}                                                              \
		stack[n++] = *(x);                                             \
	} while (0)
		switch (git_object_type(parsed)) {
		case GIT_OBJECT_COMMIT: {
			const git_commit *c = (const git_commit *)parsed;
			PUSH(git_commit_tree_id(c));
			for (unsigned i = 0; i < git_commit_parentcount(c); i++)
				PUSH(git_commit_parent_id(c, i));
			break;
		}
		case GIT_OBJECT_TREE: {
			const git_tree *t = (const git_tree *)parsed;
			for (size_t i = 0; i < git_tree_entrycount(t); i++) {
				const git_tree_entry *e =
				    git_tree_entry_byindex(t, i);
				/* a gitlink's commit lives elsewhere */
				if (git_tree_entry_type(e) != GIT_OBJECT_COMMIT)
					PUSH(git_tree_entry_id(e));
			}
			break;
		}
		case GIT_OBJECT_TAG:
			PUSH(git_tag_target_id((const git_tag *)parsed));
			break;
		default:
			break;
		}
#undef PUSH
		error = git_odb_write(&written, dst, git_odb_object_data(obj),
		                      git_odb_object_size(obj),
		                      git_odb_object_type(obj));
		git_object_free(parsed);
		git_odb_object_free(obj);
	}
done:
	free(stack);
	git_odb_free(src);
	git_odb_free(dst);
	return error;
}

int orch_remote_local_push(git_repository *hub, git_repository *repo,
                           const char *remote,
                           const orch_remote_update *updates, size_t count)
{
	git_transaction *tx = NULL;
	int error = 0;

	for (size_t i = 0; i < count && error == 0; i++)
		if (updates[i].new_oid)
			error = copy_objects(hub, repo, updates[i].new_oid);
	if (error < 0) {
		error = orch_error_git(error, "cannot push to '%s'", remote);
		goto done;
	}
	if ((error = git_transaction_new(&tx, hub)) < 0)
		goto git_failed;
	for (size_t i = 0; i < count; i++) {
		/*
		 * Another push holds the lock for a moment (in-process
		 * pushes are short): wait for it, as a lost race must mean
		 * a changed value, not a busy one. Pushes lock the plan ref
		 * first, so two of them cannot wait for each other.
		 */
		int64_t deadline = orch_monotonic_ms() + LOCK_WAIT_MS;
		long pause_us = 200;
		while ((error = git_transaction_lock_ref(
		            tx, updates[i].refname)) == GIT_ELOCKED &&
		       orch_monotonic_ms() < deadline) {
			usleep((useconds_t)pause_us);
			if (pause_us < 10000)
				pause_us *= 2;
		}
		if (error == GIT_ELOCKED || error == GIT_EMODIFIED) {
			/* another push holds it: as git's "cannot lock ref" */
			orch_error_set("'%s' changed on '%s': cannot lock ref",
			               updates[i].refname, remote);
			error = ORCH_EMODIFIED;
			goto done;
		}
		if (error < 0)
			goto git_failed;
	}
	/* every ref locked: they are what they are until the commit */
	for (size_t i = 0; i < count; i++) {
		git_oid now;
		int have = git_reference_name_to_id(&now, hub,
		                                    updates[i].refname) == 0;
		if (!updates[i].force &&
		    (updates[i].expect
		         ? !have || !git_oid_equal(&now, updates[i].expect)
		         : have)) {
			orch_error_set("'%s' changed on '%s': stale info",
			               updates[i].refname, remote);
			error = ORCH_EMODIFIED;
			goto done;
		}
		if (updates[i].new_oid)
			error = git_transaction_set_target(
			    tx, updates[i].refname, updates[i].new_oid, NULL,
			    "orchestrate: push");
		else if (have)
			error = git_transaction_remove(tx, updates[i].refname);
		if (error < 0)
			goto git_failed;
	}
	if ((error = git_transaction_commit(tx)) < 0)
		goto git_failed;
	goto done;
git_failed:
	error = orch_error_git(error, "cannot push to '%s'", remote);
done:
	git_transaction_free(tx);
	return error;
}

/* One ref of `hub` a fetch refspec takes, with where it goes. */
static int fetch_one(git_repository *repo, git_repository *hub,
                     const char *remote, const git_refspec *spec,
                     const char *name, orch_strmap *wrote)
{
	git_buf dst = {0};
	git_oid id, old;
	int error;

	if ((error = git_reference_name_to_id(&id, hub, name)) < 0)
		return error == GIT_ENOTFOUND ? 0 : error;
	if ((error = copy_objects(repo, hub, &id)) < 0)
		return error;
	if (!git_refspec_dst(spec) || !*git_refspec_dst(spec))
		return 0; /* objects only */
	if ((error = git_refspec_transform(&dst, spec, name)) < 0)
		return error;
	if (!git_refspec_force(spec) &&
	    git_reference_name_to_id(&old, repo, dst.ptr) == 0 &&
	    !git_oid_equal(&old, &id) &&
	    git_graph_descendant_of(repo, &id, &old) != 1) {
		error = orch_error_set(
		    "cannot fetch from '%s': '%s' would not fast-forward '%s'",
		    remote, name, dst.ptr);
	} else {
		git_reference *ref = NULL;
		error = git_reference_create(&ref, repo, dst.ptr, &id, 1,
		                             "orchestrate: fetch");
		git_reference_free(ref);
		if (error == 0 && wrote)
			orch_strmap_set(wrote, dst.ptr, 1);
	}
	git_buf_dispose(&dst);
	return error;
}

int orch_remote_local_fetch(git_repository *hub, git_repository *repo,
                            const char *remote, const orch_strvec *refspecs,
                            const char *prune_prefix)
{
	orch_strmap wrote = {0};
	int error = 0;

	for (size_t i = 0; i < refspecs->count && error == 0; i++) {
		git_refspec *spec = NULL;
		const char *src;
		if ((error = git_refspec_parse(&spec, refspecs->items[i], 1)) <
		    0)
			break;
		src = git_refspec_src(spec);
		if (strchr(src, '*')) {
			git_reference_iterator *it = NULL;
			const char *name;
			orch_buf glob = {0};
			/* the iterator walks the glob's directory only */
			orch_buf_printf(&glob, "%s", src);
			if ((error = git_reference_iterator_glob_new(
			         &it, hub, glob.ptr)) == 0) {
				while (error == 0 &&
				       git_reference_next_name(&name, it) == 0)
					if (git_refspec_src_matches(spec, name))
						error = fetch_one(repo, hub,
						                  remote, spec,
						                  name, &wrote);
				git_reference_iterator_free(it);
			}
			orch_buf_free(&glob);
		} else {
			git_oid id;
			if (git_reference_name_to_id(&id, hub, src) < 0) {
				/* as git: a named source must exist */
				error = orch_error_set(
				    "cannot fetch from '%s': couldn't find "
				    "remote ref %s",
				    remote, src);
			} else {
				error = fetch_one(repo, hub, remote, spec, src,
				                  &wrote);
			}
		}
		git_refspec_free(spec);
	}
	if (error == 0 && prune_prefix) {
		/* refs under the prefix the remote no longer has */
		git_reference_iterator *it = NULL;
		orch_buf glob = {0};
		orch_strvec gone = {0};
		const char *name;
		size_t ignored;
		orch_buf_printf(&glob, "%s*", prune_prefix);
		if ((error = git_reference_iterator_glob_new(&it, repo,
		                                             glob.ptr)) == 0) {
			while (git_reference_next_name(&name, it) == 0)
				if (!orch_strmap_get(&ignored, &wrote, name))
					orch_strvec_push(&gone, name);
			git_reference_iterator_free(it);
		}
		for (size_t i = 0; i < gone.count && error == 0; i++) {
			error = git_reference_remove(repo, gone.items[i]);
			if (error == GIT_ENOTFOUND)
				error = 0;
		}
		orch_strvec_free(&gone);
		orch_buf_free(&glob);
	}
	if (error < 0 && error != ORCH_ERROR)
		error = orch_error_git(error, "cannot fetch from '%s'", remote);
	orch_strmap_clear(&wrote);
	return error;
}

int orch_remote_local_list(orch_remote_ref **out, size_t *count,
                           git_repository *hub, const orch_strvec *patterns)
{
	git_reference_iterator *it = NULL;
	orch_remote_ref *refs = NULL;
	size_t n = 0, alloc = 0;
	const char *name;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = git_reference_iterator_new(&it, hub)) < 0)
		return orch_error_git(error, "cannot list the refs");
	while (git_reference_next_name(&name, it) == 0) {
		int match = patterns->count == 0;
		orch_buf slashed = {0}, pattern = {0};
		git_oid id;
		/* as ls-remote: a pattern matches the tail of a name */
		orch_buf_printf(&slashed, "/%s", name);
		for (size_t i = 0; !match && i < patterns->count; i++) {
			orch_buf_clear(&pattern);
			orch_buf_printf(&pattern, "*/%s", patterns->items[i]);
			match = fnmatch(pattern.ptr, slashed.ptr, 0) == 0;
		}
		orch_buf_free(&slashed);
		orch_buf_free(&pattern);
		if (!match || git_reference_name_to_id(&id, hub, name) < 0)
			continue;
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			refs = orch_realloc(refs, alloc * sizeof(*refs));
		}
		refs[n].oid = id;
		refs[n].name = orch_strdup(name);
		n++;
	}
	git_reference_iterator_free(it);
	*out = refs;
	*count = n;
	return 0;
}
