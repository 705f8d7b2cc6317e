"""docs/spec.md is generated from the spec models: the committed page is the generated one."""

from __future__ import annotations

import difflib

import pytest

from ferryman.spec.reference import GENERATED_BY, markdown

from .markdown import ROOT


def test_docs_spec_md_is_the_generated_reference() -> None:
    committed = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    generated = markdown()
    if committed != generated:
        diff = difflib.unified_diff(
            committed.splitlines(),
            generated.splitlines(),
            "docs/spec.md (committed)",
            "docs/spec.md (generated)",
            lineterm="",
            n=1,
        )
        pytest.fail(
            f"docs/spec.md is out of date with the models; run `{GENERATED_BY}`:\n"
            + "\n".join(list(diff)[:40]),
            pytrace=False,
        )


def test_every_spec_key_is_in_the_reference() -> None:
    from ferryman.spec.reference import collect

    keys = {row[0] for section in collect() for row in section.rows}
    for key in ("`blue-green`", "`traffic-steps`", "`outputs`", "`timeout-minutes`"):
        assert key in keys
    assert not any("_s`" in key for key in keys), "Python option names are not spec keys"
