"""The level-1 strategy's pure decisions."""

from __future__ import annotations

from ferryman.deploy.replace import derive_version, is_live
from ferryman.platform.models import RouteTable, ServiceState


def state(by_zone: dict[str, list[str]], weights: dict[str, int] | None) -> ServiceState:
    routes = RouteTable(service="web", weights=weights) if weights is not None else None
    return ServiceState(region="r", service="web", versions_by_zone=by_zone, routes=routes)


def test_is_live_needs_routes_and_every_zone() -> None:
    assert is_live(state({"a": ["v2"], "b": ["v2"]}, {"v2": 100}), "v2", ("a", "b"))
    assert not is_live(state({"a": ["v2"]}, {"v2": 100}), "v2", ("a", "b"))
    assert not is_live(state({"a": ["v1", "v2"], "b": ["v2"]}, {"v2": 100}), "v2", ("a", "b"))
    assert not is_live(state({"a": ["v2"], "b": ["v2"]}, {"v1": 100}), "v2", ("a", "b"))
    assert not is_live(state({}, None), "v2", ("a",))


def test_a_table_with_rules_or_a_mirror_is_not_live() -> None:
    from ferryman.platform.models import Mirror, RouteRule

    base = state({"a": ["v2"]}, {"v2": 100})
    assert base.routes is not None
    preview = RouteRule(version="v1", header="X-Tester", equals="1")
    with_rule = base.model_copy(
        update={"routes": base.routes.model_copy(update={"rules": (preview,)})}
    )
    mirrored = base.model_copy(
        update={
            "routes": base.routes.model_copy(update={"mirror": Mirror(version="v1", percent=5)})
        }
    )
    assert is_live(base, "v2", ("a",))
    assert not is_live(with_rule, "v2", ("a",))
    assert not is_live(mirrored, "v2", ("a",))


def test_derive_version() -> None:
    assert derive_version("0123456789abcdef0123") == "0123456789ab"
    assert derive_version("0123456789abcdef-dirty") == "0123456789ab-dirty"
    assert derive_version("sha256:ffeeddccbbaa99887766") == "ffeeddccbbaa"
    assert derive_version("") == "unknown"
