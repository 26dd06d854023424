"""Processes, devices and deterministic data sharding.

One code path serves a single CPU or GPU process and ``torchrun --nproc_per_node N`` (DistributedDataParallel):
``torchrun`` sets ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``; :func:`init_distributed` then joins the process
group (NCCL on CUDA, gloo on the CPU). Rank 0 alone writes checkpoints and logs.

Sampling is a pure function of ``(seed, epoch, index)``: the order of an epoch is a permutation drawn from a
``torch.Generator`` seeded with ``(seed, epoch)``; it is padded (wrapping around) to a multiple of the world
size and rank ``r`` takes every ``world``-th entry from ``r`` (what ``DistributedSampler`` does); each rank runs
``len(shard) // batch_size`` full batches. :class:`ShardSampler` starts at any position of its shard, which is
how a run resumes in the middle of an epoch without loading the pairs it skips.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from .config import ConfigError

__all__ = [
    "DistInfo",
    "init_distributed",
    "cleanup_distributed",
    "resolve_device",
    "DeviceUnavailableError",
    "epoch_permutation",
    "shard_indices",
    "ShardSampler",
    "epoch_generator",
    "all_reduce_sum",
    "broadcast_flag",
]


@dataclass
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size`` (``local_rank`` on its node)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class DeviceUnavailableError(ConfigError, RuntimeError):
    """``device=cuda`` on a machine or PyTorch build without CUDA (a :class:`ConfigError`; a ``RuntimeError``
    too, as before)."""


def _require_cuda(requested) -> None:
    if torch.cuda.is_available():
        return
    why = ("this PyTorch build has no CUDA support (torch.version.cuda is None): install a CUDA build of PyTorch"
           if torch.version.cuda is None else "no CUDA GPU is visible to PyTorch (check CUDA_VISIBLE_DEVICES "
           "and the driver)")
    raise DeviceUnavailableError(f"device={requested!r} was requested but CUDA is not available: {why}; or "
                                 "train on the CPU with device=cpu (device=auto picks CUDA only when available)")


def resolve_device(requested: str, info: DistInfo | None = None) -> torch.device:
    """``auto`` -> CUDA when available else CPU; under torchrun CUDA uses ``cuda:LOCAL_RANK``.

    Raises :class:`DeviceUnavailableError` (a ``ConfigError``) for a CUDA request without CUDA."""
    info = info or DistInfo()
    req = str(requested)
    if req == "auto":
        req = "cuda" if torch.cuda.is_available() else "cpu"
    if req.startswith("cuda"):
        _require_cuda(requested)
        if info.distributed:
            return torch.device("cuda", info.local_rank)
        if req == "cuda":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device(req)
    return torch.device("cpu")


def init_distributed(device_request: str = "auto") -> DistInfo:
    """Join the process group when launched by torchrun (``WORLD_SIZE > 1``); a no-op otherwise."""
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return DistInfo()
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if dist.is_available() and dist.is_initialized():
        return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                        backend=dist.get_backend(), owns_group=False)
    wants_cuda = str(device_request).startswith("cuda") or (device_request == "auto" and torch.cuda.is_available())
    backend = "nccl" if wants_cuda else "gloo"
    if wants_cuda:
        _require_cuda(device_request)
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, backend=backend, owns_group=True)


def cleanup_distributed(info: DistInfo) -> None:
    if info.owns_group and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``(seed, epoch, stream)`` (independent streams per epoch)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch), int(stream)]).generate_state(2)
    gen = torch.Generator()
    gen.manual_seed(int(state[0]) << 32 | int(state[1]))
    return gen


def epoch_permutation(num_items: int, seed: int, epoch: int) -> torch.Tensor:
    """The epoch's order of ``range(num_items)``: a permutation determined by ``(seed, epoch)`` only."""
    return torch.randperm(int(num_items), generator=epoch_generator(seed, epoch))


def shard_indices(num_items: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> list[int]:
    """Rank ``rank``'s share of the epoch's permutation (padded by wrapping to a multiple of ``world_size``)."""
    perm = epoch_permutation(num_items, seed, epoch).tolist()
    total = -(-num_items // world_size) * world_size
    if total > num_items:
        perm += perm[: total - num_items]
    return perm[rank:total:world_size]


class ShardSampler(Sampler[int]):
    """Yields this rank's indices of one epoch, ``steps * batch_size`` of them, from batch ``start_step`` on.

    Args:
        num_items: dataset length (pairs per epoch).
        batch_size: pairs per step (per rank).
        seed, epoch: determine the permutation.
        rank, world_size: the shard.
        start_step: first batch to yield (resume in the middle of an epoch).
    """

    def __init__(self, num_items: int, batch_size: int, seed: int, epoch: int, rank: int = 0,
                 world_size: int = 1, start_step: int = 0) -> None:
        self.num_items = int(num_items)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.epoch = int(epoch)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.start_step = int(start_step)

    @staticmethod
    def steps_per_epoch(num_items: int, batch_size: int, world_size: int = 1) -> int:
        shard = -(-int(num_items) // int(world_size))
        return shard // int(batch_size)

    def _indices(self) -> list[int]:
        shard = shard_indices(self.num_items, self.seed, self.epoch, self.rank, self.world_size)
        steps = self.steps_per_epoch(self.num_items, self.batch_size, self.world_size)
        return shard[self.start_step * self.batch_size : steps * self.batch_size]

    def __iter__(self):
        return iter(self._indices())

    def __len__(self) -> int:
        steps = self.steps_per_epoch(self.num_items, self.batch_size, self.world_size)
        return max(0, steps - self.start_step) * self.batch_size


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum over ranks (in place; identity without a process group)."""
    if info.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_flag(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True only when ``flag`` is True on every rank."""
    if not info.distributed:
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0.5)
