"""Join planning: which cubes a query reads, joined from which root, in which order.

A view's members carry their join path (the view fixes the tree); members of plain cubes are
joined along the shortest paths of the cubes' declared joins from the first cube that reaches
them all (breadth first, so the order is stable).
"""

from __future__ import annotations

from crosstrack.cube.errors import QueryError
from crosstrack.cube.model import Model
from crosstrack.cube.plan import JoinEdge, JoinPlan, MemberRef


def plan_joins(model: Model, members: list[MemberRef]) -> JoinPlan:
    cubes: list[str] = []
    for r in members:
        if r.cube not in cubes:
            cubes.append(r.cube)
    if any(r.owner in model.views for r in members):
        edges: list[JoinEdge] = []
        for r in members:
            for a, b in zip(r.join_path, r.join_path[1:]):
                if not any(e.source == a and e.target == b for e in edges):
                    edges.append(_edge(model, a, b))
        return JoinPlan(members[0].join_path[0], tuple(edges))
    for root in cubes:
        tree = _shortest_paths(model, root, set(cubes))
        if tree is not None:
            return JoinPlan(root, tree)
    raise QueryError("these cubes cannot be joined: " + ", ".join(cubes), member=members[-1].full_name,
                     code="invalid_query")


def _edge(model: Model, a: str, b: str) -> JoinEdge:
    j = model.cubes[a].joins.get(b) or model.cubes[b].joins.get(a)
    return JoinEdge(a, b, j.owner, j.relationship)


def _shortest_paths(model: Model, root: str, need: set[str]) -> tuple[JoinEdge, ...] | None:
    prev: dict[str, str] = {root: root}
    queue = [root]
    while queue:
        cur = queue.pop(0)
        for tgt in model.cubes[cur].joins:
            if tgt not in prev:
                prev[tgt] = cur
                queue.append(tgt)
    if not need <= set(prev):
        return None
    edges: list[JoinEdge] = []
    for c in need:
        path = [c]
        while path[-1] != root:
            path.append(prev[path[-1]])
        path.reverse()
        for a, b in zip(path, path[1:]):
            if not any(e.source == a and e.target == b for e in edges):
                edges.append(_edge(model, a, b))
    order = {c: i for i, c in enumerate(prev)}
    edges.sort(key=lambda e: order[e.target])
    return tuple(edges)
