"""Read a release's A/B experiments back from Temporal's history (no worker needed).

Every look of an experiment is one ``ferryman.experiment`` activity of a
region deploy: its input names the variants, its result holds the cumulative
exposures and conversions and the judgement. Reading the history rather than
asking a worker works for running and finished releases alike::

    looks = await experiment_looks(client, "release/shop/prod/7")
    looks[-1].judgement.reason   # "v2 converts better than v1: lift +180.0%, …"
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from ferryman.analysis.models import Judgement
from ferryman.analysis.runs import ExperimentState
from ferryman.errors import ReleaseError
from ferryman.temporal.client.releases import release_progress
from ferryman.temporal.models.analysis import ExperimentInput
from ferryman.temporal.names import region_deploy_id

EXPERIMENT_ACTIVITY = "ferryman.experiment"


class ExperimentLook(BaseModel):
    """One look at an experiment: who was compared, when, and the judgement then."""

    model_config = ConfigDict(frozen=True)

    region: str
    service: str
    control: str
    treatment: str
    at: datetime
    judgement: Judgement


async def experiment_looks(
    client: Client, release_id: str, regions: list[str] | None = None
) -> list[ExperimentLook]:
    """Every judged look of every experiment of a release, oldest first.

    Args:
        client: Connected client.
        release_id: The release, e.g. ``release/shop/prod/7``.
        regions: Only these regions (default: every region the release started).

    Raises:
        ReleaseError: No such release.
    """
    if regions is None:
        progress, _ = await release_progress(client, release_id)
        if progress is None:
            raise ReleaseError(f"no release {release_id!r} (see `ferryman status`)")
        regions = [region for region, state in progress.regions.items() if state != "pending"]
    looks: list[ExperimentLook] = []
    for region in regions:
        looks += await _region_looks(client, region_deploy_id(release_id, region), region)
    return sorted(looks, key=lambda look: look.at)


async def _region_looks(client: Client, workflow_id: str, region: str) -> list[ExperimentLook]:
    handle = client.get_workflow_handle(workflow_id)
    inputs: dict[int, ExperimentInput] = {}
    looks: list[ExperimentLook] = []
    converter = client.data_converter
    try:
        async for event in handle.fetch_history_events():
            if event.HasField("activity_task_scheduled_event_attributes"):
                scheduled = event.activity_task_scheduled_event_attributes
                if scheduled.activity_type.name == EXPERIMENT_ACTIVITY:
                    [data] = await converter.decode(scheduled.input.payloads, [ExperimentInput])
                    inputs[event.event_id] = data
            elif event.HasField("activity_task_completed_event_attributes"):
                completed = event.activity_task_completed_event_attributes
                data = inputs.get(completed.scheduled_event_id)
                if data is None:
                    continue
                [state] = await converter.decode(completed.result.payloads, [ExperimentState])
                if state.judgement is None or state.looks == 0:
                    continue  # the first look only marks where counting starts
                looks.append(
                    ExperimentLook(
                        region=region,
                        service=data.service,
                        control=data.control,
                        treatment=data.treatment,
                        at=event.event_time.ToDatetime(),
                        judgement=state.judgement,
                    )
                )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return []
        raise
    return looks
