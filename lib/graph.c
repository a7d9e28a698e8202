#include "graph.h"
#include "error.h"
#include "glob.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Everything here is iterative and works on compact position arrays: plans
 * of 100,000 tasks and 500,000 edges must not blow the stack nor take
 * quadratic time anywhere a linear or n log n method exists.
 */

#define DEFAULT_DURATION_MS 60000

/* ---------------------------------------------------------------------- */
/* Binary heaps of task positions, ordered by a comparison callback.      */

typedef int (*heap_less_fn)(size_t a, size_t b, const void *payload);

typedef struct {
	size_t *items;
	size_t len;
	heap_less_fn less;
	const void *payload;
} pos_heap;

/* Room for `capacity` positions: no task is ever in one heap twice. */
static void heap_init(pos_heap *heap, size_t capacity, heap_less_fn less,
                      const void *payload)
{
	heap->items = orch_malloc((capacity ? capacity : 1) * sizeof(size_t));
	heap->len = 0;
	heap->less = less;
	heap->payload = payload;
}

static void heap_push(pos_heap *heap, size_t pos)
{
	size_t i = heap->len++;

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!heap->less(pos, heap->items[parent], heap->payload))
			break;
		heap->items[i] = heap->items[parent];
		i = parent;
	}
	heap->items[i] = pos;
}

static size_t heap_pop(pos_heap *heap)
{
	size_t top = heap->items[0];
	size_t last = heap->items[--heap->len];
	size_t i = 0;

	if (heap->len == 0)
		return top;
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= heap->len)
			break;
		if (child + 1 < heap->len &&
		    heap->less(heap->items[child + 1], heap->items[child],
		               heap->payload))
			child++;
		if (!heap->less(heap->items[child], last, heap->payload))
			break;
		heap->items[i] = heap->items[child];
		i = child;
	}
	heap->items[i] = last;
	return top;
}

static void heap_free(pos_heap *heap)
{
	free(heap->items);
	heap->items = NULL;
	heap->len = 0;
}

static int less_position(size_t a, size_t b, const void *payload)
{
	(void)payload;
	return a < b;
}

/* "FILE:LINE: " for a task when the plan knows where it came from. */
static void task_where(char *out, size_t outlen, const orch_plan *plan,
                       const orch_task *task)
{
	if (plan->source && task->line > 0)
		snprintf(out, outlen, "%s:%d: ", plan->source, task->line);
	else
		out[0] = '\0';
}

/* ---------------------------------------------------------------------- */
/* Building                                                                */

int orch_graph_build(orch_graph **out, const orch_plan *plan,
                     const int64_t *durations)
{
	orch_graph *graph = NULL;
	size_t *seen = NULL, *cursor = NULL;
	size_t n = plan->ntasks, nedges = 0, maxedges = 0, i, k;
	char where[1200];
	int error = 0;

	*out = NULL;
	for (i = 0; i < n; i++) {
		if (!plan->tasks[i].id) {
			orch_error_set("task %zu has no id", i + 1);
			error = ORCH_EINVALID;
			goto done;
		}
		/* the plan's index keeps the first of tasks sharing an id */
		if (orch_plan_find(plan, plan->tasks[i].id) != (long)i) {
			task_where(where, sizeof(where), plan, &plan->tasks[i]);
			orch_error_set("%sduplicate task id '%s'", where,
			               plan->tasks[i].id);
			error = ORCH_EINVALID;
			goto done;
		}
		maxedges += plan->tasks[i].depends.count;
	}

	graph = orch_calloc(1, sizeof(*graph));
	graph->n = n;
	graph->dep_start = orch_malloc((n + 1) * sizeof(size_t));
	graph->deps = orch_malloc((maxedges ? maxedges : 1) * sizeof(size_t));
	graph->rdep_start = orch_calloc(n + 1, sizeof(size_t));
	graph->duration = orch_malloc((n ? n : 1) * sizeof(int64_t));
	graph->priority = orch_malloc((n ? n : 1) * sizeof(int));

	/* seen[d] == i when task i already lists d: duplicates count once */
	seen = orch_malloc((n ? n : 1) * sizeof(size_t));
	for (i = 0; i < n; i++)
		seen[i] = SIZE_MAX;

	for (i = 0; i < n; i++) {
		const orch_task *task = &plan->tasks[i];

		graph->dep_start[i] = nedges;
		for (k = 0; k < task->depends.count; k++) {
			const char *name = task->depends.items[k];
			long dep = orch_plan_find(plan, name);

			if (dep < 0) {
				task_where(where, sizeof(where), plan, task);
				orch_error_set(
				    "%stask '%s' depends on unknown task '%s'",
				    where, task->id, name);
				error = ORCH_EINVALID;
				goto done;
			}
			if (seen[dep] == i)
				continue;
			seen[dep] = i;
			graph->deps[nedges++] = (size_t)dep;
			graph->rdep_start[dep + 1]++;
		}

		if (durations && durations[i] >= 0)
			graph->duration[i] = durations[i];
		else if (task->duration_ms >= 0)
			graph->duration[i] = task->duration_ms;
		else
			graph->duration[i] = DEFAULT_DURATION_MS;
		graph->priority[i] = (int)task->priority;
	}
	graph->dep_start[n] = nedges;

	/* reverse adjacency: dependents of each task, in plan order */
	for (i = 0; i < n; i++)
		graph->rdep_start[i + 1] += graph->rdep_start[i];
	graph->rdeps = orch_malloc((nedges ? nedges : 1) * sizeof(size_t));
	cursor = seen;
	memcpy(cursor, graph->rdep_start, n * sizeof(size_t));
	for (i = 0; i < n; i++)
		for (k = graph->dep_start[i]; k < graph->dep_start[i + 1]; k++)
			graph->rdeps[cursor[graph->deps[k]]++] = i;

done:
	free(seen);
	if (error < 0)
		orch_graph_free(graph);
	else
		*out = graph;
	return error;
}

