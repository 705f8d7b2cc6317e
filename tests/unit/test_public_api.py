"""The package's public API: each name is the object of the module it claims; importing is light."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys

import pytest

import ferryman

HEAVY = ("temporalio", "pydantic", "httpx", "aiohttp", "numpy", "scipy", "rich", "typer", "ruamel")


def loaded_after(code: str) -> list[str]:
    """The ferryman submodules and heavy libraries a fresh interpreter has loaded after ``code``."""
    probe = (
        f"import sys; {code}; heavy = {HEAVY!r};"
        " print(' '.join(sorted(m for m in sys.modules"
        " if m.startswith('ferryman.') or m.split('.')[0] in heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("name", sorted(set(ferryman.__all__) - {"__version__"}))
def test_each_public_name_is_the_object_of_the_module_it_claims(name: str) -> None:
    claimed = ferryman._EXPORTS[name]
    module = importlib.import_module(claimed)
    exported = getattr(ferryman, name)
    assert exported is getattr(module, name), f"ferryman.{name} is not {claimed}.{name}"
    defined_in = exported.__module__
    assert defined_in == claimed or defined_in.startswith(claimed + "."), (
        f"ferryman.{name} claims {claimed} but is defined in {defined_in}"
    )


def test_all_matches_the_lazy_exports_and_an_unknown_name_fails() -> None:
    assert set(ferryman.__all__) == {*ferryman._EXPORTS, "__version__"}
    assert len(ferryman.__all__) == len(set(ferryman.__all__))
    with pytest.raises(AttributeError, match="module 'ferryman' has no attribute 'Nope'"):
        ferryman.Nope  # noqa: B018


def test_the_version_is_the_installed_distributions() -> None:
    assert ferryman.__version__ == importlib.metadata.version("ferryman")


def test_import_loads_no_submodule_and_no_heavy_library() -> None:
    assert loaded_after("import ferryman") == []


def test_a_light_name_loads_only_what_it_needs() -> None:
    loaded = loaded_after("import ferryman; ferryman.FerrymanError")
    assert loaded == ["ferryman.errors"]


LAZY_PACKAGES = ("ferryman", "ferryman.build", "ferryman.metrics")


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_packages_export_the_objects_they_claim_in_any_import_order(package: str) -> None:
    # Every claimed module imported first: a lazily exported name that is also a
    # submodule's name would now be the submodule, not the object.
    code = (
        f"import importlib, {package} as p;"
        " [importlib.import_module(m) for m in set(p._EXPORTS.values())];"
        " bad = [n for n, m in p._EXPORTS.items()"
        " if getattr(p, n) is not getattr(importlib.import_module(m), n)];"
        " assert sorted(p.__all__) == sorted({*p._EXPORTS} | ({'__version__'} & {*p.__all__}));"
        " print(' '.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [], f"{package} exports these as something else"
