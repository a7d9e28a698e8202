#include "shared.h"
#include "error.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHARED_DIR "shared"

void orch_findings_clear(orch_findings *findings)
{
	for (size_t i = 0; i < findings->count; i++) {
		free(findings->items[i].task);
		free(findings->items[i].worker);
		free(findings->items[i].text);
	}
	free(findings->items);
	findings->items = NULL;
	findings->count = 0;
}

/* A line of blanks only (or none): it separates findings. */
static int blank_line(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return 0;
	return 1;
}

int orch_shared_split(orch_strvec *out, const char *bytes, size_t len,
                      const char *what)
{
	const char *p = bytes, *end = bytes + len, *start = NULL, *last = NULL;

	if (len > ORCH_SHARED_MAX) {
		orch_error_set(
		    "%s holds %zu bytes, more than the %d an attempt "
		    "may share; none of it is stored",
		    what, len, ORCH_SHARED_MAX);
		return ORCH_EINVALID;
	}
	if (len && memchr(bytes, '\0', len)) {
		orch_error_set("%s holds a NUL byte; none of it is stored",
		               what);
		return ORCH_EINVALID;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if (blank_line(p, (size_t)(eol - p))) {
			if (start)
				orch_strvec_push_take(
				    out, orch_strndup(start,
				                      (size_t)(last - start)));
			start = NULL;
		} else {
			if (!start)
				start = p;
			last = eol;
		}
		p = nl ? nl + 1 : end;
	}
	if (start)
		orch_strvec_push_take(
		    out, orch_strndup(start, (size_t)(last - start)));
	return 0;
}

int orch_shared_append(const char *path, const char *text)
{
	size_t len = strlen(text);
	const char *p, *end;
	struct stat st;
	orch_buf finding = {0};
	int fd = -1, error = 0;

	while (len && text[len - 1] == '\n')
		len--;
	for (p = text, end = text + len; p <= end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if (blank_line(p, (size_t)(eol - p))) {
			if (!len) {
				orch_error_set("the finding is empty");
				return ORCH_EINVALID;
			}
			orch_error_set("the finding holds a blank line: it "
			               "would be two findings");
			orch_error_hint("share each paragraph as a finding of "
			                "its own");
			return ORCH_EINVALID;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	/* a blank line after it: findings are paragraphs */
	orch_buf_put(&finding, text, len);
	orch_buf_puts(&finding, "\n\n");
	if ((fd = open(path, O_WRONLY | O_APPEND)) < 0) {
		error = orch_error_os("cannot open the share file '%s'", path);
		orch_error_hint("run it from a task's command while the task "
		                "runs");
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		error = orch_error_os("cannot read '%s'", path);
		goto done;
	}
	if ((size_t)st.st_size + finding.len > ORCH_SHARED_MAX) {
		orch_error_set("the finding (%zu bytes) would grow the share "
		               "file '%s' (%lld bytes) over the %d bytes an "
		               "attempt may share",
		               len, path, (long long)st.st_size,
		               ORCH_SHARED_MAX);
		orch_error_hint("share less: a summary, or a path in the "
		                "repository");
		error = ORCH_EINVALID;
		goto done;
	}
	if (orch_write_all(fd, finding.ptr, finding.len) < 0) {
		error = orch_error_os("cannot write '%s'", path);
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		error = orch_error_os("cannot write '%s'", path);
		goto done;
	}
	fd = -1;
done:
	if (fd >= 0)
		close(fd);
	orch_buf_free(&finding);
	return error;
}

static int shared_path(char *out, size_t outlen, const orch_plan *plan,
                       const char *id)
{
	int len;

	if (plan->ntasks > ORCH_STORE_FLAT_MAX)
		len = snprintf(
		    out, outlen, SHARED_DIR "/%02x/%s.json",
		    (unsigned)(orch_hash_fnv1a(id, strlen(id)) & 0xff), id);
	else
		len = snprintf(out, outlen, SHARED_DIR "/%s.json", id);
	if (len < 0 || (size_t)len >= outlen)
		return orch_error_set("path of task '%s' is too long", id);
	return 0;
}

/* Parse one stored line into *out (zeroed first). */
static int parse_finding(orch_finding *out, const char *line, size_t len,
                         const char *path)
{
	cJSON *json = NULL;
	int64_t attempt = 0;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = orch_json_parse_object(&json, line, len, path)) < 0 ||
	    (error = orch_json_get_string(&out->task, json, "task", path)) <
	        0 ||
	    (error = orch_json_get_int64(&attempt, json, "attempt", path)) <
	        0 ||
	    (error = orch_json_get_string(&out->worker, json, "worker", path)) <
	        0 ||
	    (error = orch_json_get_int64(&out->time_ms, json, "time", path)) <
	        0 ||
	    (error = orch_json_get_string(&out->text, json, "text", path)) < 0)
		goto done;
	if (!out->task || !out->text) {
		error =
		    orch_error_set("%s: a finding without task or text", path);
		goto done;
	}
	out->attempt = (int)attempt;
done:
	cJSON_Delete(json);
	if (error < 0) {
		free(out->task);
		free(out->worker);
		free(out->text);
		memset(out, 0, sizeof(*out));
	}
	return error;
}

