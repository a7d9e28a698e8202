/*
 * Notes on refs/notes/orchestrate: what git-orchestrate records on the
 * result and merge commits it makes, and the task durations learned from
 * them.
 */
#include "notes.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "signature.h"
#include "store_internal.h"

/* Notes trees: flat up to this many notes, then xx/ subtrees (as sync.c). */
#define NOTES_FLAT_MAX 256

/* 1 for a name of two lowercase hex digits (a fan-out directory). */
static int is_fanout_dir(const git_tree_entry *entry)
{
	const char *name = git_tree_entry_name(entry);

	return git_tree_entry_type(entry) == GIT_OBJECT_TREE &&
	       strlen(name) == 2 && strspn(name, "0123456789abcdef") == 2;
}

/* Write `bld` and insert it into `root` as directory `dir`. */
static int put_subtree(git_treebuilder *root, git_treebuilder *bld,
                       const char *dir)
{
	git_oid tree;
	int error;

	if ((error = git_treebuilder_write(&tree, bld)) < 0)
		return error;
	return git_treebuilder_insert(NULL, root, dir, &tree,
	                              GIT_FILEMODE_TREE);
}

/*
 * Move the flat notes of `root` (names of 40 hex digits) into xx/
 * subtrees: done once, when a flat tree grows past NOTES_FLAT_MAX.
 * Entries of one prefix are adjacent in tree order.
 */
static int fan_out(git_treebuilder *root, git_repository *repo,
                   const git_tree *flat)
{
	git_treebuilder *sub = NULL;
	char dir[3] = "";
	int error = 0;

	for (size_t i = 0; i < git_tree_entrycount(flat) && !error; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(flat, i);
		const char *name = git_tree_entry_name(e);
		if (git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
		    strlen(name) != GIT_OID_HEXSZ)
			continue;
		if (sub && strncmp(dir, name, 2)) {
			error = put_subtree(root, sub, dir);
			git_treebuilder_free(sub);
			sub = NULL;
		}
		if (!error && !sub) {
			memcpy(dir, name, 2);
			error = git_treebuilder_new(&sub, repo, NULL);
		}
		if (!error)
			error = git_treebuilder_insert(
			    NULL, sub, name + 2, git_tree_entry_id(e),
			    git_tree_entry_filemode(e));
		if (!error)
			error = git_treebuilder_remove(root, name);
	}
	if (!error && sub)
		error = put_subtree(root, sub, dir);
	git_treebuilder_free(sub);
	return error;
}

/* A note to put: the commit it is on (hex) and its blob. */
struct put {
	char hex[GIT_OID_HEXSZ + 1];
	git_oid blob;
};

static int put_cmp(const void *a, const void *b)
{
	return strcmp(((const struct put *)a)->hex,
	              ((const struct put *)b)->hex);
}

/*
 * The notes tree `base` (NULL: none yet) with puts[0..count) added (sorted
 * by commit), into *out. Flat while it holds at most NOTES_FLAT_MAX
 * entries, then in xx/ subtrees named by the first two hex digits, as git
 * notes fans out: a note rewrites two trees of about 256 entries, not one
 * of an entry per note, and the notes of one subtree rewrite it once. A
 * flat note of the same commit left beside the subtrees (written by a
 * version that did not fan out) is replaced.
 */
static int notes_tree_put(git_oid *out, git_repository *repo,
                          const git_tree *base, const struct put *puts,
                          size_t count)
{
	git_treebuilder *root = NULL, *sub = NULL;
	git_tree *old_sub = NULL;
	int error, fanned = 0;
	size_t n = base ? git_tree_entrycount(base) : 0, fresh = 0;

	for (size_t i = 0; i < n && !fanned; i++)
		fanned = is_fanout_dir(git_tree_entry_byindex(base, i));
	for (size_t i = 0; i < count; i++)
		if (!base || !git_tree_entry_byname(base, puts[i].hex))
			fresh++;
	if ((error = git_treebuilder_new(&root, repo, base)) < 0)
		goto done;
	if (!fanned && (fresh == 0 || n + fresh <= NOTES_FLAT_MAX)) {
		for (size_t i = 0; i < count && !error; i++)
			error = git_treebuilder_insert(NULL, root, puts[i].hex,
			                               &puts[i].blob,
			                               GIT_FILEMODE_BLOB);
		if (!error)
			error = git_treebuilder_write(out, root);
		goto done;
	}
	if (!fanned && base && (error = fan_out(root, repo, base)) < 0)
		goto done;
	for (size_t i = 0; i < count;) {
		char dir[3] = {puts[i].hex[0], puts[i].hex[1], '\0'};
		const git_tree_entry *e = git_treebuilder_get(root, dir);
		if (e && git_tree_entry_type(e) == GIT_OBJECT_TREE &&
		    (error = git_tree_lookup(&old_sub, repo,
		                             git_tree_entry_id(e))) < 0)
			goto done;
		if ((error = git_treebuilder_new(&sub, repo, old_sub)) < 0)
			goto done;
		/* the notes of this subtree (adjacent: sorted) */
		for (; i < count && !memcmp(puts[i].hex, dir, 2); i++) {
			if (git_treebuilder_get(root, puts[i].hex) &&
			    (error =
			         git_treebuilder_remove(root, puts[i].hex)) < 0)
				goto done;
			if ((error = git_treebuilder_insert(
			         NULL, sub, puts[i].hex + 2, &puts[i].blob,
			         GIT_FILEMODE_BLOB)) < 0)
				goto done;
		}
		if ((error = put_subtree(root, sub, dir)) < 0)
			goto done;
		git_treebuilder_free(sub);
		sub = NULL;
		git_tree_free(old_sub);
		old_sub = NULL;
	}
	error = git_treebuilder_write(out, root);
done:
	git_tree_free(old_sub);
	git_treebuilder_free(sub);
	git_treebuilder_free(root);
	return error;
}

