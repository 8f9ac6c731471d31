"""The one data pipeline: (resolved config, dataset folder, fitted encoders) -> the batches of a split and an
epoch, with the graph sampling the model declares applied. Training, evaluation, the suites, the benchmarks
and serving all build their batches here, so a batch means the same thing everywhere.

Sampling is reproducible: the sampler of a training epoch e is seeded with ``seed * 10_007 + e``; the validation
split always with ``-1 * 10_007``, the test split (and any other evaluation split) with ``-2 * 10_007``.
In a data-parallel run (``pipeline.distributed.World``) every rank reads its own shard of the row groups and
its sampler seed is offset by ``rank * 1_000_003``, so ranks never draw the same neighbourhoods in step.

Shapes:
    Pipeline.batches(split, epoch) -> Iterator[Batch] (per-sample tensors [B, ...]; ``batch.subgraph`` filled
    by the model's sampler when it declares one)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from unisr.data.batch import Batch
from unisr.data.features import FeatureEncoder
from unisr.data.loader import DatasetContext, EventLoader
from unisr.data.reader import has_table
from unisr.models.registry import get_model_info
from unisr.pipeline.config import RunConfig

# the sampler seed of an evaluation split (training epochs use the run's seed)
EVAL_SAMPLING_SEED = {"valid": -1, "test": -2}
SEED_STRIDE = 10_007
RANK_SEED_STRIDE = 1_000_003


class MissingInputError(ValueError):
    """The dataset lacks an input the model declares it needs; the message names the model and the input."""


class BatchSampler(Protocol):
    """What a graph sampler in the pipeline does (``unisr.graph.hooks``): fill ``batch.subgraph``.

    Shapes:
        __call__(batch) -> the same batch with its subgraph
    """

    def reset(self, seed: int) -> None: ...

    def __call__(self, batch: Batch) -> Batch: ...


def check_inputs(model: str, needs: Sequence[str], ctx: DatasetContext) -> None:
    """Fail before any training if the dataset cannot give the model an input it needs."""
    missing = []
    if "graph:social" in needs and not has_table(ctx.root, "social"):
        missing.append("graph:social (the dataset's social table)")
    if missing:
        raise MissingInputError(f"model {model!r} needs {', '.join(missing)}; dataset {ctx.spec.name!r} "
                                f"at {ctx.root} has none")


def make_sampler(cfg: RunConfig, data: Path, encoder: FeatureEncoder, ctx: DatasetContext) -> BatchSampler | None:
    """The graph sampler the model declares (``Model.sampler_spec(config)``, from its own validated config),
    built on the dataset's cached graph of its training window, or None for a model without one."""
    info = get_model_info(cfg.model_name)
    if not hasattr(info.cls, "sampler_spec"):
        return None
    from unisr.graph.hooks import hook_for

    spec = info.cls.sampler_spec(info.config.model_validate(cfg.model_params))
    graph_dir = Path(cfg.data.graph_dir) if cfg.data.graph_dir else data / "graph"
    return hook_for(spec, data, encoder, ctx.queries, graph_dir, cfg.data.scenarios)


class Pipeline:
    """Batches of one dataset for one resolved run config.

    Shapes:
        batches(split, epoch) -> Iterator[Batch]; epochs(split) -> (epoch -> Iterator[Batch])
    """

    def __init__(self, cfg: RunConfig, ctx: DatasetContext, sampler: BatchSampler | None,
                 shard: tuple[int, int] = (0, 1)) -> None:
        self.cfg, self.ctx, self.sampler = cfg, ctx, sampler
        self.shard = shard  # (rank, world size): this process reads its shard of every split's row groups
        self._loaders: dict[tuple, EventLoader] = {}

    @classmethod
    def open(cls, cfg: RunConfig, data: str | Path, encoder: FeatureEncoder,
             shard: tuple[int, int] = (0, 1)) -> Pipeline:
        """Open ``data`` for ``cfg``'s model: side tables, behaviour history if the config asks for it, and the
        model's graph sampler; fails with ``MissingInputError`` if the dataset lacks an input the model needs.
        ``shard`` = (rank, world size) of a data-parallel run (evaluation gathers the ranks' predictions)."""
        data = Path(data)
        ctx = DatasetContext.open(data, encoder, history=cfg.data.history_len > 0,
                                  query_max_len=cfg.data.query_max_len)
        check_inputs(cfg.model_name, get_model_info(cfg.model_name).needs, ctx)
        return cls(cfg, ctx, make_sampler(cfg, data, encoder, ctx), shard)

    @property
    def encoder(self) -> FeatureEncoder:
        return self.ctx.encoder

    @property
    def scenario_names(self) -> list[str]:
        return self.ctx.encoder.schema.scenarios

    def loader(self, split: str, *, train: bool = False, eval_batch_size: int | None = None) -> EventLoader:
        """The streaming loader of ``split`` (training order and shuffle buffer with ``train``), kept per split."""
        key = (split, train, eval_batch_size)
        if key not in self._loaders:
            lc = self.cfg.data if eval_batch_size is None else self.cfg.data.model_copy(
                update={"eval_batch_size": eval_batch_size})
            self._loaders[key] = EventLoader(self.ctx, split, lc, train=train,
                                             seed=self.cfg.train.seed if train else 0, shard=self.shard)
        return self._loaders[key]

    def batches(self, split: str, epoch: int = 0, *, train: bool = False,
                eval_batch_size: int | None = None) -> Iterator[Batch]:
        """The batches of ``split`` in epoch ``epoch``, each with the model's sampled subgraph."""
        loader = self.loader(split, train=train, eval_batch_size=eval_batch_size)
        if self.sampler is None:
            yield from loader.epoch(epoch)
            return
        base = self.cfg.train.seed if train else EVAL_SAMPLING_SEED.get(split, -2)
        self.sampler.reset(base * SEED_STRIDE + epoch + self.shard[0] * RANK_SEED_STRIDE)
        for b in loader.epoch(epoch):
            yield self.sampler(b)

    def epochs(self, split: str = "train") -> Callable[[int], Iterator[Batch]]:
        """``epoch -> batches`` of the training split, for ``Trainer.fit``."""
        return lambda epoch: self.batches(split, epoch, train=True)