void orch_graph_free(orch_graph *graph)
{
	if (!graph)
		return;
	free(graph->dep_start);
	free(graph->deps);
	free(graph->rdep_start);
	free(graph->rdeps);
	free(graph->duration);
	free(graph->priority);
	free(graph);
}

/* ---------------------------------------------------------------------- */
/* Cycles and orders                                                       */

enum { WHITE = 0, GREY = 1, BLACK = 2 };

int orch_graph_find_cycle(size_t **out_members, size_t *out_count,
                          const orch_graph *graph)
{
	size_t n = graph->n;
	unsigned char *color = NULL;
	size_t *stack = NULL, *next = NULL;
	size_t depth = 0, root;
	int error = 0;

	*out_members = NULL;
	*out_count = 0;
	if (n == 0)
		return 0;

	color = orch_calloc(n, 1);
	stack = orch_malloc(n * sizeof(size_t));
	next = orch_malloc(n * sizeof(size_t));

	/*
	 * Depth-first along "depends on" edges: the stack is always a chain
	 * in which each task depends on the next, so meeting a grey task
	 * closes a cycle made of the stack from that task up.
	 */
	for (root = 0; root < n; root++) {
		if (color[root] != WHITE)
			continue;
		color[root] = GREY;
		next[root] = graph->dep_start[root];
		stack[depth++] = root;

		while (depth > 0) {
			size_t v = stack[depth - 1];

			if (next[v] < graph->dep_start[v + 1]) {
				size_t w = graph->deps[next[v]++];

				if (color[w] == WHITE) {
					color[w] = GREY;
					next[w] = graph->dep_start[w];
					stack[depth++] = w;
				} else if (color[w] == GREY) {
					size_t from = depth - 1;
					while (stack[from] != w)
						from--;
					*out_count = depth - from;
					*out_members = orch_malloc(
					    *out_count * sizeof(size_t));
					memcpy(*out_members, stack + from,
					       *out_count * sizeof(size_t));
					orch_error_set(
					    "dependency cycle of %zu task%s",
					    *out_count,
					    *out_count == 1 ? "" : "s");
					error = ORCH_ECYCLE;
					goto done;
				}
			} else {
				color[v] = BLACK;
				depth--;
			}
		}
	}

done:
	free(color);
	free(stack);
	free(next);
	return error;
}

