"""Topological order and cycle naming over steps, in O((V + E) log V).

`upstream[x]` lists the steps x waits for. Order is stable: among steps that
are ready at the same time, the one written first comes first.
"""

from __future__ import annotations

import heapq


def topological_order(names: list[str], upstream: dict[str, list[str]]) -> list[str]:
    """Steps in dependency order; steps caught in a cycle are left out."""
    index = {name: i for i, name in enumerate(names)}
    waiting = {name: len(set(upstream[name])) for name in names}
    downstream: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for up in set(upstream[name]):
            downstream[up].append(name)
    ready = [index[name] for name in names if waiting[name] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for down in downstream[name]:
            waiting[down] -= 1
            if waiting[down] == 0:
                heapq.heappush(ready, index[down])
    return order


def find_cycles(names: list[str], upstream: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per tangle, each as `[a, b, ..., a]` in the direction data flows."""
    position = {name: i for i, name in enumerate(names)}
    done = set(topological_order(names, upstream))
    left = [n for n in names if n not in done]
    cycles = []
    while left:
        remaining = set(left)
        # Every step left has an upstream step that is also left; walking
        # upstream from the first one must come back to a step already seen.
        path, seen = [left[0]], {left[0]: 0}
        while True:
            nxt = min((u for u in upstream[path[-1]] if u in remaining), key=position.__getitem__)
            if nxt in seen:
                loop = path[seen[nxt]:]
                break
            seen[nxt] = len(path)
            path.append(nxt)
        loop.reverse()  # walked upstream; report downstream
        loop = _rotate_to_first(loop, position)
        cycles.append(loop + [loop[0]])
        # Drop this cycle, then everything that only waited on it.
        remaining -= set(loop)
        sub = [n for n in left if n in remaining]
        sub_upstream = {n: [u for u in upstream[n] if u in remaining] for n in sub}
        freed = set(topological_order(sub, sub_upstream))
        left = [n for n in sub if n not in freed]
    return cycles


def _rotate_to_first(loop: list[str], position: dict[str, int]) -> list[str]:
    start = min(range(len(loop)), key=lambda i: position[loop[i]])
    return loop[start:] + loop[:start]
