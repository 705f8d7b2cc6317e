"""The package's public API: everything in ``__all__`` resolves, importing is side-effect free."""

from __future__ import annotations

import subprocess
import sys

import ferryman


def test_every_public_name_resolves() -> None:
    for name in ferryman.__all__:
        assert getattr(ferryman, name) is not None, name


def test_import_loads_no_models() -> None:
    code = "import sys, ferryman; print(any(m.startswith('ferryman.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_all_matches_the_lazy_exports() -> None:
    assert set(ferryman.__all__) == {*ferryman._EXPORTS, "__version__"}
