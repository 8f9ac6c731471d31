"""Data versions: v1 stays what was recorded, v2 is selectable and gives the same bytes on every CPU path.

Shapes:
    (no tensors) tiny simulations -> dataset.yaml's simulator block, data fingerprints
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from unisr.bench.fingerprint import data_fingerprint
from unisr.simulate import OverrideError, resolve_config, simulate
from unisr.simulate import numerics as N
from unisr.simulate.config import written_config

SWITCHES = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": "Haswell"}


def _simulate_in_subprocess(out: Path, switches: bool, *sets: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in SWITCHES}
    if switches:
        env |= SWITCHES
    code = ("import sys; from unisr.simulate import simulate; "
            "simulate('tiny', sys.argv[1], seed=3, overrides=sys.argv[2:])")
    subprocess.run([sys.executable, "-c", code, str(out), *sets], check=True, env=env, timeout=120)
    return data_fingerprint(out)


def test_v2_gives_the_same_bytes_with_and_without_the_cpu_switches(tmp_path):
    """numpy's AVX-512 loops and OpenBLAS's kernel choice (what the two switches turn off) change v1 data; v2
    uses only exact arithmetic, so both runs give the same fingerprint. On a CPU without AVX-512 both runs take
    the same paths and the test only guards against a regression."""
    sets = ("version=2", "n_events=20000")
    a = _simulate_in_subprocess(tmp_path / "plain", False, *sets)
    b = _simulate_in_subprocess(tmp_path / "switched", True, *sets)
    assert a == b


# tiny seed 3 at 20,000 events, data version 2, computed with the code of b3adee9 (2026-12-08), before the
# simulator's speed work: v2 is CPU-independent, so this value holds on every machine, and a change of the
# simulator that is meant to be faster only (event assembly, Parquet encoding) must keep it
V2_TINY_FINGERPRINT = "d607b48cadc71a11"


def test_v2_fingerprint_is_pinned(tmp_path):
    """The same v2 data as before the speed work, bit for bit (values of every column; see the constant)."""
    assert _simulate_in_subprocess(tmp_path / "d", False, "version=2", "n_events=20000") == V2_TINY_FINGERPRINT


def test_version_in_dataset_yaml(tmp_path):
    """v2 writes simulator.version and the mechanisms; v1 writes neither (its dataset.yaml, hence its
    fingerprint, is the one recorded before versions existed)."""
    simulate("tiny", tmp_path / "v2", seed=0, overrides={"version": 2, "n_events": 3000})
    meta = yaml.safe_load((tmp_path / "v2" / "dataset.yaml").read_text())["simulator"]
    assert meta["version"] == 2 and meta["config"]["version"] == 2 and "mechanisms" in meta["config"]
    simulate("tiny", tmp_path / "v1", seed=0, overrides={"version": 1, "n_events": 3000})
    meta1 = yaml.safe_load((tmp_path / "v1" / "dataset.yaml").read_text())["simulator"]
    assert "version" not in meta1 and "version" not in meta1["config"] and "mechanisms" not in meta1["config"]
    simulate("tiny", tmp_path / "default", seed=0, overrides={"n_events": 3000})
    assert data_fingerprint(tmp_path / "default") == data_fingerprint(tmp_path / "v2")  # v2 is the default
    assert resolve_config("small").version == 2 and resolve_config("small", ["version=1"]).version == 1
    # a written dataset.yaml reads back as the version it was written with (v1's has no version key)
    assert written_config(meta1).version == 1 and written_config(meta).version == 2
    assert written_config(meta1) == resolve_config("tiny", {"version": 1, "n_events": 3000})


def test_truth_reopens_a_v1_dataset_as_v1(tmp_path):
    """SimTruth rebuilds the world from dataset.yaml: a v1 dataset (no version key) must rebuild v1's world,
    not the default v2's (whose items differ, which ``_check_world`` would report)."""
    from unisr.simulate.truth_scores import SimTruth

    simulate("tiny", tmp_path / "v1", seed=0, overrides={"version": 1, "n_events": 3000})
    assert SimTruth(tmp_path / "v1", events=False).cfg.version == 1


def test_mechanisms_need_version_2():
    with pytest.raises(OverrideError, match="version=2"):
        resolve_config("tiny", ["version=1", "mechanisms.view_conversion.strength=0.5"])
    cfg = resolve_config("tiny", ["mechanisms.view_conversion.strength=0"])  # v2, the default
    assert cfg.version == 2 and cfg.strength("view_conversion") == 0.0
    assert resolve_config("tiny", ["version=1"]).strength("view_conversion") == 0.0  # v1 has no mechanisms
    assert resolve_config("tiny").strength("view_conversion") == 1.0


def test_exact_numerics_agree_with_numpy():
    """The exact-arithmetic exp / log / matmul are accurate to a few ulp (they replace numpy's only in v2)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-40, 40, 100_000)
    assert np.allclose(N.exp(x), np.exp(x), rtol=1e-15, atol=0)
    y = rng.uniform(1e-12, 1e6, 100_000)
    assert np.allclose(N.log(y), np.log(y), rtol=1e-15, atol=1e-15)
    assert N.log(np.array([0.0]))[0] == -np.inf and np.isnan(N.log(np.array([-1.0]))[0])
    a, b = rng.standard_normal((50, 16)), rng.standard_normal((16, 7))
    assert np.allclose(N.matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
    assert np.allclose(N.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14, atol=1e-300)


def test_v2_passes_the_canonical_validator(tmp_path):
    """v2 data (with the interact view and p_click_no_position) is a valid canonical dataset."""
    from unisr.data.validate import validate_dataset

    simulate("tiny", tmp_path / "v2", seed=0, overrides={"version": 2})
    problems = validate_dataset(tmp_path / "v2")
    assert problems == [], "\n".join(map(str, problems[:20]))
