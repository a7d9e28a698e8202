/*
 * The states cache: the parsed task states of a plan's tasks tree, kept
 * beside the repository in $GIT_COMMON_DIR/orchestrate/cache/<plan>.states,
 * so that a reader of the whole plan (status, plans) does not inflate and
 * parse 10,000 state blobs each time: after a run, those are most of the
 * time of `status` (each blob its own zlib stream, its own JSON).
 *
 * It is only ever a copy. An entry says which tasks tree it was made from
 * (the tree's id names every state blob in it) and for which list of task
 * ids; it is used only when both are those being read, else the tree is
 * read as without it, and the cache written again. The file is written
 * under another name and renamed into place, and it ends with a checksum
 * of what comes before: a torn or damaged file is not used. Removing it
 * at any time loses nothing.
 *
 * Format (native byte order, this machine's own file):
 *   "ORCHSTS1", u32 byte-order mark, tasks tree id (20 bytes), u64 hash of
 *   the task ids, u32 number of tasks, u32 number of records; each record:
 *   u32 task position, the task's id, then its state (below); u64
 *   checksum of all the bytes before. Strings are u32 length + 1 (0 for
 *   none) and their bytes; lists a u32 count and their strings.
 *
 * When a field is added to orch_task_state, it must be added to put_state
 * and get_state here, and CACHE_MAGIC changed so old files are not used.
 */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "ORCHSTS1"
#define CACHE_BOM 0x01020304u
/* A file larger than this is not one of ours. */
#define CACHE_MAX_BYTES (1u << 30)

/*
 * The file's checksum: FNV-1a's step on 8 bytes at a time, with a shift
 * to carry the high bits down; the cache is megabytes, read by every
 * status.
 */
static uint64_t checksum(const void *bytes, size_t len)
{
	const unsigned char *p = bytes;
	uint64_t hash = 14695981039346656037ull, word;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&word, p + i, 8);
		hash = (hash ^ word) * 1099511628211ull;
		hash ^= hash >> 29;
	}
	for (; i < len; i++)
		hash = (hash ^ p[i]) * 1099511628211ull;
	return hash;
}

uint64_t orch_states_cache_ids_hash(const orch_plan *plan)
{
	uint64_t hash = 14695981039346656037ull;

	for (size_t i = 0; i < plan->ntasks; i++) {
		const unsigned char *p =
		    (const unsigned char *)plan->tasks[i].id;
		for (; *p; p++) {
			hash ^= *p;
			hash *= 1099511628211ull;
		}
		hash *= 1099511628211ull; /* the NUL between ids */
	}
	return hash;
}

/* ---- writing ------------------------------------------------------------ */

static void put_u32(orch_buf *out, uint32_t value)
{
	orch_buf_put(out, &value, sizeof(value));
}

static void put_i64(orch_buf *out, int64_t value)
{
	orch_buf_put(out, &value, sizeof(value));
}

static void put_str(orch_buf *out, const char *text)
{
	size_t len = text ? strlen(text) : 0;

	put_u32(out, text ? (uint32_t)len + 1 : 0);
	if (text)
		orch_buf_put(out, text, len);
}

static void put_strvec(orch_buf *out, const orch_strvec *list)
{
	put_u32(out, (uint32_t)list->count);
	for (size_t i = 0; i < list->count; i++)
		put_str(out, list->items[i]);
}

static void put_state(orch_buf *out, const orch_task_state *st)
{
	put_u32(out, (uint32_t)st->state);
	put_u32(out, (uint32_t)st->attempts);
	put_u32(out, (uint32_t)st->interrupted);
	put_u32(out, (uint32_t)st->exit_status);
	put_u32(out, (uint32_t)st->reruns);
	put_i64(out, st->started_ms);
	put_i64(out, st->ended_ms);
	put_i64(out, st->duration_ms);
	put_i64(out, st->not_before_ms);
	put_i64(out, st->first_started_ms);
	put_i64(out, st->attempts_ms);
	put_i64(out, st->cpu_ms);
	put_i64(out, st->max_rss_kb);
	put_str(out, st->worker);
	put_str(out, st->commit);
	put_str(out, st->base);
	put_str(out, st->error);
	put_str(out, st->worktree);
	put_str(out, st->rerun_base);
	put_strvec(out, &st->paths);
	put_strvec(out, &st->rerun_paths);
	put_strvec(out, &st->workers_tried);
}