/* A notes commit on `parent` (may be NULL) with puts[0..count) added. */
static int write_notes_commit(git_oid *out, git_repository *repo,
                              git_commit *parent, const git_signature *sig,
                              const struct put *puts, size_t count)
{
	git_tree *base = NULL, *tree = NULL;
	git_oid tree_oid;
	int error;

	if ((parent && (error = git_commit_tree(&base, parent)) < 0) ||
	    (error = notes_tree_put(&tree_oid, repo, base, puts, count)) < 0 ||
	    (error = git_tree_lookup(&tree, repo, &tree_oid)) < 0)
		goto done;
	error = git_commit_create(out, repo, NULL, sig, sig, NULL,
	                          "Notes added by 'git orchestrate'\n", tree,
	                          parent ? 1 : 0, (const git_commit **)&parent);
done:
	git_tree_free(tree);
	git_tree_free(base);
	return error;
}

int orch_notes_set_each(orch_store *store, const git_oid *commits,
                        const char *const *texts, size_t count)
{
	git_repository *repo = orch_store_repo(store);
	git_signature *sig = NULL;
	git_commit *parent = NULL;
	git_reference *ref = NULL;
	git_oid parent_oid, notes_commit, zero = {{0}};
	struct put *puts;
	int error = 0;

	if (!count)
		return 0;
	puts = orch_calloc(count, sizeof(*puts));
	/* the blobs once, whatever the tries below */
	for (size_t i = 0; i < count && !error; i++) {
		git_oid_tostr(puts[i].hex, sizeof(puts[i].hex), &commits[i]);
		error = git_blob_create_from_buffer(&puts[i].blob, repo,
		                                    texts[i], strlen(texts[i]));
	}
	if (error < 0) {
		error = orch_error_git(error, "cannot write the note");
		goto done;
	}
	qsort(puts, count, sizeof(*puts), put_cmp);
	if ((error = orch_signature_default(&sig, repo)) < 0)
		goto done;
	for (int tries = 0; tries < ORCH_STORE_CAS_TRIES; tries++) {
		git_commit_free(parent);
		parent = NULL;
		error =
		    git_reference_name_to_id(&parent_oid, repo, ORCH_NOTES_REF);
		if (error == 0)
			error = git_commit_lookup(&parent, repo, &parent_oid);
		if (error < 0 && error != GIT_ENOTFOUND) {
			error = orch_error_git(error, "cannot read '%s'",
			                       ORCH_NOTES_REF);
			goto done;
		}
		/* a notes commit off the head we read; the ref moves only by
		 * CAS */
		if ((error = write_notes_commit(&notes_commit, repo, parent,
		                                sig, puts, count)) < 0) {
			error = orch_error_git(error, "cannot write the note");
			goto done;
		}
		orch_store_keep_ref(store, ORCH_NOTES_REF);
		error = git_reference_create_matching(
		    &ref, repo, ORCH_NOTES_REF, &notes_commit, parent ? 1 : 0,
		    parent ? &parent_oid : &zero, "notes: orchestrate");
		git_reference_free(ref);
		ref = NULL;
		if (!orch_store_is_race(error) && error != GIT_ENOTFOUND)
			break;
		if (error == GIT_ELOCKED)
			orch_store_clear_stale_lock(store, ORCH_NOTES_REF);
		orch_store_backoff(store, tries);
	}
	if (orch_store_is_race(error) || error == GIT_ENOTFOUND) {
		orch_error_set("cannot add a note: '%s' kept changing",
		               ORCH_NOTES_REF);
		error = ORCH_EMODIFIED;
	} else if (error < 0) {
		error =
		    orch_error_git(error, "cannot update '%s'", ORCH_NOTES_REF);
	} else {
		orch_store_pack_some(store);
	}
done:
	git_commit_free(parent);
	git_signature_free(sig);
	free(puts);
	return error;
}

