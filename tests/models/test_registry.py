"""Model discovery by package scan: every model module of ``unisr.models`` registers without a list to edit."""

import ast
import sys
from pathlib import Path

import pytest

import unisr.models
from unisr.models.registry import MODELS, get_model_info, load_builtin_models, load_models

MODELS_DIR = Path(unisr.models.__file__).parent


def registering_modules() -> set[str]:
    """Modules of the package whose source applies ``@register_model(...)`` to a class."""
    out = set()
    for path in MODELS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(d, ast.Call) and getattr(d.func, "id", None) == "register_model"
                    for d in node.decorator_list):
                out.add(f"unisr.models.{path.stem}")
    return out


def test_every_module_with_a_registered_model_is_discovered():
    load_builtin_models()
    found = {info.cls.__module__ for info in MODELS.values()}
    expected = registering_modules()
    assert len(expected) >= 20
    assert expected <= found, f"not discovered: {sorted(expected - found)}"
    assert get_model_info("dnn").cls.__name__ == "DNN"


def test_a_new_model_file_registers_without_registry_edits(tmp_path, monkeypatch):
    pkg = tmp_path / "a1_extra_models"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tiny.py").write_text(
        "from torch import nn\n"
        "from unisr.models.registry import ModelConfig, register_model\n\n\n"
        "class TinyConfig(ModelConfig):\n    width: int = 3\n\n\n"
        "@register_model('a1_tiny_model', config=TinyConfig, paper='none')\n"
        "class Tiny(nn.Module):\n    \"\"\"A model added as one file.\"\"\"\n")
    (pkg / "_private.py").write_text("raise RuntimeError('private modules are not imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        names = load_models("a1_extra_models")
        assert names == ["a1_extra_models.tiny"]
        info = get_model_info("a1_tiny_model")
        assert info.description == "A model added as one file." and info.config().width == 3
    finally:
        MODELS.pop("a1_tiny_model", None)
        for m in [m for m in sys.modules if m.startswith("a1_extra_models")]:
            del sys.modules[m]


def test_unknown_model_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown model 'nope'.*dnn"):
        get_model_info("nope")
