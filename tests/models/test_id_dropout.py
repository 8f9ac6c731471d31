"""``model.id_dropout`` (FieldRankerConfig): every model built on FeatureEmbedding / FieldStack passes it on."""

import pytest
import torch

from synth import random_batch, tiny_schema
from unisr.models.registry import MODELS, FieldRankerConfig, build_model, load_builtin_models
from unisr.nn.embedding import FeatureEmbedding

load_builtin_models()
FIELD_MODELS = sorted(n for n, info in MODELS.items() if issubclass(info.config, FieldRankerConfig))


def test_the_field_models_are_the_expected_ones():
    assert {"dnn", "nfm", "xdeepfm", "tem", "aem_din", "star", "mmoe", "ple", "shared_bottom", "apg"} <= set(FIELD_MODELS)
    assert "srjgraph" not in FIELD_MODELS  # graph node embeddings: no FeatureEmbedding, no id dropout


@pytest.mark.parametrize("name", FIELD_MODELS)
def test_id_dropout_reaches_the_input_layer(name):
    net = build_model(name, {"id_dropout": 0.4}, tiny_schema())
    layers = [m for m in net.modules() if isinstance(m, FeatureEmbedding) and m.id_cols]
    assert layers and all(m.id_dropout == 0.4 for m in layers)
    default = build_model(name, {}, tiny_schema())
    assert all(m.id_dropout == 0.0 for m in default.modules() if isinstance(m, FeatureEmbedding))


def test_id_dropout_blanks_ids_in_training_only():
    s = tiny_schema()
    emb = FeatureEmbedding(s, sparse_grad=False, id_dropout=0.999)
    b = random_batch(s, 64)
    emb.train()
    dropped = emb.drop_ids(b.sparse)
    assert (dropped[:, emb.id_cols] == 0).float().mean() > 0.9
    others = [i for i in range(b.sparse.shape[1]) if i not in emb.id_cols]
    assert torch.equal(dropped[:, others], b.sparse[:, others])
    emb.eval()
    assert torch.equal(emb.drop_ids(b.sparse), b.sparse)
    with pytest.raises(ValueError):
        FieldRankerConfig(id_dropout=1.0)