int orch_graph_topo_order(size_t *order, const orch_graph *graph)
{
	size_t n = graph->n, count = 0, i, k;
	size_t *indegree = NULL;
	pos_heap ready = {0};
	int error = 0;

	if (n == 0)
		return 0;
	indegree = orch_malloc(n * sizeof(size_t));
	heap_init(&ready, n, less_position, NULL);

	/* Kahn's algorithm; the lowest ready position first keeps plan order */
	for (i = 0; i < n; i++) {
		indegree[i] = graph->dep_start[i + 1] - graph->dep_start[i];
		if (indegree[i] == 0)
			heap_push(&ready, i);
	}
	while (ready.len > 0) {
		size_t v = heap_pop(&ready);

		order[count++] = v;
		for (k = graph->rdep_start[v]; k < graph->rdep_start[v + 1];
		     k++)
			if (--indegree[graph->rdeps[k]] == 0)
				heap_push(&ready, graph->rdeps[k]);
	}
	if (count < n) {
		orch_error_set("dependency cycle among %zu tasks", n - count);
		error = ORCH_ECYCLE;
	}

	free(indegree);
	heap_free(&ready);
	return error;
}

int orch_graph_levels(size_t *levels, size_t *out_nlevels,
                      const orch_graph *graph)
{
	size_t n = graph->n, nlevels = 0, i, k;
	size_t *order = NULL;
	int error = 0;

	*out_nlevels = 0;
	if (n == 0)
		return 0;
	order = orch_malloc(n * sizeof(size_t));
	if ((error = orch_graph_topo_order(order, graph)) < 0)
		goto done;

	for (i = 0; i < n; i++) {
		size_t v = order[i], level = 0;

		for (k = graph->dep_start[v]; k < graph->dep_start[v + 1]; k++)
			if (levels[graph->deps[k]] + 1 > level)
				level = levels[graph->deps[k]] + 1;
		levels[v] = level;
		if (level + 1 > nlevels)
			nlevels = level + 1;
	}
	*out_nlevels = nlevels;

done:
	free(order);
	return error;
}

int orch_graph_bottom_levels(int64_t *bottom, const orch_graph *graph)
{
	size_t n = graph->n, i, k;
	size_t *order = NULL;
	int error = 0;

	if (n == 0)
		return 0;
	order = orch_malloc(n * sizeof(size_t));
	if ((error = orch_graph_topo_order(order, graph)) < 0)
		goto done;

	for (i = n; i-- > 0;) {
		size_t v = order[i];
		int64_t rest = 0;

		for (k = graph->rdep_start[v]; k < graph->rdep_start[v + 1];
		     k++)
			if (bottom[graph->rdeps[k]] > rest)
				rest = bottom[graph->rdeps[k]];
		bottom[v] = graph->duration[v] + rest;
	}

done:
	free(order);
	return error;
}

/* The dependent of `v` with the longest bottom level (lowest position on ties).
 */
static size_t heaviest_dependent(const orch_graph *graph, const int64_t *bottom,
                                 size_t v)
{
	size_t best = SIZE_MAX;

	for (size_t k = graph->rdep_start[v]; k < graph->rdep_start[v + 1];
	     k++) {
		size_t w = graph->rdeps[k];
		if (best == SIZE_MAX || bottom[w] > bottom[best] ||
		    (bottom[w] == bottom[best] && w < best))
			best = w;
	}
	return best;
}

int orch_graph_critical_path(size_t **out_path, size_t *out_count,
                             int64_t *out_length_ms, const orch_graph *graph)
{
	size_t n = graph->n, first = 0, count = 0, v, i;
	int64_t *bottom = NULL;
	int error = 0;

	*out_path = NULL;
	*out_count = 0;
	*out_length_ms = 0;
	if (n == 0)
		return 0;
	bottom = orch_malloc(n * sizeof(int64_t));
	if ((error = orch_graph_bottom_levels(bottom, graph)) < 0)
		goto done;

	/*
	 * A dependency's bottom level is at least its dependent's, so the
	 * maximum is reached at a task without dependencies; prefer one.
	 */
	for (i = 1; i < n; i++)
		if (bottom[i] > bottom[first] ||
		    (bottom[i] == bottom[first] &&
		     graph->dep_start[first + 1] > graph->dep_start[first] &&
		     graph->dep_start[i + 1] == graph->dep_start[i]))
			first = i;

	for (v = first; v != SIZE_MAX; v = heaviest_dependent(graph, bottom, v))
		count++;
	*out_path = orch_malloc(count * sizeof(size_t));
	i = 0;
	for (v = first; v != SIZE_MAX; v = heaviest_dependent(graph, bottom, v))
		(*out_path)[i++] = v;
	*out_count = count;
	*out_length_ms = bottom[first];

done:
	free(bottom);
	return error;
}

