"""Several processes, one job: what torchrun sets up, read back (rank, world size, the device of each process).

``torchrun --nproc_per_node=N -m MedSRLib ...`` starts N processes with RANK,
LOCAL_RANK and WORLD_SIZE set. Each process takes GPU LOCAL_RANK (NCCL) or,
with no GPU, the CPU (Gloo), so the same commands run on a laptop, one GPU or
a cluster. Without torchrun everything is one process, rank 0 of 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..inference import resolve_device
from ..io.cohort import rank_and_world


@dataclass
class Processes:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return rank_and_world()[1] > 1


def start(device: str = "auto") -> Processes:
    """Join the process group when launched by torchrun; otherwise the single process on ``device``."""
    if not launched_by_torchrun():
        return Processes(0, 1, resolve_device(device))
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device != "cpu" and torch.cuda.is_available()
    target = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(target)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), target)


def wrap(network: torch.nn.Module, processes: Processes) -> torch.nn.Module:
    """The network itself in one process; under torchrun, DistributedDataParallel (gradients averaged)."""
    if processes.world == 1:
        return network
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(network, device_ids=[processes.device.index] if processes.device.type == "cuda" else None)


def finish(processes: Processes) -> None:
    if processes.world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