static char *cache_path(git_repository *repo, const char *plan,
                        const char *suffix)
{
	orch_buf path = {0};

	orch_buf_printf(&path, "%sorchestrate/cache/%s.states%s",
	                git_repository_commondir(repo), plan, suffix);
	return orch_buf_detach(&path);
}

/* Make the directory of `path` (and its parent); 0 or -1. */
static int make_dirs(const char *path)
{
	char *dir = orch_strdup(path);
	char *slash = strrchr(dir, '/');
	int error = 0;

	if (slash) {
		*slash = '\0';
		if (mkdir(dir, 0777) < 0 && errno == ENOENT) {
			char *up = strrchr(dir, '/');
			if (up) {
				*up = '\0';
				if (mkdir(dir, 0777) < 0 && errno != EEXIST)
					error = -1;
				*up = '/';
			}
			if (!error && mkdir(dir, 0777) < 0 && errno != EEXIST)
				error = -1;
		}
	}
	free(dir);
	return error;
}

void orch_states_cache_write(git_repository *repo, const char *plan_name,
                             const orch_plan *plan, const git_oid *tasks,
                             const orch_task_state *states,
                             const unsigned char *have)
{
	orch_buf out = {0};
	char *path = NULL, *tmp = NULL, suffix[32];
	uint32_t nrecords = 0;
	size_t count_at;
	uint64_t sum;
	int fd = -1, ok = 0;

	orch_buf_put(&out, CACHE_MAGIC, 8);
	put_u32(&out, CACHE_BOM);
	orch_buf_put(&out, tasks->id, GIT_OID_RAWSZ);
	sum = orch_states_cache_ids_hash(plan);
	orch_buf_put(&out, &sum, sizeof(sum));
	put_u32(&out, (uint32_t)plan->ntasks);
	count_at = out.len;
	put_u32(&out, 0);
	for (size_t i = 0; i < plan->ntasks; i++) {
		if (!have[i])
			continue;
		put_u32(&out, (uint32_t)i);
		put_str(&out, plan->tasks[i].id);
		put_state(&out, &states[i]);
		nrecords++;
	}
	memcpy(out.ptr + count_at, &nrecords, sizeof(nrecords));
	sum = checksum(out.ptr, out.len);
	orch_buf_put(&out, &sum, sizeof(sum));

	snprintf(suffix, sizeof(suffix), ".%ld.tmp", (long)getpid());
	path = cache_path(repo, plan_name, "");
	tmp = cache_path(repo, plan_name, suffix);
	if (make_dirs(path) < 0 ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) <
	        0)
		goto done;
	if (orch_write_all(fd, out.ptr, out.len) < 0)
		goto done;
	if (close(fd) < 0) {
		fd = -1;
		goto done;
	}
	fd = -1;
	ok = rename(tmp, path) == 0;
done:
	/* a cache that cannot be written is only not there */
	if (fd >= 0)
		close(fd);
	if (!ok && tmp)
		unlink(tmp);
	free(path);
	free(tmp);
	orch_buf_free(&out);
}

void orch_states_cache_remove(git_repository *repo, const char *plan_name)
{
	char *path = cache_path(repo, plan_name, "");

	unlink(path);
	free(path);
}

/* ---- reading ------------------------------------------------------------ */

struct reader {
	const unsigned char *p, *end;
	int bad;
};

static void get_bytes(struct reader *r, void *out, size_t len)
{
	if (r->bad || (size_t)(r->end - r->p) < len) {
		r->bad = 1;
		memset(out, 0, len);
		return;
	}
	memcpy(out, r->p, len);
	r->p += len;
}

static uint32_t get_u32(struct reader *r)
{
	uint32_t value;

	get_bytes(r, &value, sizeof(value));
	return value;
}

static int64_t get_i64(struct reader *r)
{
	int64_t value;

	get_bytes(r, &value, sizeof(value));
	return value;
}

/* A string of the file, borrowed; NULL for none (or when damaged). */
static const char *peek_str(struct reader *r, size_t *len)
{
	uint32_t n = get_u32(r);
	const char *text;

	*len = 0;
	if (r->bad || n == 0)
		return NULL;
	if ((size_t)(r->end - r->p) < n - 1) {
		r->bad = 1;
		return NULL;
	}
	text = (const char *)r->p;
	*len = n - 1;
	r->p += n - 1;
	return text;
}

