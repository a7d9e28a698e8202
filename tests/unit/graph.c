#include "unit.h"

#include "error.h"
#include "graph.h"
#include "util.h"

#include <stdint.h>

/*
 * Plans are built by hand here so that these tests need nothing from
 * plan.c but its id index: ids, dependencies, files, durations and
 * priorities only.
 */

typedef struct {
	const char *id;
	const char *depends; /* comma-separated ids, or NULL */
	const char *files;   /* comma-separated globs, or NULL */
	int64_t duration;    /* 0: not given */
	int priority;        /* orch_priority; 0 is low */
} task_spec;

static orch_plan *plan_new(size_t ntasks)
{
	orch_plan *plan = orch_calloc(1, sizeof(*plan));

	plan->tasks = orch_calloc(ntasks, sizeof(orch_task));
	plan->ntasks = ntasks;
	for (size_t i = 0; i < ntasks; i++) {
		plan->tasks[i].duration_ms = -1;
		plan->tasks[i].priority = ORCH_PRIORITY_MEDIUM;
	}
	return plan;
}

static orch_plan *plan_from(const task_spec *specs, size_t ntasks)
{
	orch_plan *plan = plan_new(ntasks);

	for (size_t i = 0; i < ntasks; i++) {
		orch_task *task = &plan->tasks[i];
		task->id = orch_strdup(specs[i].id);
		if (specs[i].depends)
			orch_strvec_split(&task->depends, specs[i].depends,
			                  ",");
		if (specs[i].files)
			orch_strvec_split(&task->files, specs[i].files, ",");
		task->duration_ms = specs[i].duration ? specs[i].duration : -1;
		task->priority = (orch_priority)specs[i].priority;
	}
	/* the graph finds tasks through the plan's id index */
	if (orch_plan_reindex(plan) < 0)
		orch_error_clear(); /* a duplicate id: the graph reports it */
	return plan;
}

static void plan_dispose(orch_plan *plan)
{
	orch_plan_free(plan);
}

#define NSPECS(specs) (sizeof(specs) / sizeof(specs[0]))

static orch_graph *graph_of(orch_plan *plan)
{
	orch_graph *graph = NULL;

	/* tasks may have been added by hand since plan_from */
	if (orch_plan_reindex(plan) < 0)
		orch_error_clear();
	CHECK_INT(orch_graph_build(&graph, plan, NULL), 0);
	return graph;
}

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t rng_below(size_t bound)
{
	return (size_t)(rng_next() % bound);
}

/* 1 when every dependency comes before its dependent in `order`. */
static int order_respects_edges(const orch_graph *graph, const size_t *order)
{
	size_t *rank = orch_malloc((graph->n ? graph->n : 1) * sizeof(size_t));
	int ok = 1;

	for (size_t i = 0; i < graph->n; i++)
		rank[i] = SIZE_MAX;
	for (size_t i = 0; i < graph->n; i++) {
		if (order[i] >= graph->n || rank[order[i]] != SIZE_MAX)
			ok = 0; /* not a permutation */
		else
			rank[order[i]] = i;
	}
	for (size_t v = 0; ok && v < graph->n; v++)
		for (size_t k = graph->dep_start[v];
		     k < graph->dep_start[v + 1]; k++)
			if (rank[graph->deps[k]] >= rank[v])
				ok = 0;
	free(rank);
	return ok;
}

/* ---------------------------------------------------------------------- */

