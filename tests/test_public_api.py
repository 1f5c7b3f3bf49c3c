import importlib
import subprocess
import sys

import pytest

import ociforge
from tests.support.cli import ROOT


def test_every_public_name_resolves_and_is_documented() -> None:
    assert ociforge.__all__ == sorted(ociforge.__all__, key=lambda n: (n[0].islower(), n))
    for name in ociforge.__all__:
        value = getattr(ociforge, name)
        if name != "__version__":
            assert value.__doc__, f"{name} has no docstring"


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        ociforge.no_such_thing  # noqa: B018


def test_importing_a_submodule_loads_little() -> None:
    """Lazy exports: the streaming core does not drag in the registry, RPM or tar code."""
    code = "import sys, ociforge.streams; print(sorted(m for m in sys.modules if m.startswith(('ociforge', 'requests', 'cryptography'))))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    loaded = eval(out)
    assert "requests" not in loaded and "cryptography" not in loaded, loaded
    assert not any(
        m.startswith(("ociforge.registry", "ociforge.rpm", "ociforge.tar")) for m in loaded
    ), loaded
    importlib.import_module("ociforge.streams")
