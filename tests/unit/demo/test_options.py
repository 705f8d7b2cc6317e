"""``DEMO_*`` variables: defaults for ``make demo``, shortened runs for the test, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.demo.options import DemoOptions
from ferryman.devstack import StackConfig
from ferryman.errors import FerrymanError

EXAMPLES = Path("examples")


def test_make_demo_needs_no_variable() -> None:
    options = DemoOptions.from_env(EXAMPLES, {})
    assert not options.interactive and not options.keep
    assert options.stack == StackConfig(), "the default ports, where the docs say"
    assert (options.bake, options.canary_weight, options.summary_json) == ("5s", 25, None)


def test_interactive_keeps_the_stack_up_and_the_test_gets_free_ports() -> None:
    assert DemoOptions.from_env(EXAMPLES, {"DEMO_INTERACTIVE": "1"}).keep
    options = DemoOptions.from_env(
        EXAMPLES,
        {
            "DEMO_FREE_PORTS": "yes",
            "DEMO_BAKE": "1s",
            "DEMO_ANALYSIS_INTERVAL": "0.5",
            "DEMO_RPS": "60",
            "DEMO_SUMMARY_JSON": "/tmp/x.json",
        },
    )
    assert options.stack.temporal_port != 7233 and options.stack.server_port != 7490
    assert (options.bake, options.analysis_interval_s, options.rps) == ("1s", 0.5, 60.0)
    assert options.summary_json == Path("/tmp/x.json")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEMO_RPS", "many", "DEMO_RPS='many': expected a number"),
        ("DEMO_CANARY_WEIGHT", "80", "DEMO_CANARY_WEIGHT=80: expected a number from 1 to 50"),
    ],
)
def test_a_bad_variable_is_named_with_its_value(name: str, value: str, message: str) -> None:
    with pytest.raises(FerrymanError, match=message):
        DemoOptions.from_env(EXAMPLES, {name: value})