static char *get_str(struct reader *r)
{
	size_t len;
	const char *text = peek_str(r, &len);

	return text ? orch_strndup(text, len) : NULL;
}

static void get_strvec(struct reader *r, orch_strvec *out)
{
	uint32_t n = get_u32(r);

	for (uint32_t i = 0; i < n && !r->bad; i++) {
		char *item = get_str(r);
		if (!item) {
			r->bad = 1;
			break;
		}
		orch_strvec_push_take(out, item);
	}
}

static void get_state(struct reader *r, orch_task_state *st)
{
	uint32_t state = get_u32(r);

	orch_task_state_clear(st);
	st->state =
	    state < ORCH_STATE__COUNT ? (orch_state)state : ORCH_STATE_PENDING;
	if (state >= ORCH_STATE__COUNT)
		r->bad = 1;
	st->attempts = (int)get_u32(r);
	st->interrupted = (int)get_u32(r);
	st->exit_status = (int)get_u32(r);
	st->reruns = (int)get_u32(r);
	st->started_ms = get_i64(r);
	st->ended_ms = get_i64(r);
	st->duration_ms = get_i64(r);
	st->not_before_ms = get_i64(r);
	st->first_started_ms = get_i64(r);
	st->attempts_ms = get_i64(r);
	st->cpu_ms = get_i64(r);
	st->max_rss_kb = get_i64(r);
	st->worker = get_str(r);
	st->commit = get_str(r);
	st->base = get_str(r);
	st->error = get_str(r);
	st->worktree = get_str(r);
	st->rerun_base = get_str(r);
	get_strvec(r, &st->paths);
	get_strvec(r, &st->rerun_paths);
	get_strvec(r, &st->workers_tried);
}

/* The whole file into *out; 0, or -1 when there is none to use. */
static int read_whole(orch_buf *out, const char *path)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC), error = -1;

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > CACHE_MAX_BYTES)
		goto done;
	orch_buf_grow(out, (size_t)sb.st_size);
	for (;;) {
		ssize_t n;
		orch_buf_grow(out, 65536);
		n = read(fd, out->ptr + out->len, out->alloc - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto done;
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->ptr[out->len] = '\0';
	}
	error = 0;
done:
	close(fd);
	return error;
}

int orch_states_cache_read(orch_task_state *states, unsigned char *have,
                           git_repository *repo, const char *plan_name,
                           const orch_plan *plan, const git_oid *tasks)
{
	orch_buf file = {0};
	struct reader r;
	char *path = cache_path(repo, plan_name, "");
	unsigned char oid[GIT_OID_RAWSZ];
	char magic[8];
	uint64_t sum, ids;
	uint32_t nrecords;
	int hit = 0;

	if (read_whole(&file, path) < 0 || file.len < 8 + sizeof(sum))
		goto done;
	memcpy(&sum, file.ptr + file.len - sizeof(sum), sizeof(sum));
	if (sum != checksum(file.ptr, file.len - sizeof(sum)))
		goto done;
	r.p = (const unsigned char *)file.ptr;
	r.end = r.p + file.len - sizeof(sum);
	r.bad = 0;
	get_bytes(&r, magic, sizeof(magic));
	if (memcmp(magic, CACHE_MAGIC, 8) || get_u32(&r) != CACHE_BOM)
		goto done;
	get_bytes(&r, oid, sizeof(oid));
	get_bytes(&r, &ids, sizeof(ids));
	if (r.bad || memcmp(oid, tasks->id, GIT_OID_RAWSZ) ||
	    get_u32(&r) != plan->ntasks ||
	    ids != orch_states_cache_ids_hash(plan))
		goto done;
	nrecords = get_u32(&r);
	for (uint32_t k = 0; k < nrecords && !r.bad; k++) {
		uint32_t at = get_u32(&r);
		size_t len;
		const char *id = peek_str(&r, &len);
		if (r.bad || at >= plan->ntasks || have[at] || !id ||
		    strlen(plan->tasks[at].id) != len ||
		    memcmp(plan->tasks[at].id, id, len)) {
			r.bad = 1;
			break;
		}
		get_state(&r, &states[at]);
		have[at] = 1;
	}
	hit = !r.bad && r.p == r.end;
	if (!hit) /* what was taken from it is read again */
		memset(have, 0, plan->ntasks);
done:
	free(path);
	orch_buf_free(&file);
	return hit;
}
