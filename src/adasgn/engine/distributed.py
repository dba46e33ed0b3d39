"""torch.distributed helpers: DDP under ``torchrun`` (gloo on CPU, nccl on CUDA), no-op otherwise."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def setup(device: str) -> torch.device:
    """Initialise the process group when launched by torchrun; return this rank's device."""
    want_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not is_distributed():
        backend = "nccl" if want_cuda else "gloo"
        dist.init_process_group(backend=backend)
    if want_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def cleanup() -> None:
    if is_distributed():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_gather_objects(obj):
    """List of ``obj`` from every rank (rank order); ``[obj]`` when not distributed."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_buffers(model: torch.nn.Module, src: int = 0) -> None:
    """Give every rank rank ``src``'s buffers (BatchNorm running statistics). DDP broadcasts them
    at the start of each forward, so after the last training step of an epoch every rank holds
    its own update: without this, each rank would evaluate (and hold) a slightly different model
    from the one rank 0 saves."""
    if not is_distributed():
        return
    for buf in model.buffers():
        dist.broadcast(buf.data, src)