int orch_graph_reaches(const orch_graph *graph, size_t from, size_t to)
{
	size_t n = graph->n, head = 0, tail = 0, k;
	unsigned char *visited;
	size_t *queue;
	int found = 0;

	if (from >= n || to >= n)
		return 0;
	visited = orch_calloc(n, 1);
	queue = orch_malloc(n * sizeof(size_t));

	/* breadth-first over dependents; stops at the first sight of `to` */
	queue[tail++] = from;
	while (head < tail && !found) {
		size_t v = queue[head++];

		for (k = graph->rdep_start[v]; k < graph->rdep_start[v + 1];
		     k++) {
			size_t w = graph->rdeps[k];
			if (w == to) {
				found = 1;
				break;
			}
			if (!visited[w]) {
				visited[w] = 1;
				queue[tail++] = w;
			}
		}
	}

	free(visited);
	free(queue);
	return found;
}

/* ---------------------------------------------------------------------- */
/* Overlapping files                                                       */

/*
 * Every path a glob matches starts with its literal lead: the components
 * before the first one with a wildcard, then the characters of that one
 * before its first wildcard ("src/mod1_" for "src/mod1_*.c", "api/x.c"
 * for itself). Two globs can only match a common path if one's lead is a
 * prefix of the other's. Sorted, each lead comes right before those it
 * prefixes, so one pass with a stack of enclosing leads visits only
 * compatible pairs. Identical globs are grouped so that each distinct
 * pair is tested once.
 */

typedef struct {
	size_t task;
	size_t index;        /* in the task's files */
	const char *pattern; /* borrowed from the plan */
	char *key;           /* literal lead, see above */
} file_entry;

typedef struct {
	size_t first, count; /* entries[first .. first + count) */
	orch_glob nfa;
} file_group;

typedef struct {
	size_t a, b;             /* a < b */
	size_t index_a, index_b; /* pattern indexes in each task */
	const char *pattern_a, *pattern_b;
	size_t source, target; /* the one that could depend on the other */
	int ordered;
} candidate;

/* 1 when every path under `key` also starts with `prefix`. */
static int key_covers(const char *prefix, const char *key)
{
	return !strncmp(prefix, key, strlen(prefix));
}

static int entry_cmp(const void *x, const void *y)
{
	const file_entry *a = x, *b = y;
	int cmp;

	if ((cmp = strcmp(a->key, b->key)) != 0)
		return cmp;
	if ((cmp = strcmp(a->pattern, b->pattern)) != 0)
		return cmp;
	if (a->task != b->task)
		return a->task < b->task ? -1 : 1;
	return a->index < b->index ? -1 : (a->index > b->index);
}

typedef struct {
	candidate *items;
	size_t count, alloc;
} candidate_vec;

static void candidate_add(candidate_vec *vec, const file_entry *x,
                          const file_entry *y)
{
	candidate *c;

	if (x->task == y->task)
		return;
	if (x->task > y->task) {
		const file_entry *swap = x;
		x = y;
		y = swap;
	}
	if (vec->count == vec->alloc) {
		vec->alloc = vec->alloc ? vec->alloc * 2 : 64;
		vec->items =
		    orch_realloc(vec->items, vec->alloc * sizeof(candidate));
	}
	c = &vec->items[vec->count++];
	memset(c, 0, sizeof(*c));
	c->a = x->task;
	c->b = y->task;
	c->index_a = x->index;
	c->index_b = y->index;
	c->pattern_a = x->pattern;
	c->pattern_b = y->pattern;
}

static int candidate_by_pair(const void *x, const void *y)
{
	const candidate *a = x, *b = y;

	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	if (a->b != b->b)
		return a->b < b->b ? -1 : 1;
	if (a->index_a != b->index_a)
		return a->index_a < b->index_a ? -1 : 1;
	return a->index_b < b->index_b ? -1 : (a->index_b > b->index_b);
}

