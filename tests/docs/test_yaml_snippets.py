"""Every YAML snippet in the README and docs/ is a spec that `ferryman validate` accepts.

A snippet that is only part of a spec says so with ``<!-- docs-test: fragment -->``
on the line above its fence (it must still parse as YAML); pages other teams own
may list their fragments in ``FRAGMENTS`` instead.
"""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from ferryman.errors import SpecError
from ferryman.spec.load import load_spec_text

from .markdown import YAMLS, Block, blocks, pages

FRAGMENTS = {
    ("docs/analysis.md", "analysis:"): "the analysis section alone, not a whole spec",
}
"""(page, first line) → why a snippet on a page without markers is a fragment."""


def _snippets() -> list[Block]:
    return [block for page in pages() for block in blocks(page) if block.lang in YAMLS]


def _fragment(block: Block) -> bool:
    first = block.text.strip().splitlines()[0] if block.text.strip() else ""
    return block.marker == "fragment" or (block.file, first) in FRAGMENTS


@pytest.mark.parametrize("block", _snippets(), ids=lambda b: f"{b.file}:{b.line}")
def test_yaml_snippet_validates(block: Block) -> None:
    if _fragment(block):
        YAML(typ="safe").load(block.text)  # a fragment must still be YAML
        return
    try:
        load_spec_text(block.text, block.file)
    except SpecError as exc:
        located = [
            f"{block.file}:{block.line + issue.line - 1}:{issue.column}: {issue.path}: "
            f"{issue.message}"
            for issue in exc.issues
        ]
        pytest.fail(
            "a YAML snippet in the docs does not validate (mark a partial one with "
            "<!-- docs-test: fragment -->):\n" + "\n".join(located),
            pytrace=False,
        )


def test_the_docs_have_yaml_snippets() -> None:
    assert len(_snippets()) >= 4
