#!/usr/bin/env python3
"""gen-dag.py -- seeded plan generators for the benchmarks in bench/.

Two kinds of plan, both written in the plan format of SPEC section 3:

  scale     a large DAG (default 100,000 tasks, about 500,000 dependencies)
            for bench/plan-scale; also writes the same edges as a pairs file
            for coreutils tsort, and prints one line of facts about the graph.

  layered   a random layered DAG (default 1,000 tasks) with lognormal
            whole-second durations (`duration = Ns`), for bench/schedule.
            Prints one JSON object: the task and edge counts, the critical
            path and total work, and for each slot count W the makespan of
            the level-by-level (barrier) strategy, computed here.

Every value depends only on the seed and the options: the same command gives
the same plan on any machine (Python's random.Random is specified to be
reproducible for a given seed).

Lines are kept under MAX_LINE characters: inih here reads at most 199
characters per line, so a long `depends` goes on indented continuation lines.
"""

import argparse
import heapq
import json
import math
import random
import sys

MAX_LINE = 150  # well under inih's 199


def depends_lines(names):
    """`depends = a, b` split over indented continuation lines so that no
    line exceeds MAX_LINE characters."""
    lines, cur = [], "depends = "
    first = True
    for name in names:
        piece = name if first else ", " + name
        if len(cur) + len(piece) > MAX_LINE:
            lines.append(cur)
            cur = "  " + name
        else:
            cur += piece
        first = False
    lines.append(cur)
    return lines


def topo_order(n, deps):
    """Kahn's algorithm over deps (lists of predecessor indices); returns
    the order and each task's successors; fails on a cycle."""
    succ = [[] for _ in range(n)]
    missing = [0] * n
    for t in range(n):
        missing[t] = len(deps[t])
        for u in deps[t]:
            succ[u].append(t)
    queue = [t for t in range(n) if missing[t] == 0]
    order = []
    i = 0
    while i < len(queue):
        u = queue[i]
        i += 1
        order.append(u)
        for v in succ[u]:
            missing[v] -= 1
            if missing[v] == 0:
                queue.append(v)
    if len(order) != n:
        sys.exit("gen-dag: generated graph has a cycle (bug)")
    return order, succ


# ---------------------------------------------------------------- scale

