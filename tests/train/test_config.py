import pytest

from unisr.pipeline.config import ConfigError, parse_set, resolve_config


def test_layers_in_order(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("train:\n  lr: 0.5\n  epochs: 7\nmodel:\n  tower: [4]\n")
    cfg = resolve_config(
        "mmoe",
        dataset_defaults={"train": {"lr": 0.1, "patience": 9, "epochs": 3}, "models": {"mmoe": {"model": {"num_experts": 5}}}},
        file=f,
        sets=["train.epochs=11", "model.expert=[32, 16]"],
    )
    assert cfg.train.patience == 9  # dataset layer over defaults
    assert cfg.train.lr == 0.5  # file over dataset
    assert cfg.train.epochs == 11  # --set over file
    assert cfg.model["num_experts"] == 5 and cfg.model["tower"] == [4] and cfg.model["expert"] == [32, 16]
    assert cfg.model["dropout"] == 0.0  # model default filled in


def test_set_values_are_yaml_not_eval():
    d = parse_set(["a.b=3", "a.c=[1, 2]", "x=__import__('os')", "y={k: 1}"])
    assert d == {"a": {"b": 3, "c": [1, 2]}, "x": "__import__('os')", "y": {"k": 1}}


@pytest.mark.parametrize("sets,needle", [
    (["train.lrr=1"], "train.lrr"),
    (["train.lr=abc"], "train.lr"),
    (["model.num_experts=many"], "model.num_experts"),
    (["model.unknown=1"], "model.unknown"),
    (["noequals"], "noequals"),
])
def test_errors_name_the_key(sets, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        resolve_config("mmoe", sets=sets)


def test_unknown_model():
    with pytest.raises(ConfigError, match="unknown model"):
        resolve_config("nope")