/* Append the findings of one shared/ file to *out. */
static int parse_file(orch_findings *out, const char *bytes, size_t len,
                      const char *path)
{
	const char *p = bytes, *end = bytes + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n) {
			orch_finding f;
			int error = parse_finding(&f, p, n, path);
			if (error < 0)
				return error;
			out->items = orch_realloc(
			    out->items, (out->count + 1) * sizeof(*out->items));
			out->items[out->count++] = f;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int orch_shared_put(size_t *out_added, orch_txn *txn, const char *task,
                    int attempt, const char *worker, int64_t now_ms,
                    const orch_strvec *texts)
{
	char path[512];
	orch_buf file = {0};
	orch_findings stored = {0};
	int error;

	if (out_added)
		*out_added = 0;
	if (!texts || !texts->count)
		return 0;
	if ((error =
	         shared_path(path, sizeof(path), orch_txn_plan(txn), task)) < 0)
		goto done;
	error = orch_txn_read_file(&file, txn, path);
	if (error == ORCH_ENOTFOUND)
		error = 0;
	if (error < 0 ||
	    (error = parse_file(&stored, file.ptr, file.len, path)) < 0)
		goto done;
	for (size_t i = 0; i < stored.count; i++)
		if (stored.items[i].attempt == attempt)
			goto done; /* collected before */
	if (file.len && file.ptr[file.len - 1] != '\n')
		orch_buf_puts(&file, "\n");
	for (size_t i = 0; i < texts->count; i++) {
		cJSON *json = cJSON_CreateObject();
		char *line;
		orch_json_add_string(json, "task", task);
		orch_json_add_number(json, "attempt", attempt);
		orch_json_add_string(json, "worker", worker);
		orch_json_add_number(json, "time", now_ms);
		orch_json_add_string(json, "text", texts->items[i]);
		line = orch_json_print(json);
		cJSON_Delete(json);
		if (!line)
			abort();
		orch_buf_puts(&file, line);
		free(line);
	}
	if ((error = orch_txn_put_file(txn, path, file.ptr, file.len)) < 0)
		goto done;
	if (out_added)
		*out_added = texts->count;
done:
	orch_findings_clear(&stored);
	orch_buf_free(&file);
	return error;
}

/* Read every blob under `tree` (recursively: fanned-out plans). */
static int read_tree(orch_findings *out, git_repository *repo,
                     const git_tree *tree, const char *dir)
{
	int error = 0;

	for (size_t i = 0; i < git_tree_entrycount(tree) && !error; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		orch_buf path = {0};
		git_tree *sub = NULL;

		orch_buf_printf(&path, "%s/%s", dir, git_tree_entry_name(e));
		if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
			if ((error = git_tree_lookup(&sub, repo,
			                             git_tree_entry_id(e))) < 0)
				error = orch_error_git(
				    error, "cannot read '%s'", path.ptr);
			else
				error = read_tree(out, repo, sub, path.ptr);
		} else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
			git_blob *blob = NULL;
			if ((error = git_blob_lookup(&blob, repo,
			                             git_tree_entry_id(e))) < 0)
				error = orch_error_git(
				    error, "cannot read '%s'", path.ptr);
			else
				error = parse_file(
				    out, git_blob_rawcontent(blob),
				    (size_t)git_blob_rawsize(blob), path.ptr);
			git_blob_free(blob);
		}
		git_tree_free(sub);
		orch_buf_free(&path);
	}
	return error;
}

static int finding_cmp(const void *a, const void *b)
{
	const orch_finding *x = a, *y = b;
	int c;

	if (x->time_ms != y->time_ms)
		return x->time_ms < y->time_ms ? -1 : 1;
	if ((c = strcmp(x->task, y->task)))
		return c;
	if (x->attempt != y->attempt)
		return x->attempt < y->attempt ? -1 : 1;
	/* as stored: qsort is not stable, the address keeps the order */
	return x < y ? -1 : x > y;
}

/*
 * The findings of plan `plan` at its head into *out, unless its shared/
 * tree is `*seen` (may be NULL): then ORCH_ENOCHANGE. *seen gets the tree
 * (zero when there is none).
 */
