"""The pure DAG decisions: cycles, order, bottom levels, ready sets, throttles."""

from __future__ import annotations

import pytest

from ferryman import dag


def test_find_cycle_returns_the_full_closed_path() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}
    assert dag.find_cycle(graph) == ["a", "b", "c", "a"]
    assert dag.find_cycle({"a": [], "b": ["a"]}) is None


def test_topological_order_puts_needs_first_and_rejects_cycles() -> None:
    graph = {"app": ["lib", "ui"], "ui": [], "lib": ["base"], "base": []}
    order = dag.topological_order(graph)
    for node, needs in graph.items():
        assert all(order.index(n) < order.index(node) for n in needs)
    with pytest.raises(ValueError, match="a → b → a"):
        dag.topological_order({"a": ["b"], "b": ["a"]})


def test_bottom_levels_weight_the_longest_remaining_path() -> None:
    graph = {"lib": [], "api": ["lib"], "web": ["api"], "ui": []}
    levels = dag.bottom_levels(graph, {"lib": 2, "api": 3, "web": 1, "ui": 5})
    assert levels == {"lib": 6, "api": 4, "web": 1, "ui": 5}
    assert dag.bottom_levels(graph, {})["lib"] == 3


def test_critical_path_and_depth_levels() -> None:
    graph = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    path, weight = dag.critical_path(graph, {"c": 4})
    assert path == ["a", "c", "d"]
    assert weight == 6
    assert dag.depth_levels(graph) == [["a"], ["b", "c"], ["d"]]


def test_ready_and_blocked_follow_outcomes() -> None:
    graph = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    assert dag.ready_nodes(graph, {}, set()) == ["a", "d"]
    assert dag.ready_nodes(graph, {"a": "succeeded"}, {"a"}) == ["b", "d"]
    assert dag.blocked_nodes(graph, {"a": "failed"}, {"a"}) == ["b"]


def test_pick_next_prefers_priority_within_throttles() -> None:
    ready = ["short", "long", "mid"]
    priority = {"short": 1, "long": 9, "mid": 5}
    assert dag.pick_next(ready, [], priority, dag.Throttle(max_parallel=2)) == ["long", "mid"]
    assert dag.pick_next(ready, ["x"], priority, dag.Throttle(max_parallel=2)) == ["long"]
    per_repo = dag.Throttle(
        per_group={"svc": 1}, group_of={"short": "svc", "long": "svc", "mid": "ui"}
    )
    assert dag.pick_next(ready, [], priority, per_repo) == ["long", "mid"]
    assert dag.pick_next(["a", "b"], [], {}, dag.Throttle()) == ["a", "b"]


def test_downstream_includes_roots_and_everything_after() -> None:
    graph = {"lib": [], "api": ["lib"], "web": ["api"], "ui": []}
    assert dag.downstream(graph, ["lib"]) == {"lib", "api", "web"}


def test_priority_keys_rank_by_fifths() -> None:
    priority = {f"n{i}": float(i) for i in range(10)}
    keys = dag.priority_keys(priority)
    assert keys["n9"] == 1
    assert keys["n0"] == 5
    assert sorted(set(keys.values())) == [1, 2, 3, 4, 5]


def test_simulate_gives_the_list_schedule_makespan() -> None:
    graph = {"a": [], "b": [], "c": ["a"]}
    weights = {"a": 2.0, "b": 3.0, "c": 2.0}
    assert dag.simulate(graph, weights, 1) == 7.0
    assert dag.simulate(graph, weights, None) == 4.0
