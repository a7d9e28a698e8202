#ifndef ORCH_GRAPH_H
#define ORCH_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "plan.h"

/*
 * The dependency graph of a plan, by task position (0..n-1), in compressed
 * adjacency arrays so that 100,000 tasks with 500,000 edges stay small.
 * Edges go from a dependency to its dependent.
 */
typedef struct {
	size_t n;
	size_t *dep_start; /* deps of i: deps[dep_start[i] .. dep_start[i+1]) */
	size_t *deps;
	size_t *rdep_start; /* dependents of i, same layout */
	size_t *rdeps;
	int64_t *duration; /* estimated duration of each task, ms */
	int *priority;     /* orch_priority of each task */
} orch_graph;

/*
 * Build the graph of `plan`. Dependencies must name tasks (validate first;
 * unknown ones and duplicate ids return ORCH_EINVALID; a dependency listed
 * twice counts once). `durations` (may be NULL) gives the estimate for each
 * task position and wins over the plan (a negative entry: none); a task
 * with neither gets 60,000 ms (1m). Caller frees with orch_graph_free.
 */
int orch_graph_build(orch_graph **out, const orch_plan *plan,
                     const int64_t *durations);

/*
 * Find a cycle. Returns 0 when there is none, ORCH_ECYCLE with *out_members
 * (malloc'd task positions in dependency order, a depends on b depends on
 * ... on a) and *out_count when there is one.
 */
int orch_graph_find_cycle(size_t **out_members, size_t *out_count,
                          const orch_graph *graph);

/* Fill `order` (n entries) with a topological order; ORCH_ECYCLE if none. */
int orch_graph_topo_order(size_t *order, const orch_graph *graph);

/*
 * Dependency level of each task (0 = no dependencies, else 1 + the highest
 * level of its dependencies) into `levels` (n entries); *out_nlevels gets
 * the number of levels.
 */
int orch_graph_levels(size_t *levels, size_t *out_nlevels,
                      const orch_graph *graph);

/*
 * Longest remaining path of each task, itself included, by estimated
 * duration, into `bottom` (n entries): the scheduler's tie-breaker.
 */
int orch_graph_bottom_levels(int64_t *bottom, const orch_graph *graph);

/*
 * The critical path: the chain of tasks with the longest total estimated
 * duration. *out_path is malloc'd (positions from first to last),
 * *out_count its length, *out_length_ms its total.
 */
int orch_graph_critical_path(size_t **out_path, size_t *out_count,
                             int64_t *out_length_ms, const orch_graph *graph);

/* 1 when task `to` depends on task `from`, directly or not. */
int orch_graph_reaches(const orch_graph *graph, size_t from, size_t to);

/* A pair of tasks whose `files` may touch a common path. */
typedef struct {
	size_t a, b;     /* positions, a < b */
	char *pattern_a; /* the overlapping globs, owned */
	char *pattern_b;
} orch_overlap;

/*
 * Pairs of tasks whose declared `files` globs can match a common path while
 * neither depends (transitively) on the other. Caller frees with
 * orch_graph_overlaps_free.
 */
int orch_graph_overlaps(orch_overlap **out, size_t *out_count,
                        const orch_graph *graph, const orch_plan *plan);
void orch_graph_overlaps_free(orch_overlap *overlaps, size_t count);

/*
 * Ready-queue order used by the real scheduler and the simulation: higher
 * priority first, then longer bottom level, then plan position. Returns <0
 * when task a goes first.
 */
int orch_graph_compare_ready(const orch_graph *graph, const int64_t *bottom,
                             size_t a, size_t b);

/*
 * Simulate list scheduling on `slots` identical slots using the estimated
 * durations, with the ready-queue order above and tasks with overlapping
 * files (`overlaps`, may be NULL) never at the same time. *out_makespan_ms
 * gets the finish time of the last task.
 */
int orch_graph_simulate(int64_t *out_makespan_ms, const orch_graph *graph,
                        const orch_overlap *overlaps, size_t noverlaps,
                        int slots);

void orch_graph_free(orch_graph *graph);

#endif