TEST(build_makes_both_adjacency_arrays)
{
	static const task_spec specs[] = {
	    {"a", NULL, NULL, 0, 0},
	    {"b", "a", NULL, 0, 0},
	    {"c", "a, b, a", NULL, 0, 0}, /* a listed twice counts once */
	};
	const size_t dep_start[] = {0, 0, 1, 3}, deps[] = {0, 0, 1};
	const size_t rdep_start[] = {0, 2, 3, 3}, rdeps[] = {1, 2, 2};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);

	CHECK(graph != NULL);
	if (graph) {
		CHECK_INT(graph->n, 3);
		for (size_t i = 0; i < 4; i++) {
			CHECK_INT(graph->dep_start[i], dep_start[i]);
			CHECK_INT(graph->rdep_start[i], rdep_start[i]);
		}
		for (size_t i = 0; i < 3; i++) {
			CHECK_INT(graph->deps[i], deps[i]);
			CHECK_INT(graph->rdeps[i], rdeps[i]);
		}
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(build_rejects_an_unknown_dependency)
{
	static const task_spec specs[] = {
	    {"a", NULL, NULL, 0, 0},
	    {"b", "a, zz", NULL, 0, 0},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = NULL;

	CHECK_INT(orch_graph_build(&graph, plan, NULL), ORCH_EINVALID);
	CHECK(graph == NULL);
	CHECK_STR(orch_error_message(),
	          "task 'b' depends on unknown task 'zz'");

	plan->source = "plan.ini";
	plan->tasks[1].line = 7;
	CHECK_INT(orch_graph_build(&graph, plan, NULL), ORCH_EINVALID);
	CHECK_STR(orch_error_message(),
	          "plan.ini:7: task 'b' depends on unknown task 'zz'");
	plan->source = NULL;
	plan_dispose(plan);
}

TEST(build_rejects_a_duplicate_task_id)
{
	static const task_spec specs[] = {
	    {"a", NULL, NULL, 0, 0},
	    {"b", NULL, NULL, 0, 0},
	    {"a", NULL, NULL, 0, 0},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = NULL;

	CHECK_INT(orch_graph_build(&graph, plan, NULL), ORCH_EINVALID);
	CHECK(graph == NULL);
	CHECK_STR(orch_error_message(), "duplicate task id 'a'");
	plan_dispose(plan);
}

TEST(durations_come_from_the_array_then_the_plan_then_a_minute)
{
	static const task_spec specs[] = {
	    {"a", NULL, NULL, 5000, ORCH_PRIORITY_HIGH},
	    {"b", NULL, NULL, 0, ORCH_PRIORITY_LOW},
	    {"c", NULL, NULL, 7000, ORCH_PRIORITY_CRITICAL},
	    {"d", NULL, NULL, 0, ORCH_PRIORITY_MEDIUM},
	};
	const int64_t learned[] = {1234, -1, -1, 0};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = NULL;

	CHECK_INT(orch_graph_build(&graph, plan, learned), 0);
	if (graph) {
		CHECK_INT(graph->duration[0], 1234);
		CHECK_INT(graph->duration[1], 60000);
		CHECK_INT(graph->duration[2], 7000);
		CHECK_INT(graph->duration[3], 0);
		CHECK_INT(graph->priority[0], ORCH_PRIORITY_HIGH);
		CHECK_INT(graph->priority[1], ORCH_PRIORITY_LOW);
		CHECK_INT(graph->priority[2], ORCH_PRIORITY_CRITICAL);
		CHECK_INT(graph->priority[3], ORCH_PRIORITY_MEDIUM);
	}
	orch_graph_free(graph);

	graph = graph_of(plan);
	if (graph) {
		CHECK_INT(graph->duration[0], 5000);
		CHECK_INT(graph->duration[1], 60000);
		CHECK_INT(graph->duration[3], 60000);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(cycle_is_reported_with_its_members)
{
	/* x -> a -> b -> c -> a: x leads into the cycle but is not in it */
	static const task_spec specs[] = {
	    {"d", NULL, NULL, 0, 0}, {"x", "a", NULL, 0, 0},
	    {"b", "c", NULL, 0, 0},  {"a", "d, b", NULL, 0, 0},
	    {"c", "a", NULL, 0, 0},  {"e", "c", NULL, 0, 0},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	size_t *members = NULL, count = 0;
	size_t order[6];

	if (graph) {
		CHECK_INT(orch_graph_find_cycle(&members, &count, graph),
		          ORCH_ECYCLE);
		/* a depends on b depends on c depends on a */
		CHECK_INT(count, 3);
		if (members && count == 3) {
			CHECK_STR(plan->tasks[members[0]].id, "a");
			CHECK_STR(plan->tasks[members[1]].id, "b");
			CHECK_STR(plan->tasks[members[2]].id, "c");
		}
		CHECK_INT(orch_graph_topo_order(order, graph), ORCH_ECYCLE);
	}
	free(members);
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(self_dependency_is_a_cycle_of_one)
{
	static const task_spec specs[] = {
	    {"a", NULL, NULL, 0, 0},
	    {"b", "a, b", NULL, 0, 0},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	size_t *members = NULL, count = 0;

	if (graph) {
		CHECK_INT(orch_graph_find_cycle(&members, &count, graph),
		          ORCH_ECYCLE);
		CHECK_INT(count, 1);
		CHECK(members && members[0] == 1);
	}
	free(members);
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(acyclic_graph_has_no_cycle)
{
	static const task_spec specs[] = {
	    {"a", NULL, NULL, 0, 0},
	    {"b", "a", NULL, 0, 0},
	    {"c", "a, b", NULL, 0, 0},
	    {"d", "c, a", NULL, 0, 0},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	size_t *members = (size_t *)1, count = 99;

	if (graph) {
		CHECK_INT(orch_graph_find_cycle(&members, &count, graph), 0);
		CHECK(members == NULL);
		CHECK_INT(count, 0);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(topo_order_keeps_plan_order_among_ready_tasks)
{
	static const task_spec specs[] = {
	    {"late", "z", NULL, 0, 0},
	    {"y", NULL, NULL, 0, 0},
	    {"z", NULL, NULL, 0, 0},
	    {"w", "y", NULL, 0, 0},
	};
	const size_t expected[] = {1, 2, 0, 3};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	size_t order[4];

	if (graph) {
		CHECK_INT(orch_graph_topo_order(order, graph), 0);
		for (size_t i = 0; i < 4; i++)
			CHECK_INT(order[i], expected[i]);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(topo_order_respects_every_edge)
{
	const size_t n = 500;
	orch_plan *plan = plan_new(n);
	size_t *perm = orch_malloc(n * sizeof(size_t)), *order = NULL;
	orch_graph *graph;
	char id[32];

	/* a random DAG laid out in a shuffled plan order */
	rng_state = 42;
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_below(i + 1), swap = perm[i];
		perm[i] = perm[j];
		perm[j] = swap;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "t%zu", i);
		plan->tasks[i].id = orch_strdup(id);
	}
	for (size_t e = 0; e < 3 * n; e++) {
		size_t later = 1 + rng_below(n - 1), earlier = rng_below(later);
		snprintf(id, sizeof(id), "t%zu", perm[earlier]);
		orch_strvec_push(&plan->tasks[perm[later]].depends, id);
	}

	graph = graph_of(plan);
	if (graph) {
		order = orch_malloc(n * sizeof(size_t));
		CHECK_INT(orch_graph_topo_order(order, graph), 0);
		CHECK(order_respects_edges(graph, order));
		CHECK(graph->dep_start[n] > n);
	}
	free(order);
	free(perm);
	orch_graph_free(graph);
	plan_dispose(plan);
}

/* a(10) -> b(50) -> d(5); a -> c(20) -> d; e(60) -> f(1); g(3) alone */
static const task_spec diamond[] = {
    {"a", NULL, NULL, 10, 0}, {"b", "a", NULL, 50, 0},
    {"c", "a", NULL, 20, 0},  {"d", "b, c", NULL, 5, 0},
    {"e", NULL, NULL, 60, 0}, {"f", "e, d", NULL, 1, 0},
    {"g", NULL, NULL, 3, 0},
};

TEST(levels_count_the_longest_chain_of_dependencies)
{
	const size_t expected[] = {0, 1, 1, 2, 0, 3, 0};
	orch_plan *plan = plan_from(diamond, NSPECS(diamond));
	orch_graph *graph = graph_of(plan);
	size_t levels[7], nlevels = 0;

	if (graph) {
		CHECK_INT(orch_graph_levels(levels, &nlevels, graph), 0);
		CHECK_INT(nlevels, 4);
		for (size_t i = 0; i < 7; i++)
			CHECK_INT(levels[i], expected[i]);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(bottom_levels_include_the_task_itself)
{
	const int64_t expected[] = {66, 56, 26, 6, 61, 1, 3};
	orch_plan *plan = plan_from(diamond, NSPECS(diamond));
	orch_graph *graph = graph_of(plan);
	int64_t bottom[7];

	if (graph) {
		CHECK_INT(orch_graph_bottom_levels(bottom, graph), 0);
		for (size_t i = 0; i < 7; i++)
			CHECK_INT(bottom[i], expected[i]);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(critical_path_is_the_longest_chain_by_duration)
{
	orch_plan *plan = plan_from(diamond, NSPECS(diamond));
	orch_graph *graph = graph_of(plan);
	size_t *path = NULL, count = 0;
	int64_t length = 0;
	const int64_t learned[] = {-1, -1, 100, -1, -1, -1, -1};

	if (graph) {
		CHECK_INT(
		    orch_graph_critical_path(&path, &count, &length, graph), 0);
		/* a, b, d, f = 10 + 50 + 5 + 1 */
		CHECK_INT(length, 66);
		CHECK_INT(count, 4);
		if (path && count == 4) {
			CHECK_INT(path[0], 0);
			CHECK_INT(path[1], 1);
			CHECK_INT(path[2], 3);
			CHECK_INT(path[3], 5);
		}
	}
	free(path);
	path = NULL;
	orch_graph_free(graph);

	/* a learned estimate makes c the long branch: a, c, d, f */
	graph = NULL;
	CHECK_INT(orch_graph_build(&graph, plan, learned), 0);
	if (graph) {
		CHECK_INT(
		    orch_graph_critical_path(&path, &count, &length, graph), 0);
		CHECK_INT(length, 116);
		CHECK_INT(count, 4);
		if (path && count == 4) {
			CHECK_INT(path[0], 0);
			CHECK_INT(path[1], 2);
			CHECK_INT(path[2], 3);
			CHECK_INT(path[3], 5);
		}
	}
	free(path);
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(critical_path_of_an_empty_plan_is_empty)
{
	orch_plan *plan = plan_new(0);
	orch_graph *graph = graph_of(plan);
	size_t *path = (size_t *)1, count = 9;
	int64_t length = 9, makespan = 9;
	size_t nlevels = 9;

	if (graph) {
		CHECK_INT(
		    orch_graph_critical_path(&path, &count, &length, graph), 0);
		CHECK(path == NULL);
		CHECK_INT(count, 0);
		CHECK_INT(length, 0);
		CHECK_INT(orch_graph_levels(NULL, &nlevels, graph), 0);
		CHECK_INT(nlevels, 0);
		CHECK_INT(orch_graph_simulate(&makespan, graph, NULL, 0, 2), 0);
		CHECK_INT(makespan, 0);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(reaches_follows_dependencies_transitively)
{
	static const struct {
		const char *from, *to;
		int expected;
	} cases[] = {
	    {"a", "b", 1}, {"a", "d", 1}, {"a", "f", 1}, {"c", "f", 1},
	    {"e", "f", 1}, {"d", "a", 0}, {"b", "c", 0}, {"c", "b", 0},
	    {"a", "a", 0}, {"g", "f", 0}, {"f", "e", 0}, {"e", "d", 0},
	};
	orch_plan *plan = plan_from(diamond, NSPECS(diamond));
	orch_graph *graph = graph_of(plan);

	for (size_t i = 0; graph && i < NSPECS(cases); i++) {
		size_t from = (size_t)(cases[i].from[0] - 'a');
		size_t to = (size_t)(cases[i].to[0] - 'a');
		if (orch_graph_reaches(graph, from, to) != cases[i].expected) {
			CHECK_INT(i, SIZE_MAX); /* names the failing case */
			break;
		}
	}
	if (graph)
		CHECK_INT(orch_graph_reaches(graph, 0, 99), 0);
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(overlaps_ignore_ordered_pairs_and_find_unordered_ones)
{
	static const task_spec specs[] = {
	    {"a", NULL, "api/*.c", 0, 0},
	    {"b", "a", "api/auth.c", 0, 0}, /* after a */
	    {"c", NULL, "api/*.h, web/x.js", 0, 0},
	    {"d", NULL, "docs/**", 0, 0},
	    {"e", "b", "docs/intro.md", 0, 0}, /* meets d */
	    {"f", "c", "web/*.js", 0, 0},      /* after c */
	    {"g", NULL, "**/*.h", 0, 0},       /* meets c, d */
	    {"h", "e", "api/auth.c", 0, 0},    /* after a, b via e */
	    {"i", NULL, "API/auth.c", 0, 0},
	    {"j", NULL, NULL, 0, 0},
	};
	static const struct {
		size_t a, b;
		const char *pattern_a, *pattern_b;
	} expected[] = {
	    {2, 6, "api/*.h", "**/*.h"},
	    {3, 4, "docs/**", "docs/intro.md"},
	    {3, 6, "docs/**", "**/*.h"},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	orch_overlap *overlaps = NULL;
	size_t count = 0;

	if (graph) {
		CHECK_INT(orch_graph_overlaps(&overlaps, &count, graph, plan),
		          0);
		CHECK_INT(count, NSPECS(expected));
		for (size_t i = 0; i < count && i < NSPECS(expected); i++) {
			CHECK_INT(overlaps[i].a, expected[i].a);
			CHECK_INT(overlaps[i].b, expected[i].b);
			CHECK_STR(overlaps[i].pattern_a, expected[i].pattern_a);
			CHECK_STR(overlaps[i].pattern_b, expected[i].pattern_b);
		}
	}
	orch_graph_overlaps_free(overlaps, count);
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(overlaps_report_each_pair_of_tasks_once)
{
	static const task_spec specs[] = {
	    {"a", NULL, "src/x.c, src/y.c, src", 0, 0},
	    {"b", NULL, "src/*.c, src/x.c", 0, 0},
	    {"c", NULL, "lib", 0, 0},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	orch_overlap *overlaps = NULL;
	size_t count = 0;

	if (graph) {
		CHECK_INT(orch_graph_overlaps(&overlaps, &count, graph, plan),
		          0);
		CHECK_INT(count, 1);
		if (count == 1) {
			CHECK_INT(overlaps[0].a, 0);
			CHECK_INT(overlaps[0].b, 1);
			/* the first declared pattern of each that meets */
			CHECK_STR(overlaps[0].pattern_a, "src/x.c");
			CHECK_STR(overlaps[0].pattern_b, "src/*.c");
		}
	}
	orch_graph_overlaps_free(overlaps, count);
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(overlaps_scale_to_a_hundred_thousand_tasks)
{
	/*
	 * 500 modules; task k < 500 declares all of "m<k>/", every other task
	 * one file of its module. Odd tasks depend on their module's wildcard
	 * task, so only the even ones overlap it unordered.
	 */
	const size_t n = 100000, modules = 500;
	orch_plan *plan = plan_new(n);
	orch_graph *graph;
	orch_overlap *overlaps = NULL;
	size_t count = 0, expected = 0, wrong = 0;
	char text[64];

	for (size_t i = 0; i < n; i++) {
		orch_task *task = &plan->tasks[i];
		snprintf(text, sizeof(text), "t%zu", i);
		task->id = orch_strdup(text);
		if (i < modules) {
			snprintf(text, sizeof(text), "m%zu/*", i);
		} else {
			snprintf(text, sizeof(text), "m%zu/f%zu.c", i % modules,
			         i);
			if (i % 2) {
				char dep[32];
				snprintf(dep, sizeof(dep), "t%zu", i % modules);
				orch_strvec_push(&task->depends, dep);
			} else {
				expected++;
			}
		}
		orch_strvec_push(&task->files, text);
	}

	graph = graph_of(plan);
	if (graph) {
		CHECK_INT(orch_graph_overlaps(&overlaps, &count, graph, plan),
		          0);
		CHECK_INT(count, expected);
		for (size_t i = 0; i < count; i++)
			if (overlaps[i].a != overlaps[i].b % modules ||
			    overlaps[i].b % 2 || overlaps[i].b < modules)
				wrong++;
		CHECK_INT(wrong, 0);
	}
	orch_graph_overlaps_free(overlaps, count);
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(overlaps_do_not_compare_every_pair_of_wildcards)
{
	/*
	 * 100,000 distinct wildcards in one directory ("src/mod<i>_*.c")
	 * that pairwise cannot meet, and one file that meets one of them:
	 * comparing all pairs would take billions of steps.
	 */
	const size_t n = 100001;
	orch_plan *plan = plan_new(n);
	orch_graph *graph;
	orch_overlap *overlaps = NULL;
	size_t count = 0;
	char text[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "t%zu", i);
		plan->tasks[i].id = orch_strdup(text);
		if (i + 1 < n)
			snprintf(text, sizeof(text), "src/mod%zu_*.c", i);
		else
			snprintf(text, sizeof(text), "./src/mod4242_x.c");
		orch_strvec_push(&plan->tasks[i].files, text);
	}
	graph = graph_of(plan);
	if (graph) {
		CHECK_INT(orch_graph_overlaps(&overlaps, &count, graph, plan),
		          0);
		CHECK_INT(count, 1);
		if (count == 1) {
			CHECK_INT(overlaps[0].a, 4242);
			CHECK_INT(overlaps[0].b, n - 1);
			CHECK_STR(overlaps[0].pattern_a, "src/mod4242_*.c");
			CHECK_STR(overlaps[0].pattern_b, "./src/mod4242_x.c");
		}
	}
	orch_graph_overlaps_free(overlaps, count);
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(ready_order_is_priority_then_bottom_level_then_position)
{
	static const task_spec specs[] = {
	    {"a", NULL, NULL, 10, ORCH_PRIORITY_MEDIUM},
	    {"b", NULL, NULL, 10, ORCH_PRIORITY_HIGH},
	    {"c", NULL, NULL, 50, ORCH_PRIORITY_MEDIUM},
	    {"d", NULL, NULL, 10, ORCH_PRIORITY_MEDIUM},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	int64_t bottom[4];

	if (graph) {
		CHECK_INT(orch_graph_bottom_levels(bottom, graph), 0);
		CHECK(orch_graph_compare_ready(graph, bottom, 1, 2) < 0);
		CHECK(orch_graph_compare_ready(graph, bottom, 2, 1) > 0);
		CHECK(orch_graph_compare_ready(graph, bottom, 2, 0) < 0);
		CHECK(orch_graph_compare_ready(graph, bottom, 0, 3) < 0);
		CHECK(orch_graph_compare_ready(graph, bottom, 3, 0) > 0);
		CHECK_INT(orch_graph_compare_ready(graph, bottom, 3, 3), 0);
		CHECK(orch_graph_compare_ready(graph, NULL, 0, 2) < 0);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(simulated_chain_takes_the_sum_of_its_durations_on_any_slots)
{
	static const task_spec specs[] = {
	    {"a", NULL, NULL, 1000, 0}, {"b", "a", NULL, 2000, 0},
	    {"c", "b", NULL, 3000, 0},  {"d", "c", NULL, 4000, 0},
	    {"e", "d", NULL, 5000, 0},
	};
	const int slots[] = {1, 2, 3, 8, 100};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);

	for (size_t i = 0; graph && i < NSPECS(slots); i++) {
		int64_t makespan = 0;
		CHECK_INT(
		    orch_graph_simulate(&makespan, graph, NULL, 0, slots[i]),
		    0);
		CHECK_INT(makespan, 15000);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(simulated_independent_tasks_fill_the_slots_in_waves)
{
	const size_t n = 10;
	const int64_t d = 7000;
	orch_plan *plan = plan_new(n);
	orch_graph *graph;
	char id[16];

	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "t%zu", i);
		plan->tasks[i].id = orch_strdup(id);
		plan->tasks[i].duration_ms = d;
	}
	graph = graph_of(plan);
	for (int w = 1; graph && w <= 12; w++) {
		int64_t makespan = 0;
		CHECK_INT(orch_graph_simulate(&makespan, graph, NULL, 0, w), 0);
		CHECK_INT(makespan,
		          (int64_t)((n + (size_t)w - 1) / (size_t)w) * d);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(simulation_runs_the_critical_path_before_plan_order)
{
	/*
	 * On two slots, plan order would start x and y first and finish the
	 * chain l1 -> l2 -> l3 at 40; starting l1 at once finishes at 30.
	 */
	static const task_spec specs[] = {
	    {"x", NULL, NULL, 10, 0},  {"y", NULL, NULL, 10, 0},
	    {"l1", NULL, NULL, 10, 0}, {"l2", "l1", NULL, 10, 0},
	    {"l3", "l2", NULL, 10, 0},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	int64_t makespan = 0;

	if (graph) {
		CHECK_INT(orch_graph_simulate(&makespan, graph, NULL, 0, 2), 0);
		CHECK_INT(makespan, 30);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(simulation_puts_higher_priority_before_the_critical_path)
{
	/*
	 * Two slots. By bottom level alone x would start at once and all
	 * ends at 30; the two critical tasks go first instead, so the chain
	 * starts at 10 and ends at 40.
	 */
	static const task_spec specs[] = {
	    {"x", NULL, NULL, 10, ORCH_PRIORITY_MEDIUM},
	    {"x2", "x", NULL, 10, ORCH_PRIORITY_MEDIUM},
	    {"x3", "x2", NULL, 10, ORCH_PRIORITY_MEDIUM},
	    {"u1", NULL, NULL, 10, ORCH_PRIORITY_CRITICAL},
	    {"u2", NULL, NULL, 10, ORCH_PRIORITY_CRITICAL},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	int64_t makespan = 0;

	if (graph) {
		CHECK_INT(orch_graph_simulate(&makespan, graph, NULL, 0, 2), 0);
		CHECK_INT(makespan, 40);
		graph->priority[3] = graph->priority[4] = ORCH_PRIORITY_MEDIUM;
		CHECK_INT(orch_graph_simulate(&makespan, graph, NULL, 0, 2), 0);
		CHECK_INT(makespan, 30);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(overlapping_tasks_never_run_at_the_same_time)
{
	static const task_spec specs[] = {
	    {"a", NULL, "src/a.c", 10, 0},
	    {"b", NULL, "src/*.c", 20, 0},
	    {"c", NULL, "src", 30, 0},
	};
	static const task_spec apart[] = {
	    {"a", NULL, "src/a.c", 10, 0},
	    {"b", NULL, "src/*.h", 20, 0},
	    {"c", NULL, "lib", 30, 0},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_plan *other = plan_from(apart, NSPECS(apart));
	orch_graph *graph = graph_of(plan), *separate = graph_of(other);
	orch_overlap *overlaps = NULL;
	size_t count = 0;
	int64_t makespan = 0;

	if (graph && separate) {
		CHECK_INT(orch_graph_overlaps(&overlaps, &count, graph, plan),
		          0);
		CHECK_INT(count, 3);
		CHECK_INT(
		    orch_graph_simulate(&makespan, graph, overlaps, count, 4),
		    0);
		CHECK_INT(makespan, 60);
		CHECK_INT(orch_graph_simulate(&makespan, graph, NULL, 0, 4), 0);
		CHECK_INT(makespan, 30);
		orch_graph_overlaps_free(overlaps, count);
		overlaps = NULL;

		CHECK_INT(
		    orch_graph_overlaps(&overlaps, &count, separate, other), 0);
		CHECK_INT(count, 0);
		CHECK_INT(orch_graph_simulate(&makespan, separate, overlaps,
		                              count, 4),
		          0);
		CHECK_INT(makespan, 30);
	}
	orch_graph_overlaps_free(overlaps, count);
	orch_graph_free(graph);
	orch_graph_free(separate);
	plan_dispose(plan);
	plan_dispose(other);
}

TEST(a_blocked_task_lets_the_next_ready_one_start)
{
	/*
	 * Two slots. a (30) runs; b overlaps a and must wait, but c, which
	 * comes after b in ready order, starts at once on the free slot.
	 */
	static const task_spec specs[] = {
	    {"a", NULL, "x.c", 30, ORCH_PRIORITY_CRITICAL},
	    {"b", NULL, "x.c", 20, ORCH_PRIORITY_HIGH},
	    {"c", NULL, "y.c", 25, ORCH_PRIORITY_MEDIUM},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	orch_overlap *overlaps = NULL;
	size_t count = 0;
	int64_t makespan = 0;

	if (graph) {
		CHECK_INT(orch_graph_overlaps(&overlaps, &count, graph, plan),
		          0);
		CHECK_INT(count, 1);
		CHECK_INT(
		    orch_graph_simulate(&makespan, graph, overlaps, count, 2),
		    0);
		CHECK_INT(makespan, 50);
	}
	orch_graph_overlaps_free(overlaps, count);
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(simulation_refuses_no_slots_and_cycles)
{
	static const task_spec specs[] = {
	    {"a", "b", NULL, 0, 0},
	    {"b", "a", NULL, 0, 0},
	};
	orch_plan *plan = plan_from(specs, NSPECS(specs));
	orch_graph *graph = graph_of(plan);
	int64_t makespan = 0;

	if (graph) {
		CHECK_INT(orch_graph_simulate(&makespan, graph, NULL, 0, 0),
		          ORCH_EINVALID);
		CHECK_INT(orch_graph_simulate(&makespan, graph, NULL, 0, 1),
		          ORCH_ECYCLE);
	}
	orch_graph_free(graph);
	plan_dispose(plan);
}

TEST(large_random_dag_builds_and_simulates)
{
	const size_t n = 100000, nedges = 500000;
	orch_plan *plan = plan_new(n);
	size_t *perm = orch_malloc(n * sizeof(size_t));
	size_t *order = NULL, *levels = NULL, *members = NULL, *path = NULL;
	size_t added = 0, ncycle = 0, nlevels = 0, npath = 0;
	int64_t total = 0, length = 0, makespan = 0, sum = 0, *bottom = NULL;
	orch_graph *graph;
	char id[32];

	rng_state = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_below(i + 1), swap = perm[i];
		perm[i] = perm[j];
		perm[j] = swap;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "t%zu", i);
		plan->tasks[i].id = orch_strdup(id);
		plan->tasks[i].duration_ms = 1000 + (int64_t)rng_below(60000);
		plan->tasks[i].priority = (orch_priority)rng_below(4);
		total += plan->tasks[i].duration_ms;
	}
	/* distinct edges from an earlier to a later task of a hidden order */
	while (added < nedges) {
		size_t later = 1 + rng_below(n - 1);
		size_t earlier =
		    later - 1 - rng_below(later < 2000 ? later : 2000);
		orch_task *task = &plan->tasks[perm[later]];
		snprintf(id, sizeof(id), "t%zu", perm[earlier]);
		if (orch_strvec_contains(&task->depends, id))
			continue;
		orch_strvec_push(&task->depends, id);
		added++;
	}

	graph = graph_of(plan);
	if (graph) {
		CHECK_INT(graph->dep_start[n], nedges);
		CHECK_INT(graph->rdep_start[n], nedges);
		CHECK_INT(orch_graph_find_cycle(&members, &ncycle, graph), 0);
		order = orch_malloc(n * sizeof(size_t));
		CHECK_INT(orch_graph_topo_order(order, graph), 0);
		CHECK(order_respects_edges(graph, order));
		levels = orch_malloc(n * sizeof(size_t));
		CHECK_INT(orch_graph_levels(levels, &nlevels, graph), 0);
		CHECK(nlevels > 1);
		CHECK_INT(
		    orch_graph_critical_path(&path, &npath, &length, graph), 0);
		CHECK(npath > 1);
		for (size_t i = 0; i < npath; i++) {
			int direct = i == 0;
			for (size_t k = graph->dep_start[path[i]];
			     i > 0 && k < graph->dep_start[path[i] + 1]; k++)
				if (graph->deps[k] == path[i - 1])
					direct = 1;
			CHECK(direct);
			sum += graph->duration[path[i]];
		}
		CHECK_INT(sum, length);
		if (npath > 1)
			CHECK(orch_graph_reaches(graph, path[0],
			                         path[npath - 1]));
		bottom = orch_malloc(n * sizeof(int64_t));
		CHECK_INT(orch_graph_bottom_levels(bottom, graph), 0);
		for (size_t i = 0; i < n; i++)
			CHECK(bottom[i] <= length);
		CHECK_INT(orch_graph_simulate(&makespan, graph, NULL, 0, 16),
		          0);
		CHECK(makespan >= length);
		CHECK(makespan >= total / 16);
		CHECK(makespan <= total);
		CHECK_INT(orch_graph_simulate(&makespan, graph, NULL, 0, 1), 0);
		CHECK_INT(makespan, total);
	}
	free(members);
	free(order);
	free(levels);
	free(bottom);
	free(path);
	free(perm);
	orch_graph_free(graph);
	plan_dispose(plan);
}

static const unit_test table[] = {
    T(build_makes_both_adjacency_arrays),
    T(build_rejects_an_unknown_dependency),
    T(build_rejects_a_duplicate_task_id),
    T(durations_come_from_the_array_then_the_plan_then_a_minute),
    T(cycle_is_reported_with_its_members),
    T(self_dependency_is_a_cycle_of_one),
    T(acyclic_graph_has_no_cycle),
    T(topo_order_keeps_plan_order_among_ready_tasks),
    T(topo_order_respects_every_edge),
    T(levels_count_the_longest_chain_of_dependencies),
    T(bottom_levels_include_the_task_itself),
    T(critical_path_is_the_longest_chain_by_duration),
    T(critical_path_of_an_empty_plan_is_empty),
    T(reaches_follows_dependencies_transitively),
    T(overlaps_ignore_ordered_pairs_and_find_unordered_ones),
    T(overlaps_report_each_pair_of_tasks_once),
    T(overlaps_scale_to_a_hundred_thousand_tasks),
    T(overlaps_do_not_compare_every_pair_of_wildcards),
    T(ready_order_is_priority_then_bottom_level_then_position),
    T(simulated_chain_takes_the_sum_of_its_durations_on_any_slots),
    T(simulated_independent_tasks_fill_the_slots_in_waves),
    T(simulation_runs_the_critical_path_before_plan_order),
    T(simulation_puts_higher_priority_before_the_critical_path),
    T(overlapping_tasks_never_run_at_the_same_time),
    T(a_blocked_task_lets_the_next_ready_one_start),
    T(simulation_refuses_no_slots_and_cycles),
    T(large_random_dag_builds_and_simulates),
};

UNIT_MAIN(table)
