"""Data-parallel training across processes started by torchrun: gloo on CPUs, NCCL on GPUs; rank 0 alone writes.

Every rank draws the same epoch order from the run's generator and takes every world-th image of each global batch,
so `--batch-size` stays the effective (global) batch and the learning rate means what it means in one process.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..errors import FerxError


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a run (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str) -> tuple[World, torch.device]:
    """Join torchrun's process group when WORLD_SIZE > 1; each GPU rank gets cuda:LOCAL_RANK."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    dev = torch.device(device)
    if size == 1:
        return World(), dev
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return World(dist.get_rank(), size, local), dev


def check_batch(batch_size: int, world: World) -> int:
    """Each rank's share of a global batch."""
    if batch_size % world.size:
        raise FerxError(f"--batch-size {batch_size}: must be a multiple of the {world.size} processes")
    return batch_size // world.size


def shard(order: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's images of an epoch: every world-th of `order`, padded from its start so all ranks step equally."""
    if world.size == 1:
        return order
    pad = -len(order) % world.size
    return torch.cat([order, order[:pad]])[world.rank :: world.size]


def steps_per_epoch(n: int, batch_size: int, world: World) -> int:
    per_rank = -(-n // world.size)
    return -(-per_rank // (batch_size // world.size))


def epoch_generator(seed: int, epoch: int, world: World) -> torch.Generator:
    """A rank's own augmentation draws for one epoch, reproducible from (seed, epoch, rank) alone (so --resume is exact)."""
    state = np.random.SeedSequence([seed, epoch, world.rank]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def wrap(model: torch.nn.Module, world: World, device: torch.device) -> torch.nn.Module:
    """The model DDP averages gradients for (the model itself in one process)."""
    if world.size == 1:
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def all_sum(values: list[float], world: World, device: torch.device) -> list[float]:
    """Element-wise sums over the ranks."""
    if world.size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def sync_buffers(module: torch.nn.Module, world: World) -> None:
    """Rank 0's buffers everywhere. Each rank's BatchNorm statistics move with its own shard (DDP re-broadcasts the
    model's at each forward, not a weight average's): validated and saved weights must be the same on every rank."""
    if world.size > 1:
        for b in module.buffers():
            dist.broadcast(b, 0)


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()


def cleanup() -> None:
    """Leave the process group, if this process joined one, once every rank has come this far."""
    if dist.is_initialized():
        # Without the barrier a rank that finished first tore its group down while rank 0 was still saving the last
        # epoch, and gloo aborted it ("terminate called without an active exception", SIGABRT): 2 of 5 CI runs here.
        dist.barrier()
        dist.destroy_process_group()


def launch(nproc: int, argv: list[str]) -> int:
    """Run `python -m ferx ARGV` as `nproc` torchrun ranks on this machine; its exit status."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "ferx", *argv]
    return subprocess.call(cmd)
