"""pipeline/run_folder.py: a run written before a model key existed reads back as it was trained."""

import yaml

from unisr.models.registry import ADDED_LATER, MATCH_PARTS, get_model_info
from unisr.pipeline.config import resolve_config
from unisr.pipeline.run_folder import read_config


def _write(tmp_path, model: str, *sets: str) -> dict:
    cfg = resolve_config(model, sets=list(sets)).model_dump(mode="json")
    tmp_path.joinpath("config.yaml").write_text(yaml.safe_dump(cfg))
    return cfg


def _spec(tmp_path):
    cfg = read_config(tmp_path)
    return get_model_info(cfg.model_name).config.model_validate(cfg.model_params).match_spec()


def test_an_older_match_run_keeps_the_plain_match_features(tmp_path):
    cfg = _write(tmp_path, "dnn", "model.match=true")
    assert cfg["model"]["match_positions"] == 3 and cfg["model"]["match_raw_cosine"]  # today's defaults
    for key in MATCH_PARTS:  # a config.yaml written before the keys existed
        del cfg["model"][key]
    tmp_path.joinpath("config.yaml").write_text(yaml.safe_dump(cfg))
    spec = _spec(tmp_path)
    assert spec is not None and spec.positions == 0 and not spec.raw_cosine


def test_a_written_config_keeps_its_own_values(tmp_path):
    _write(tmp_path, "dnn", "model.match=true", "model.match_positions=5")
    spec = _spec(tmp_path)
    assert spec.positions == 5 and spec.raw_cosine
    _write(tmp_path, "star")  # no match: no spec
    assert _spec(tmp_path) is None
    _write(tmp_path, "bomgraph")  # a model without the keys still reads
    assert read_config(tmp_path).model_name == "bomgraph"


def test_an_older_sharing_run_keeps_the_symmetric_pair_flags(tmp_path):
    cfg = _write(tmp_path, "treems")
    assert cfg["model"]["pair_mode"] == "directed"  # today's default
    del cfg["model"]["pair_mode"]
    tmp_path.joinpath("config.yaml").write_text(yaml.safe_dump(cfg))
    assert read_config(tmp_path).model["pair_mode"] == ADDED_LATER["pair_mode"] == "symmetric"