static int candidate_by_source(const void *x, const void *y)
{
	const candidate *a = x, *b = y;

	if (a->source != b->source)
		return a->source < b->source ? -1 : 1;
	return candidate_by_pair(x, y);
}

/*
 * Mark the candidates of which one task depends on the other. Only the
 * task earlier in topological order can be depended on, so one bounded
 * breadth-first search per such task answers all its candidates: nothing
 * ranked after the farthest target needs visiting.
 */
static int mark_ordered(candidate *cands, size_t ncands,
                        const orch_graph *graph)
{
	size_t n = graph->n, i, k;
	size_t *order = NULL, *rank = NULL, *stamp = NULL, *queue = NULL;
	int error = 0;

	order = orch_malloc(n * sizeof(size_t));
	if ((error = orch_graph_topo_order(order, graph)) < 0)
		goto done;
	rank = orch_malloc(n * sizeof(size_t));
	for (i = 0; i < n; i++)
		rank[order[i]] = i;
	for (i = 0; i < ncands; i++) {
		candidate *c = &cands[i];
		c->source = rank[c->a] < rank[c->b] ? c->a : c->b;
		c->target = c->source == c->a ? c->b : c->a;
	}
	qsort(cands, ncands, sizeof(candidate), candidate_by_source);

	stamp = orch_calloc(n, sizeof(size_t));
	queue = orch_malloc(n * sizeof(size_t));
	for (i = 0; i < ncands;) {
		size_t source = cands[i].source, end = i, limit = 0;
		size_t head = 0, tail = 0;

		while (end < ncands && cands[end].source == source) {
			if (rank[cands[end].target] > limit)
				limit = rank[cands[end].target];
			end++;
		}
		if (graph->rdep_start[source] < graph->rdep_start[source + 1]) {
			queue[tail++] = source;
			while (head < tail) {
				size_t v = queue[head++];
				for (k = graph->rdep_start[v];
				     k < graph->rdep_start[v + 1]; k++) {
					size_t w = graph->rdeps[k];
					if (stamp[w] == source + 1 ||
					    rank[w] > limit)
						continue;
					stamp[w] = source + 1;
					queue[tail++] = w;
				}
			}
		}
		for (; i < end; i++)
			cands[i].ordered = stamp[cands[i].target] == source + 1;
	}

done:
	free(order);
	free(rank);
	free(stamp);
	free(queue);
	return error;
}

