"""Data-parallel runs with ``torch.distributed`` (launched by ``torchrun`` or ``unisr train --nproc N``): the
process group read from torchrun's environment, the backend chosen by device (gloo on CPU, NCCL on CUDA), the
rank's shard of the row groups, and exact gathers for evaluation.

One process (no ``WORLD_SIZE`` in the environment, or 1) is ``World.single()``: every helper here is then a
no-op, so the single-process path runs the same code. The process group is created once per process
(``World.from_env``) and torn down by ``World.close``.

Shapes:
    (no tensors) World.from_env() -> World(rank, size, local_rank, backend)
    World.all_gather(obj) -> [obj of rank 0, ..., obj of rank size - 1]
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

# a rank that waits longer than this at a collective (a peer died or hangs) fails the job
COLLECTIVE_TIMEOUT_S = int(os.environ.get("UNISR_DIST_TIMEOUT_S", "600"))


def backend_for(device: str) -> str:
    """The collective backend of a device: NCCL for CUDA tensors, gloo for CPU ones."""
    return "nccl" if device.startswith("cuda") else "gloo"


@dataclass(frozen=True)
class World:
    """This process' place in a data-parallel job.

    Shapes:
        all_gather(obj) -> list of ``size`` objects; all_reduce_min(x int) -> int
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    backend: str = "none"

    @staticmethod
    def single() -> World:
        return World()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @staticmethod
    def env_size() -> int:
        return int(os.environ.get("WORLD_SIZE", "1") or 1)

    @classmethod
    def from_env(cls, device: str = "cpu") -> World:
        """The world torchrun describes in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
        ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``); creates the process group if it does not exist."""
        size = cls.env_size()
        if size <= 1:
            return cls.single()
        import torch.distributed as dist

        backend = backend_for(device)
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT_S))
        return cls(rank=dist.get_rank(), size=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", 0)),
                   local_size=int(os.environ.get("LOCAL_WORLD_SIZE", size)), backend=backend)

    def all_gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (picklable; objects built by this job only), on every rank, in rank order."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """Rank ``src``'s ``obj`` on every rank."""
        if not self.distributed:
            return obj
        import torch.distributed as dist

        box = [obj if self.rank == src else None]
        dist.broadcast_object_list(box, src=src)
        return box[0]

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    def threads_per_rank(self, cpus: int | None = None) -> int:
        """Intra-op threads of one rank: the machine's cores shared by the ranks on this host."""
        cpus = cpus or os.cpu_count() or 1
        return max(1, cpus // max(self.local_size, 1))

