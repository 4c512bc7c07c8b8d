"""The package's layers: which may import which, and the light install's promise (no TensorFlow)."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import robojam

PACKAGE = Path(robojam.__file__).resolve().parent
# Layer -> the layers its modules may import (besides names defined in robojam/__init__.py).
MAY_IMPORT = {
    "core": {"core"},
    "live": {"core", "live"},
    "train": {"core", "train"},
    "tools": {"core", "live", "train", "tools"},
    "top": {"core", "live", "train", "tools", "top"},
}


LAYERS = ("core", "live", "train", "tools")


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "top"


def package_modules() -> list[str]:
    """The package's code: its top modules and its layers (an installed copy also holds data packages:
    robojam.models, robojam.presets, robojam.webclient)."""
    names = []
    paths = list(PACKAGE.glob("*.py")) + [p for layer in LAYERS for p in (PACKAGE / layer).rglob("*.py")]
    for path in sorted(paths):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(("robojam",) + parts))
    return names


def robojam_imports(source: str) -> list[tuple[int, str]]:
    """(line, module imported) for every import of a robojam module, lazy ones in functions too."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("robojam.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("robojam"):
            if node.module == "robojam":  # names from the package itself, or its modules
                found += [(node.lineno, f"robojam.{a.name}") for a in node.names
                          if (PACKAGE / a.name).is_dir() or (PACKAGE / f"{a.name}.py").exists()]
            else:
                found.append((node.lineno, node.module))
    return sorted(found)


def test_layers_are_folders_with_few_modules_left_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top
    for layer in LAYERS:
        assert (PACKAGE / layer / "__init__.py").is_file()
    assert set(MAY_IMPORT) == set(LAYERS) | {"top"}


@pytest.mark.parametrize("module", [m for m in package_modules() if m != "robojam"])
def test_imports_run_one_way(module):
    allowed = MAY_IMPORT[layer_of(module)]
    source = Path(importlib.util.find_spec(module).origin).read_text()
    wrong = [f"line {line}: {target}" for line, target in robojam_imports(source)
             if layer_of(target) not in allowed]
    assert not wrong, f"{module} ({layer_of(module)}) imports across its layer's boundary: {wrong}"


def test_the_import_check_sees_lazy_and_package_imports():
    source = ("import numpy\ndef f():\n    from robojam.live.server import Server\n"
              "from robojam import RobojamError, live\n")
    assert robojam_imports(source) == [(3, "robojam.live.server"), (4, "robojam.live")]
    assert "live" not in MAY_IMPORT[layer_of("robojam.core.anything")]


def test_nothing_outside_training_imports_tensorflow_or_keras():
    modules = [m for m in package_modules() if layer_of(m) != "train" and m != "robojam.__main__"]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'keras_mdn_layer') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", f"the serving side loaded {out.stdout.strip()}"