int orch_graph_overlaps(orch_overlap **out, size_t *out_count,
                        const orch_graph *graph, const orch_plan *plan)
{
	file_entry *entries = NULL;
	file_group *groups = NULL;
	size_t *stack = NULL;
	candidate_vec cands = {0};
	orch_glob_scratch scratch = {0};
	orch_overlap *result = NULL;
	size_t nentries = 0, maxentries = 0, ngroups = 0, depth = 0;
	size_t nresult = 0, i, j, k, g;
	int error = 0;

	*out = NULL;
	*out_count = 0;
	if (plan->ntasks != graph->n) {
		orch_error_set(
		    "graph of %zu tasks does not match a plan of %zu", graph->n,
		    plan->ntasks);
		error = ORCH_EINVALID;
		goto done;
	}
	for (i = 0; i < plan->ntasks; i++)
		maxentries += plan->tasks[i].files.count;
	if (maxentries == 0)
		goto done;

	entries = orch_malloc(maxentries * sizeof(file_entry));
	for (i = 0; i < plan->ntasks; i++) {
		const orch_strvec *files = &plan->tasks[i].files;
		for (k = 0; k < files->count; k++) {
			file_entry *e = &entries[nentries++];
			e->task = i;
			e->index = k;
			e->pattern = files->items[k];
			e->key = orch_glob_literal_lead(files->items[k]);
		}
	}
	qsort(entries, nentries, sizeof(file_entry), entry_cmp);

	groups = orch_calloc(nentries, sizeof(file_group));
	for (i = 0; i < nentries; i++) {
		if (i == 0 || strcmp(entries[i].key, entries[i - 1].key) ||
		    strcmp(entries[i].pattern, entries[i - 1].pattern)) {
			groups[ngroups].first = i;
			orch_glob_compile(&groups[ngroups].nfa,
			                  entries[i].pattern);
			ngroups++;
		}
		groups[ngroups - 1].count++;
	}

	stack = orch_malloc(ngroups * sizeof(size_t));
	for (g = 0; g < ngroups; g++) {
		const file_group *here = &groups[g];
		const file_entry *mine = &entries[here->first];

		while (depth > 0 &&
		       !key_covers(entries[groups[stack[depth - 1]].first].key,
		                   mine->key))
			depth--;
		for (k = 0; k < depth; k++) {
			const file_group *outer = &groups[stack[k]];
			const file_entry *theirs = &entries[outer->first];

			if (!orch_glob_intersect(&outer->nfa, &here->nfa,
			                         &scratch))
				continue;
			for (i = 0; i < outer->count; i++)
				for (j = 0; j < here->count; j++)
					candidate_add(&cands, &theirs[i],
					              &mine[j]);
		}
		if (here->count > 1 &&
		    orch_glob_intersect(&here->nfa, &here->nfa, &scratch))
			for (i = 0; i < here->count; i++)
				for (j = i + 1; j < here->count; j++)
					candidate_add(&cands, &mine[i],
					              &mine[j]);
		stack[depth++] = g;
	}
	if (cands.count == 0)
		goto done;

	/* one report per pair of tasks: their first overlapping globs */
	qsort(cands.items, cands.count, sizeof(candidate), candidate_by_pair);
	for (i = 0, j = 0; i < cands.count; i++)
		if (j == 0 || cands.items[i].a != cands.items[j - 1].a ||
		    cands.items[i].b != cands.items[j - 1].b)
			cands.items[j++] = cands.items[i];
	cands.count = j;

	if ((error = mark_ordered(cands.items, cands.count, graph)) < 0)
		goto done;
	qsort(cands.items, cands.count, sizeof(candidate), candidate_by_pair);

	for (i = 0; i < cands.count; i++)
		if (!cands.items[i].ordered)
			nresult++;
	if (nresult == 0)
		goto done;
	result = orch_malloc(nresult * sizeof(orch_overlap));
	for (i = 0, j = 0; i < cands.count; i++) {
		const candidate *c = &cands.items[i];
		if (c->ordered)
			continue;
		result[j].a = c->a;
		result[j].b = c->b;
		result[j].pattern_a = orch_strdup(c->pattern_a);
		result[j].pattern_b = orch_strdup(c->pattern_b);
		j++;
	}
	*out = result;
	*out_count = nresult;

done:
	for (i = 0; i < nentries; i++)
		free(entries[i].key);
	for (g = 0; g < ngroups; g++)
		orch_glob_free(&groups[g].nfa);
	free(entries);
	free(groups);
	free(stack);
	free(cands.items);
	orch_glob_scratch_free(&scratch);
	return error;
}

void orch_graph_overlaps_free(orch_overlap *overlaps, size_t count)
{
	if (!overlaps)
		return;
	for (size_t i = 0; i < count; i++) {
		free(overlaps[i].pattern_a);
		free(overlaps[i].pattern_b);
	}
	free(overlaps);
}

/* ---------------------------------------------------------------------- */
/* Scheduling                                                              */

int orch_graph_compare_ready(const orch_graph *graph, const int64_t *bottom,
                             size_t a, size_t b)
{
	if (graph->priority[a] != graph->priority[b])
		return graph->priority[a] > graph->priority[b] ? -1 : 1;
	if (bottom && bottom[a] != bottom[b])
		return bottom[a] > bottom[b] ? -1 : 1;
	return a < b ? -1 : (a > b);
}

typedef struct {
	const orch_graph *graph;
	const int64_t *bottom;
} ready_order;

static int less_ready(size_t a, size_t b, const void *payload)
{
	const ready_order *order = payload;

	return orch_graph_compare_ready(order->graph, order->bottom, a, b) < 0;
}

static int less_finish(size_t a, size_t b, const void *payload)
{
	const int64_t *finish = payload;

	return finish[a] < finish[b] || (finish[a] == finish[b] && a < b);
}

