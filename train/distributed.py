"""Training beyond one process: `torchrun --nproc_per_node N -m train.fast ...` (DistributedDataParallel).

gloo on CPUs, nccl on CUDA. Every rank draws its own photos (sample k of the run is a pure function of
(seed, k), so ranks never overlap and a resumed run sees the same data), gradients are averaged by DDP,
rank 0 alone writes checkpoints, logs and the model. At the end every rank's weights are hashed and
compared: identical weights across ranks are the invariant DDP promises, and a broken setup says so.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from runtime.errors import StylecastError


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sample_indices(self, start_step: int, steps: int, batch: int) -> list[int]:
        """This rank's sample numbers, step by step: step s uses samples (s*world + rank)*batch ... +batch."""
        return [(s * self.world + self.rank) * batch + i for s in range(start_step, steps) for i in range(batch)]


def setup(device: torch.device) -> Ranks:
    """Join the process group torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(local)
    try:
        dist.init_process_group(backend)
    except (RuntimeError, ValueError) as exc:
        raise StylecastError(f"could not join the {backend} process group ({exc}); start with torchrun") from None
    return Ranks(rank, world, local)


def rank_device(device: torch.device, ranks: Ranks) -> torch.device:
    """One GPU per local rank; CPUs are shared."""
    return torch.device("cuda", ranks.local_rank) if device.type == "cuda" and ranks.enabled else device


def wrap(net: torch.nn.Module, ranks: Ranks, device: torch.device) -> torch.nn.Module:
    """DDP around the net (it broadcasts rank 0's weights, so every rank starts identical)."""
    if not ranks.enabled:
        return net
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(net: torch.nn.Module) -> torch.nn.Module:
    return getattr(net, "module", net)


def weights_digest(net: torch.nn.Module) -> str:
    """sha256 of every parameter and buffer, in state-dict order (bit-exact comparison across ranks)."""
    h = hashlib.sha256()
    for k, v in unwrap(net).state_dict().items():
        h.update(k.encode())
        h.update(v.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def check_identical(net: torch.nn.Module, ranks: Ranks) -> str:
    """All ranks hash their weights; a mismatch is an error (on every rank). Returns the common digest."""
    digest = weights_digest(net)
    if not ranks.enabled:
        return digest
    gathered: list[str | None] = [None] * ranks.world
    dist.all_gather_object(gathered, digest)
    if len(set(gathered)) != 1:
        raise StylecastError(f"weights differ across ranks after training: {gathered}")
    return digest


def barrier(ranks: Ranks) -> None:
    if ranks.enabled:
        dist.barrier()


def teardown(ranks: Ranks) -> None:
    if ranks.enabled and dist.is_initialized():
        dist.destroy_process_group()