static int read_findings(orch_findings *out, git_oid *seen, orch_store *store,
                         const char *plan)
{
	git_repository *repo = orch_store_repo(store);
	git_commit *commit = NULL;
	git_tree *root = NULL, *dir = NULL;
	git_tree_entry *entry = NULL;
	char refname[512];
	git_oid head, none;
	int error;

	memset(out, 0, sizeof(*out));
	memset(&none, 0, sizeof(none));
	if ((error = orch_store_plan_ref(refname, sizeof(refname), store,
	                                 plan)) < 0)
		goto done;
	if ((error = git_reference_name_to_id(&head, repo, refname)) < 0 ||
	    (error = git_commit_lookup(&commit, repo, &head)) < 0 ||
	    (error = git_commit_tree(&root, commit)) < 0) {
		error = orch_error_git(error, "cannot read plan '%s'", plan);
		goto done;
	}
	error = git_tree_entry_bypath(&entry, root, SHARED_DIR);
	if (error == GIT_ENOTFOUND ||
	    (!error && git_tree_entry_type(entry) != GIT_OBJECT_TREE)) {
		git_error_clear();
		error = seen && git_oid_equal(seen, &none) ? ORCH_ENOCHANGE : 0;
		if (seen)
			git_oid_cpy(seen, &none);
		goto done;
	}
	if (!error && seen) {
		if (git_oid_equal(seen, git_tree_entry_id(entry))) {
			error = ORCH_ENOCHANGE;
			goto done;
		}
		git_oid_cpy(seen, git_tree_entry_id(entry));
	}
	if (error < 0 || (error = git_tree_lookup(
	                      &dir, repo, git_tree_entry_id(entry))) < 0) {
		error = orch_error_git(error, "cannot read '%s' of plan '%s'",
		                       SHARED_DIR, plan);
		goto done;
	}
	if ((error = read_tree(out, repo, dir, SHARED_DIR)) < 0)
		goto done;
	if (out->count)
		qsort(out->items, out->count, sizeof(*out->items), finding_cmp);
done:
	if (error < 0)
		orch_findings_clear(out);
	if (error < 0 && error != ORCH_ENOCHANGE && seen)
		git_oid_cpy(seen, &none);
	git_tree_entry_free(entry);
	git_tree_free(dir);
	git_tree_free(root);
	git_commit_free(commit);
	return error;
}

int orch_shared_read(orch_findings *out, orch_store *store, const char *plan)
{
	return read_findings(out, NULL, store, plan);
}

int orch_shared_context(const char **out, orch_shared_cache *cache,
                        orch_store *store, const char *plan)
{
	orch_findings findings;
	orch_buf text = {0};
	int error;

	*out = NULL;
	error = read_findings(&findings, &cache->tree, store, plan);
	if (error == ORCH_ENOCHANGE && cache->valid) {
		*out = cache->text;
		return 0;
	}
	if (error == ORCH_ENOCHANGE) /* no shared/ yet: no findings */
		error = 0;
	if (error < 0) {
		cache->valid = 0;
		return error;
	}
	orch_shared_format_context(&text, plan, &findings);
	orch_findings_clear(&findings);
	free(cache->text);
	cache->text = orch_buf_detach(&text);
	cache->valid = 1;
	*out = cache->text;
	return 0;
}

void orch_shared_cache_clear(orch_shared_cache *cache)
{
	free(cache->text);
	memset(cache, 0, sizeof(*cache));
}

/* 1 when the lines of `text` hold `line` (len bytes) as one of them. */
static int has_line(const char *text, size_t text_len, const char *line,
                    size_t len)
{
	const char *p = text, *end = text + text_len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n == len && !memcmp(p, line, len))
			return 1;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

void orch_shared_union(orch_buf *out, const char *first, size_t first_len,
                       const char *second, size_t second_len)
{
	const char *p = second, *end = second + second_len;

	orch_buf_put(out, first, first_len);
	if (first_len && first[first_len - 1] != '\n')
		orch_buf_puts(out, "\n");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n && !has_line(first, first_len, p, n)) {
			orch_buf_put(out, p, n);
			orch_buf_puts(out, "\n");
		}
		p = nl ? nl + 1 : end;
	}
}

void orch_shared_format_context(orch_buf *out, const char *plan,
                                const orch_findings *findings)
{
	if (!findings->count)
		return;
	orch_buf_printf(out, "# Findings shared by tasks of plan %s so far\n",
	                plan);
	for (size_t i = 0; i < findings->count; i++) {
		const orch_finding *f = &findings->items[i];
		orch_buf_printf(out, "\n## %s, attempt %d", f->task,
		                f->attempt);
		if (f->worker)
			orch_buf_printf(out, " (on %s)", f->worker);
		orch_buf_printf(out, "\n\n%s\n", f->text);
	}
}