int orch_graph_simulate(int64_t *out_makespan_ms, const orch_graph *graph,
                        const orch_overlap *overlaps, size_t noverlaps,
                        int slots)
{
	size_t n = graph->n, i, k, done_count = 0;
	size_t *conflict_start = NULL, *conflicts = NULL, *indegree = NULL;
	size_t *blockers = NULL;
	unsigned char *parked = NULL;
	int64_t *bottom = NULL, *finish = NULL;
	int64_t now = 0, makespan = 0;
	ready_order order;
	pos_heap ready = {0}, running = {0};
	int free_slots = slots, error = 0;

	*out_makespan_ms = 0;
	if (slots < 1) {
		orch_error_set("cannot simulate on %d slots", slots);
		error = ORCH_EINVALID;
		goto done;
	}
	if (n == 0)
		goto done;

	bottom = orch_malloc(n * sizeof(int64_t));
	if ((error = orch_graph_bottom_levels(bottom, graph)) < 0)
		goto done;

	/* conflicts of each task, both ways, as compressed adjacency */
	conflict_start = orch_calloc(n + 1, sizeof(size_t));
	for (i = 0; i < noverlaps; i++) {
		size_t a = overlaps[i].a, b = overlaps[i].b;
		if (a >= n || b >= n || a == b) {
			orch_error_set("overlap between tasks %zu and %zu is "
			               "not in a graph of %zu tasks",
			               a, b, n);
			error = ORCH_EINVALID;
			goto done;
		}
		conflict_start[a + 1]++;
		conflict_start[b + 1]++;
	}
	for (i = 0; i < n; i++)
		conflict_start[i + 1] += conflict_start[i];
	conflicts =
	    orch_malloc((noverlaps ? 2 * noverlaps : 1) * sizeof(size_t));
	blockers = orch_malloc(n * sizeof(size_t));
	memcpy(blockers, conflict_start, n * sizeof(size_t));
	for (i = 0; i < noverlaps; i++) {
		conflicts[blockers[overlaps[i].a]++] = overlaps[i].b;
		conflicts[blockers[overlaps[i].b]++] = overlaps[i].a;
	}
	/* from here on: how many running tasks conflict with each task */
	memset(blockers, 0, n * sizeof(size_t));

	parked = orch_calloc(n, 1);
	finish = orch_malloc(n * sizeof(int64_t));
	indegree = orch_malloc(n * sizeof(size_t));
	order.graph = graph;
	order.bottom = bottom;
	heap_init(&ready, n, less_ready, &order);
	heap_init(&running, n, less_finish, finish);

	for (i = 0; i < n; i++) {
		indegree[i] = graph->dep_start[i + 1] - graph->dep_start[i];
		if (indegree[i] == 0)
			heap_push(&ready, i);
	}

	for (;;) {
		/*
		 * Fill free slots in ready order. A task whose files a running
		 * task may touch waits aside until the last such task ends.
		 */
		while (free_slots > 0 && ready.len > 0) {
			size_t v = heap_pop(&ready);

			if (blockers[v] > 0) {
				parked[v] = 1;
				continue;
			}
			finish[v] = now + graph->duration[v];
			for (k = conflict_start[v]; k < conflict_start[v + 1];
			     k++)
				blockers[conflicts[k]]++;
			heap_push(&running, v);
			free_slots--;
		}
		if (running.len == 0)
			break;

		now = finish[running.items[0]];
		while (running.len > 0 && finish[running.items[0]] == now) {
			size_t v = heap_pop(&running);

			free_slots++;
			done_count++;
			if (now > makespan)
				makespan = now;
			for (k = conflict_start[v]; k < conflict_start[v + 1];
			     k++) {
				size_t w = conflicts[k];
				if (--blockers[w] == 0 && parked[w]) {
					parked[w] = 0;
					heap_push(&ready, w);
				}
			}
			for (k = graph->rdep_start[v];
			     k < graph->rdep_start[v + 1]; k++)
				if (--indegree[graph->rdeps[k]] == 0)
					heap_push(&ready, graph->rdeps[k]);
		}
	}

	if (done_count < n) {
		orch_error_set("simulation stopped with %zu of %zu tasks run",
		               done_count, n);
		error = ORCH_ERROR;
		goto done;
	}
	*out_makespan_ms = makespan;

done:
	free(conflict_start);
	free(conflicts);
	free(indegree);
	free(blockers);
	free(parked);
	free(bottom);
	free(finish);
	heap_free(&ready);
	heap_free(&running);
	return error;
}