def gen_scale(a):
    """Task k (in creation order) depends on a random number (mean
    a.deps / a.tasks) of distinct earlier tasks, drawn from the a.window
    tasks created just before it; ids are then shuffled so the file order says nothing
    about the graph order."""
    rng = random.Random(a.seed)
    n = a.tasks
    mean = a.deps / n
    # one task in a hundred gathers many (40-120, mean 80: an integration
    # step); the rest share what is left of the mean
    small = max(0.0, (mean - 0.8) / 0.99)
    deps = [[] for _ in range(n)]
    edges = 0
    for k in range(1, n):
        if rng.random() < 0.01:
            want = rng.randint(40, 120)
        else:
            want = int(rng.uniform(0, 2 * small) + 0.5)
        want = min(k, want)
        lo = max(0, k - a.window)
        chosen = set()
        while len(chosen) < min(want, k - lo):
            chosen.add(rng.randrange(lo, k))
        deps[k] = sorted(chosen)
        edges += len(chosen)
    width = len(str(n))
    perm = list(range(n))
    rng.shuffle(perm)  # perm[k] = the id number of the k-th created task
    name = ["t%0*d" % (width, perm[k] + 1) for k in range(n)]

    order, succ = topo_order(n, deps)
    depth = [0] * n
    for u in order:
        for v in succ[u]:
            if depth[u] + 1 > depth[v]:
                depth[v] = depth[u] + 1
    sinks = [k for k in range(n) if not succ[k]]

    # file order: by id, which is a random order of the graph
    by_id = sorted(range(n), key=lambda k: perm[k])
    with open(a.ini, "w") as f:
        f.write("; gen-dag.py scale --seed %d --tasks %d --deps %d --window %d\n"
                % (a.seed, n, a.deps, a.window))
        f.write("[plan]\nname = %s\nretries = 0\n\n" % a.name)
        for k in by_id:
            f.write('[task "%s"]\nrun = true\n' % name[k])
            if deps[k]:
                for line in depends_lines([name[u] for u in deps[k]]):
                    f.write(line + "\n")
            f.write("duration = %ds\n\n" % (1 + k % 7))
    with open(a.pairs, "w") as f:
        for k in by_id:
            if not deps[k]:
                f.write("%s %s\n" % (name[k], name[k]))
            for u in deps[k]:
                f.write("%s %s\n" % (name[u], name[k]))
    # a task nothing depends on: cancelling it changes one task only
    print("tasks=%d edges=%d levels=%d sink=%s"
          % (n, edges, max(depth) + 1, name[sinks[len(sinks) // 2]]))


# ---------------------------------------------------------------- layered

def gen_layered(a):
    """n tasks over a.layers generation layers of random width; a task of
    layer k depends on each task of the a.window layers before it with
    probability a.edge_prob (keeping at most a.max_deps of them)."""
    rng = random.Random(a.seed)
    n, nl = a.tasks, a.layers
    share = [rng.random() + 0.5 for _ in range(nl)]
    scale = n / sum(share)
    width = [max(1, int(s * scale)) for s in share]
    k = 0
    while sum(width) != n:  # fix rounding, one task at a time
        j = k % nl
        if sum(width) < n:
            width[j] += 1
        elif width[j] > 1:
            width[j] -= 1
        k += 1
    layer, first = [], 0
    for w in width:
        layer.append(range(first, first + w))
        first += w
    deps = [[] for _ in range(n)]
    for k in range(1, nl):
        cand = [u for j in range(max(0, k - a.window), k) for u in layer[j]]
        for t in layer[k]:
            d = [u for u in cand if rng.random() < a.edge_prob]
            if len(d) > a.max_deps:
                d = rng.sample(d, a.max_deps)
            deps[t] = sorted(d)
    mu = math.log(a.median)
    dur = [min(a.max_duration, max(1, int(round(rng.lognormvariate(mu, a.sigma)))))
           for _ in range(n)]

    order, succ = topo_order(n, deps)
    # level = longest path in edges from a task with no dependencies
    level = [0] * n
    for u in order:
        for v in succ[u]:
            level[v] = max(level[v], level[u] + 1)
    # finish[t] = earliest finish with unlimited slots; its max is the
    # critical path
    finish = [0] * n
    for u in order:
        start = max((finish[p] for p in deps[u]), default=0)
        finish[u] = start + dur[u]
    cp = max(finish)
    work = sum(dur)

    levels = [[] for _ in range(max(level) + 1)]
    for t in range(n):  # plan order inside each level
        levels[level[t]].append(t)

    def barrier(w, longest_first):
        total = 0
        for tasks in levels:
            if longest_first:
                tasks = sorted(tasks, key=lambda t: (-dur[t], t))
            slots = [0] * w  # busy-until of each slot, as a heap
            for t in tasks:
                heapq.heapreplace(slots, slots[0] + dur[t])
            total += max(slots)
        return total

    workers = [int(x) for x in a.workers.split(",")]
    width_id = max(4, len(str(n)))
    ident = ["t%0*d" % (width_id, t + 1) for t in range(n)]
    with open(a.ini, "w") as f:
        f.write("; gen-dag.py layered --seed %d --tasks %d --layers %d --edge-prob %g "
                "--window %d --max-deps %d --median %g --sigma %g\n"
                % (a.seed, n, nl, a.edge_prob, a.window, a.max_deps, a.median, a.sigma))
        f.write("[plan]\nname = %s\nretries = 0\n\n" % a.name)
        for t in range(n):
            f.write('[task "%s"]\nrun = true\n' % ident[t])
            if deps[t]:
                for line in depends_lines([ident[u] for u in deps[t]]):
                    f.write(line + "\n")
            f.write("duration = %ds\n\n" % dur[t])
    json.dump({
        "tasks": n,
        "edges": sum(len(d) for d in deps),
        "levels": len(levels),
        "critical_path_ms": cp * 1000,
        "work_ms": work * 1000,
        "level_by_level_ms": {str(w): barrier(w, False) * 1000 for w in workers},
        "level_by_level_lpt_ms": {str(w): barrier(w, True) * 1000 for w in workers},
    }, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="kind", required=True)

    s = sub.add_parser("scale", help="large DAG for bench/plan-scale")
    s.add_argument("--tasks", type=int, default=100000)
    s.add_argument("--deps", type=int, default=500000, help="about this many dependencies")
    s.add_argument("--window", type=int, default=5000,
                   help="a task depends only on the tasks created just before it")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--name", default="scale")
    s.add_argument("--ini", required=True)
    s.add_argument("--pairs", required=True, help="edges for tsort, 'before after'")

    l = sub.add_parser("layered", help="layered DAG for bench/schedule")
    l.add_argument("--tasks", type=int, default=1000)
    l.add_argument("--layers", type=int, default=25)
    l.add_argument("--edge-prob", type=float, default=0.04)
    l.add_argument("--window", type=int, default=3)
    l.add_argument("--max-deps", type=int, default=8)
    l.add_argument("--median", type=float, default=4.0, help="median duration, seconds")
    l.add_argument("--sigma", type=float, default=1.0)
    l.add_argument("--max-duration", type=int, default=300)
    l.add_argument("--workers", default="2,4,8,16")
    l.add_argument("--seed", type=int, default=1)
    l.add_argument("--name", default="dag")
    l.add_argument("--ini", required=True)

    a = ap.parse_args()
    if a.kind == "scale":
        if a.tasks < 2 or a.deps < 0 or a.window < 1:
            ap.error("need --tasks >= 2, --deps >= 0, --window >= 1")
        gen_scale(a)
    else:
        if a.tasks < a.layers or a.layers < 1:
            ap.error("need --tasks >= --layers >= 1")
        gen_layered(a)


if __name__ == "__main__":
    main()