int orch_notes_set(orch_store *store, const git_oid *commit, const char *text)
{
	return orch_notes_set_each(store, commit, &text, 1);
}

int orch_notes_read(char **out, orch_store *store, const git_oid *commit)
{
	git_note *note = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int error;

	*out = NULL;
	if ((error = git_note_read(&note, orch_store_repo(store),
	                           ORCH_NOTES_REF, commit)) < 0) {
		git_oid_tostr(hex, sizeof(hex), commit);
		if (error == GIT_ENOTFOUND) {
			orch_error_set("commit %s has no note in %s", hex,
			               ORCH_NOTES_REF);
			return ORCH_ENOTFOUND;
		}
		return orch_error_git(error, "cannot read the note of %s", hex);
	}
	*out = orch_strdup(git_note_message(note));
	git_note_free(note);
	return 0;
}

struct durations {
	int64_t *values;
	size_t count, alloc;
};

struct learn_ctx {
	orch_store *store;
	const orch_plan *plan;
	struct durations *per_task;
	int error;
};

/* The value of `key: value` line `line` (len bytes), trimmed, or NULL. */
static const char *line_value(size_t *out_len, const char *line, size_t len,
                              const char *key)
{
	size_t klen = strlen(key);
	const char *value, *end = line + len;

	if (len <= klen || strncmp(line, key, klen) || line[klen] != ':')
		return NULL;
	value = line + klen + 1;
	while (value < end && (*value == ' ' || *value == '\t'))
		value++;
	while (end > value &&
	       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*out_len = (size_t)(end - value);
	return value;
}

static int learn_note(const git_oid *blob_id, const git_oid *annotated,
                      void *payload)
{
	struct learn_ctx *ctx = payload;
	orch_buf text = {0}, task = {0};
	int64_t duration = -1;
	const char *p;
	long pos;

	(void)annotated;
	if ((ctx->error = orch_store_read_blob(
	         &text, orch_store_repo(ctx->store), blob_id, "a note")) < 0)
		return -1;
	for (p = text.ptr; p && *p;) {
		size_t len = strcspn(p, "\n"), vlen;
		const char *value;
		if ((value = line_value(&vlen, p, len, "task"))) {
			orch_buf_clear(&task);
			orch_buf_put(&task, value, vlen);
		} else if ((value = line_value(&vlen, p, len, "duration-ms")) &&
		           vlen > 0 && vlen < 20) {
			char number[24], *end;
			long long ms;
			memcpy(number, value, vlen);
			number[vlen] = '\0';
			ms = strtoll(number, &end, 10);
			if (!*end && ms >= 0)
				duration = ms;
		}
		p += len;
		if (*p)
			p++;
	}
	if (task.len && duration >= 0 &&
	    (pos = orch_plan_find(ctx->plan, task.ptr)) >= 0) {
		struct durations *d = &ctx->per_task[pos];
		if (d->count == d->alloc) {
			d->alloc = d->alloc ? d->alloc * 2 : 4;
			d->values = orch_realloc(d->values,
			                         d->alloc * sizeof(*d->values));
		}
		d->values[d->count++] = duration;
	}
	orch_buf_free(&text);
	orch_buf_free(&task);
	return 0;
}

static int int64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int orch_notes_learned_durations(int64_t *durations, orch_store *store,
                                 const orch_plan *plan)
{
	struct learn_ctx ctx = {store, plan, NULL, 0};
	int error;

	for (size_t i = 0; i < plan->ntasks; i++)
		durations[i] = -1;
	ctx.per_task = orch_calloc(plan->ntasks + 1, sizeof(*ctx.per_task));
	error = git_note_foreach(orch_store_repo(store), ORCH_NOTES_REF,
	                         learn_note, &ctx);
	if (error == GIT_ENOTFOUND) {
		error = 0; /* no notes yet */
	} else if (error < 0) {
		error = ctx.error < 0 ? ctx.error
		                      : orch_error_git(error, "cannot read %s",
		                                       ORCH_NOTES_REF);
		goto done;
	}
	/* the median; of an even count, the mean of the two middle values */
	for (size_t i = 0; i < plan->ntasks; i++) {
		struct durations *d = &ctx.per_task[i];
		if (!d->count)
			continue;
		qsort(d->values, d->count, sizeof(*d->values), int64_cmp);
		if (d->count % 2)
			durations[i] = d->values[d->count / 2];
		else
			durations[i] = (d->values[d->count / 2 - 1] +
			                d->values[d->count / 2]) /
			               2;
	}
done:
	for (size_t i = 0; i < plan->ntasks; i++)
		free(ctx.per_task[i].values);
	free(ctx.per_task);
	return error;
}
