"""Peers and the one scorer for scripts/bench-partition.sh.

    python partition_peers.py score GRAPH WEIGHT K ASSIGNMENT.csv    -> JSON measures
    python partition_peers.py metis GRAPH WEIGHT K TOL SEED OUT.csv   -> seconds
    python partition_peers.py recom GRAPH WEIGHT K TOL SEED STEPS OUT.csv -> seconds

Every plan, gridpatrol's included, is scored here by the same code: deviation over/under
the mean part weight, parts that are one piece, cut edges, Polsby-Popper from the graph's
areas and perimeters where the file has them.
"""
import csv
import json
import math
import sys
import time
from collections import deque


def load(path, weight):
    with open(path) as f:
        data = json.load(f)
    if "adjacency" in data:
        nodes = data["nodes"]
        ids = [str(n["id"]) for n in nodes]
        index = {i: k for k, i in enumerate(ids)}
        w = [float(n[weight]) for n in nodes]
        adj = [[] for _ in nodes]
        lengths = True
        for u, lst in enumerate(data["adjacency"]):
            for e in lst:
                v = index[str(e["id"])]
                if v != u and v not in [x for x, _ in adj[u]]:
                    sp = e.get("shared_perim")
                    lengths &= sp is not None
                    adj[u].append((v, float(sp or 1.0)))
        for u in range(len(adj)):
            for v, sp in list(adj[u]):
                if u not in [x for x, _ in adj[v]]:
                    adj[v].append((u, sp))
        area = [n.get("area", n.get("areas")) for n in nodes]
        if lengths and all(a is not None for a in area):
            perim = [float(n.get("boundary_perim", 0.0)) + sum(sp for _, sp in adj[u]) for u, n in enumerate(nodes)]
            area = [float(a) for a in area]
        else:
            area = perim = None
        return ids, w, adj, area, perim
    feats = data["features"]
    ids = [str(f["properties"].get("ID", k)) for k, f in enumerate(feats)]
    index = {i: k for k, i in enumerate(ids)}
    w = [float(f["properties"][weight]) for f in feats]
    adj = [[] for _ in feats]
    for u, f in enumerate(feats):
        for n in f["properties"]["LIST_ADJACENT"]:
            v = index[str(n)]
            if v != u and v not in [x for x, _ in adj[u]]:
                adj[u].append((v, 1.0))
    for u in range(len(adj)):
        for v, sp in list(adj[u]):
            if u not in [x for x, _ in adj[v]]:
                adj[v].append((u, sp))
    return ids, w, adj, None, None


def score(path, weight, k, assignment):
    ids, w, adj, area, perim = load(path, weight)
    parts = sorted(set(assignment))
    pw = {p: 0.0 for p in parts}
    for u, p in enumerate(assignment):
        pw[p] += w[u]
    mean = sum(w) / k
    over = max(pw[p] / mean - 1 for p in parts)
    under = max(1 - pw[p] / mean for p in parts) if len(parts) == k else 1.0
    cut = sum(1 for u in range(len(adj)) for v, _ in adj[u] if v > u and assignment[u] != assignment[v])
    connected = 0
    for p in parts:
        members = [u for u in range(len(adj)) if assignment[u] == p]
        seen = {members[0]}
        q = deque([members[0]])
        while q:
            x = q.popleft()
            for v, _ in adj[x]:
                if assignment[v] == p and v not in seen:
                    seen.add(v)
                    q.append(v)
        connected += len(seen) == len(members)
    pp_mean = pp_min = None
    if area is not None:
        pp = []
        for p in parts:
            a = sum(area[u] for u in range(len(adj)) if assignment[u] == p)
            per = sum(perim[u] for u in range(len(adj)) if assignment[u] == p)
            per -= sum(sp for u in range(len(adj)) if assignment[u] == p for v, sp in adj[u] if assignment[v] == p)
            pp.append(4 * math.pi * a / per**2 if per > 0 else 0.0)
        pp_mean, pp_min = sum(pp) / len(pp), min(pp)
    return {"parts": len(parts), "max_over": over, "max_under": under, "connected": connected, "cut_edges": cut, "pp_mean": pp_mean, "pp_min": pp_min}


def read_assignment(path, ids):
    rows = {r["unit"]: r["grid"] for r in csv.DictReader(open(path))}
    labels = sorted(set(rows.values()))
    return [labels.index(rows[i]) for i in ids]


def write_assignment(path, ids, parts):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["unit", "grid"])
        for i, p in zip(ids, parts):
            out.writerow([i, p])


def metis(path, weight, k, tol, seed, out):
    import pymetis
    ids, w, adj, _, _ = load(path, weight)
    scale = 1.0 if all(float(x).is_integer() for x in w) else 1000.0
    opts = pymetis.Options(ufactor=max(1, int(round(tol * 1000))), contig=1, ncuts=10, seed=seed)
    started = time.perf_counter()
    _, parts = pymetis.part_graph(k, adjacency=[[v for v, _ in a] for a in adj], vweights=[int(round(x * scale)) for x in w], options=opts)
    seconds = time.perf_counter() - started
    write_assignment(out, ids, parts)
    return seconds


def recom(path, weight, k, tol, seed, steps, out):
    """GerryChain 1.x: a recursive-tree initial plan, then `steps` ReCom steps within the
    tolerance; the plan with the fewest cut edges seen is kept."""
    import random
    from functools import partial
    import networkx as nx
    from gerrychain import Graph, MarkovChain, Partition, accept, constraints, updaters
    from gerrychain.partition.initial_partition_generators import recursive_tree_part
    from gerrychain.proposals import recom as recom_proposal
    rng = random.Random(seed)
    ids, w, adj, _, _ = load(path, weight)
    g = nx.Graph()
    for u in range(len(adj)):
        g.add_node(u, pop=w[u])
    for u in range(len(adj)):
        for v, _ in adj[u]:
            g.add_edge(u, v)
    graph = Graph.from_networkx(g)
    started = time.perf_counter()
    ideal = sum(w) / k
    assignment = recursive_tree_part(graph, range(k), ideal, "pop", tol * 0.9, node_repeats=0, rng=rng)
    initial = Partition(graph, assignment, updaters={"population": updaters.Tally("pop", alias="population"), "cut_edges": updaters.cut_edges})
    proposal = partial(recom_proposal, pop_col="pop", pop_target=ideal, epsilon=tol, node_repeats=0, rng=rng)
    chain = MarkovChain(proposal, [constraints.within_percent_of_ideal_population(initial, tol)], accept.always_accept, initial, total_steps=steps, rng=rng)
    best = None
    for state in chain:
        c = len(state["cut_edges"])
        if best is None or c < best[0]:
            best = (c, {u: state.assignment[u] for u in range(len(ids))})
    seconds = time.perf_counter() - started
    write_assignment(out, ids, [best[1][u] for u in range(len(ids))])
    return seconds


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "score":
        path, weight, k, apath = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
        ids = load(path, weight)[0]
        print(json.dumps(score(path, weight, k, read_assignment(apath, ids))))
    elif cmd == "metis":
        print(metis(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), sys.argv[7]))
    elif cmd == "recom":
        print(recom(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]))
