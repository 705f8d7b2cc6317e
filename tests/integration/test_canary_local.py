"""Level 7 on the real local platform: canaries judged on the routers' real metrics.

Real Temporal dev server, real agent, instance processes of the shop's checkout
service and a real router, with steady traffic from many sticky users. The
analysis activity reads the routers' counters (``local``) or a real Prometheus
(Debian's ``prometheus``) scraping them. Every assertion is about what was
served or what the agent did; the figures printed (``-s``) are observations,
never assertions on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from ferryman.analysis.templates import AnalysisQuery, MetricPlan, TemplatePlan
from ferryman.analysis.threshold import ThresholdConfig
from ferryman.cli.live import render_analysis
from ferryman.deploy.strategies import CanaryOptions
from ferryman.deploy.strategies.canary import AnalysisStep, SetWeight
from ferryman.devstack.prometheus import PrometheusProcess
from ferryman.providers.local import LocalProvider
from ferryman.temporal.activities.analysis import MetricSources
from ferryman.temporal.models.region import Decision
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing import AgentProcess, free_port
from ferryman.testing.workers import serving

from .canary_helpers import (
    ZONES,
    RegionHandle,
    ShopDeployer,
    error_template,
    load,
    store_checkout_app,
    wait_until_phase,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

HAS_PROMETHEUS = shutil.which("prometheus") is not None or Path("/usr/bin/prometheus").exists()


@pytest.fixture
def prometheus(agent: AgentProcess, tmp_path: Path) -> Iterator[PrometheusProcess]:
    if not HAS_PROMETHEUS:
        pytest.skip("prometheus is not installed (CI installs the Debian package)")
    process = PrometheusProcess(tmp_path / "prometheus", free_port(), agent.url, interval=1.0)
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def deployer(
    dev_client: Client, agent: AgentProcess, ferryman_home: Path, tmp_path: Path
) -> AsyncIterator[ShopDeployer]:
    metrics = MetricSources(agent.url)
    async with serving(dev_client, local_providers(agent.url), ["eu-1"], metrics=metrics) as queue:
        yield ShopDeployer(dev_client, queue, store_checkout_app(tmp_path))


@pytest.fixture
async def prometheus_deployer(
    dev_client: Client,
    agent: AgentProcess,
    prometheus: PrometheusProcess,
    ferryman_home: Path,
    tmp_path: Path,
) -> AsyncIterator[ShopDeployer]:
    metrics = MetricSources(agent.url, prometheus.url)
    async with serving(dev_client, local_providers(agent.url), ["eu-1"], metrics=metrics) as queue:
        yield ShopDeployer(dev_client, queue, store_checkout_app(tmp_path))


def walk(template: TemplatePlan, *weights: int) -> CanaryOptions:
    steps: list[object] = []
    for weight in weights:
        steps.append(SetWeight(weight=weight))
        if weight < 100:
            steps.append(AnalysisStep(templates=(template,)))
    return CanaryOptions.model_validate({"steps": steps, "scale_down_delay_s": 0})


async def served(url: str, n: int = 40) -> set[str]:
    """The versions that answered ``n`` requests from as many users."""
    async with httpx.AsyncClient(timeout=5) as http:
        answers = [await http.get(url, headers={"X-User-Id": f"probe-{i}"}) for i in range(n)]
    return {answer.headers["X-Ferryman-Version"] for answer in answers}


async def status_line(handle: RegionHandle) -> str:
    """What ``ferryman status`` shows of the analysis once it has judged a few looks."""
    for _ in range(600):
        with contextlib.suppress(RPCError):
            progress = await handle.query(RegionDeployWorkflow.progress)
            view = progress.services[0] if progress.services else None
            if view is not None and "interval 3 of" in view.analysis:
                console = Console(width=250, record=True, file=io.StringIO())
                for line in render_analysis([progress]):
                    console.print(line)
                return console.export_text().strip()
        await asyncio.sleep(0.1)
    raise AssertionError("the analysis never showed up in the status")


async def test_good_canary_walks_5_25_50_100_and_is_promoted(
    deployer: ShopDeployer, agent: AgentProcess
) -> None:
    first = await deployer.stable("v1")
    provider = LocalProvider(agent.url, environment="test")
    mark = max((e.seq for e in await provider.events()), default=0)
    started = time.monotonic()
    async with load(first.router_url) as seen:
        handle = await deployer.start("v2", walk(error_template("local"), 5, 25, 50, 100))
        status = await status_line(handle)
        result = await handle.result()
    took = time.monotonic() - started
    assert result.status == "switched"
    assert await served(first.router_url) == {"v2"}
    state = await provider.current_state("eu-1", "web")
    assert state.versions_by_zone == {zone: ["v1", "v2"] for zone in ZONES}, (
        "baseline retired, stable kept warm for finalize"
    )
    assert {"v1", "v1.baseline", "v2"} <= set(seen.stats.by_version)
    assert sum(v.errors for v in seen.stats.by_version.values()) == 0
    records = (await handle.query(RegionDeployWorkflow.analysis)).records
    runs = [(r.step, r.judgement.verdict) for r in records if r.key == "run"]
    assert runs == [(f"analysis at {w}%", "pass") for w in (5, 25, 50)]
    swaps = await provider.events("routes.set", since=mark)
    assert len(swaps) == 4, [e.detail for e in swaps]
    assert "analysis at 5%" in status
    print(f"\nferryman status during the analysis:\n{status}")
    print(
        f"\ngood canary: promoted in {took:.1f}s; requests served by version:"
        f" { {v: s.requests for v, s in seen.stats.by_version.items()} }"
    )
    for record in records:
        if record.key == "run":
            print(f"  {record.step}: {record.judgement.reason}")


async def test_bad_canary_is_rolled_back_at_5_percent_in_one_swap(
    prometheus_deployer: ShopDeployer, agent: AgentProcess
) -> None:
    deployer = prometheus_deployer
    first = await deployer.stable("v1", error_rate=0.02)
    provider = LocalProvider(agent.url, environment="test")
    mark = max((e.seq for e in await provider.events()), default=0)
    template = error_template("prometheus", margin=0.005, count=120)
    async with load(first.router_url) as seen:
        handle = await deployer.start("v2", walk(template, 5, 25, 50, 100), error_rate=0.10)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        after = await served(first.router_url)
    assert "analysis at 5% failed: error-rate/errors" in str(failure.value.cause)
    assert after == {"v1"}, "the stable version serves everything again"
    swaps = await provider.events("routes.set", since=mark)
    assert len(swaps) == 2, f"canary 5%, then one swap back: {[e.detail for e in swaps]}"
    state = await provider.current_state("eu-1", "web")
    assert state.routes is not None and state.routes.weights == {"v1": 100}
    assert state.versions_by_zone == {zone: ["v1"] for zone in ZONES}, "canary and baseline gone"
    canary_requests, bad = seen.requests("v2"), seen.errors("v2")
    assert 0 < canary_requests < 0.2 * sum(s.requests for s in seen.stats.by_version.values())
    records = (await handle.query(RegionDeployWorkflow.analysis)).records
    verdict = next(r for r in records if r.key == "run")
    exposed = swaps[1].time - swaps[0].time
    print(
        f"\nbad canary (prometheus): rolled back at 5% after {exposed:.1f}s at 5%,"
        f" {len(records) - 1} looks; canary served {canary_requests} requests, {bad} errors"
        f"\n  {verdict.judgement.reason}"
    )


async def test_inconclusive_analysis_holds_then_resumes_on_promote(
    deployer: ShopDeployer, agent: AgentProcess
) -> None:
    first = await deployer.stable("v1")
    band = ThresholdConfig(
        success_condition="result < 0.01",
        failure_condition="result > 0.3",
        count=3,
        interval_s=3,
    )
    doubtful = TemplatePlan(
        name="error-band",
        metrics=(
            MetricPlan(
                name="error-rate",
                source="local",
                query=AnalysisQuery(kind="error_rate"),
                judge=band,
                interval_s=3,
                count=3,
            ),
        ),
    )
    options = CanaryOptions(
        steps=(SetWeight(weight=20), AnalysisStep(templates=(doubtful,)), SetWeight(weight=50)),
        baseline="stable",
        scale_down_delay_s=0,
    )
    async with load(first.router_url) as seen:
        handle = await deployer.start("v2", options, error_rate=0.08)
        await wait_until_phase(handle, "awaiting-promotion")
        view = (await handle.query(RegionDeployWorkflow.progress)).services[0]
        assert view.phase == "hold" and "inconclusive" in view.analysis
        held = await LocalProvider(agent.url, environment="test").current_state("eu-1", "web")
        assert held.routes is not None and held.routes.weights == {"v2": 20, "v1": 80}
        answer = await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="alice"))
        assert answer == "eu-1: promoted by alice"
        assert (await handle.result()).status == "switched"
    assert await served(first.router_url) == {"v2"}
    assert seen.requests("v2") > 0
    records = (await handle.query(RegionDeployWorkflow.analysis)).records
    assert [r.key for r in records if r.key in ("run", "decision")] == ["run", "decision"]
    print(f"\ninconclusive: {next(r for r in records if r.key == 'run').judgement.reason}")
