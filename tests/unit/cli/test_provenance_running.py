"""Which running instances `ferryman provenance --instance/--region --service` starts from."""

from __future__ import annotations

import pytest

from ferryman.cli.provenance import running_instances
from ferryman.errors import BuildError
from ferryman.platform.models import Instance


def _instance(
    id: str, env: str = "dev", region: str = "eu-1", service: str = "web", state: str = "healthy"
) -> Instance:
    return Instance(
        id=id, region=region, zone="a", service=service, version="v1", port=1, pid=1,
        state=state, environment=env, artifact_digest="sha256:" + "a" * 64,
    )  # fmt: skip


INSTANCES = [
    _instance("web-1"),
    _instance("web-2", state="stopped"),
    _instance("api-1", service="api"),
    _instance("web-3", env="prod"),
]


IN_DEV = " in environment 'dev'"
BOTH = "(dev, prod): pass --env"


def test_an_instance_by_id_stopped_or_not() -> None:
    assert [i.id for i in running_instances(INSTANCES, "web-2", None, None, None)] == ["web-2"]
    with pytest.raises(BuildError, match="no instance 'web-3' in environment 'dev'"):
        running_instances(INSTANCES, "web-3", None, None, "dev")


def test_a_service_of_a_region_only_what_runs() -> None:
    found = running_instances(INSTANCES, None, "eu-1", "web", "dev")
    assert [i.id for i in found] == ["web-1"]


@pytest.mark.parametrize(
    ("instance", "region", "service", "env", "message"),
    [
        (None, "us-1", "web", None, "no region 'us-1' runs anything (regions running: eu-1)"),
        (None, "eu-1", "ui", "dev", f"no service 'ui' runs in eu-1{IN_DEV} (it runs: api, web)"),
        (None, "eu-1", "web", None, f"web runs in eu-1 of several environments {BOTH}"),
        (None, "eu-1", None, None, "--region and --service go together"),
        ("web-1", "eu-1", "web", None, "give --instance, or --region with --service, not both"),
    ],
)  # fmt: skip
def test_one_line_refusals(
    instance: str | None, region: str | None, service: str | None, env: str | None, message: str
) -> None:
    with pytest.raises(BuildError) as refused:
        running_instances(INSTANCES, instance, region, service, env)
    assert str(refused.value) == message
