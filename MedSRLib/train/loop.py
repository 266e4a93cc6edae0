"""Pieces every training loop shares: resumable checkpoints (safetensors + JSON, no pickle), an optional running
average of the weights, and logging."""

from __future__ import annotations

import json
import warnings
import time
from pathlib import Path
from typing import Callable, Dict, Optional

import torch

from ..io.writing import write_text_atomic


def save_checkpoint(folder: Path, network: torch.nn.Module, optimizer: torch.optim.Optimizer, state: Dict,
                    average: Optional[torch.nn.Module] = None) -> None:
    """Weights, optimiser moments and the weight average (if any) as safetensors, counters and history as JSON;
    written then renamed."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    if average is not None:
        tensors.update({f"average.{k}": v.detach().cpu().contiguous() for k, v in average.state_dict().items()})
    for index, (key, value) in enumerate(_optimizer_tensors(optimizer)):
        tensors[f"optim.{index}.{key}"] = value
    save_file(tensors, str(folder / "checkpoint.safetensors.tmp"))
    (folder / "checkpoint.safetensors.tmp").replace(folder / "checkpoint.safetensors")
    write_text_atomic(folder / "checkpoint.json", json.dumps(state, indent=1))


def _optimizer_tensors(optimizer):
    for group_state in optimizer.state.values():
        for key in ("exp_avg", "exp_avg_sq"):
            if key in group_state:
                yield key, group_state[key].detach().cpu().contiguous()


def _with_prefix(tensors: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def checkpoint_weights(tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The weights to use from a checkpoint written by :func:`save_checkpoint`: the running average when the run
    kept one (that is what it validated), else the network's own state dict."""
    return _with_prefix(tensors, "average.module.") or _with_prefix(tensors, "model.")


def weight_average(network: torch.nn.Module, decay: float, resume_from: Optional[Path] = None) -> torch.nn.Module:
    """An exponential moving average of ``network``'s weights and buffers (batch-norm statistics included),
    updated after every optimiser step by :func:`run_steps`; restored from ``resume_from``'s checkpoint if it has one.

    Validating and publishing the average rather than the last step's weights
    smooths the step-to-step noise of small-batch training (Polyak averaging).
    """
    from safetensors.torch import load_file
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    if not 0.0 < decay < 1.0:
        raise ValueError(f"the weight-average decay must lie strictly between 0 and 1, not {decay}")
    average = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    path = None if resume_from is None else Path(resume_from) / "checkpoint.safetensors"
    if path is not None and path.exists():
        saved = _with_prefix(load_file(str(path)), "average.")
        if saved:
            average.load_state_dict(saved)
    return average


def load_checkpoint(folder: Path, network: torch.nn.Module, optimizer: torch.optim.Optimizer) -> Dict:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns its state (step, history, ...)."""
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "checkpoint.safetensors"))
    network.load_state_dict(_with_prefix(tensors, "model."))
    state = json.loads((folder / "checkpoint.json").read_text())
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, param in enumerate(params):
        avg, avg_sq = tensors.get(f"optim.{2 * index}.exp_avg"), tensors.get(f"optim.{2 * index + 1}.exp_avg_sq")
        if avg is not None and avg_sq is not None:
            optimizer.state[param] = {"step": torch.tensor(float(state["step"])), "exp_avg": avg, "exp_avg_sq": avg_sq}
    return state


class Clock:
    def __init__(self):
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start


def load_initial_weights(network: torch.nn.Module, init: str) -> None:
    """Start from a checkpoint folder of an earlier run or from a catalog model (by name).

    A network with more input channels than the one it starts from (a
    conditioning channel added) gets the old weights for the old channels and
    zeros for the new ones, so it starts as the old network exactly.
    """
    from safetensors.torch import load_file

    from ..models import load_model

    path = Path(init)
    if (path / "checkpoint.safetensors").exists():
        weights = checkpoint_weights(load_file(str(path / "checkpoint.safetensors")))
    else:
        weights = load_model(init)[0].state_dict()
    network.load_state_dict(widen_input_channels(weights, network.state_dict()))


def widen_input_channels(weights: Dict[str, torch.Tensor], target: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``weights`` with each convolution kernel that has fewer input channels (dimension 1) than ``target``'s
    padded with zeros; any other difference of shape is left for load_state_dict to refuse."""
    widened = dict(weights)
    for key, value in weights.items():
        wanted = target.get(key)
        if (wanted is not None and value.ndim >= 3 and value.ndim == wanted.ndim and value.shape[0] == wanted.shape[0]
                and value.shape[2:] == wanted.shape[2:] and value.shape[1] < wanted.shape[1]):
            padded = torch.zeros_like(wanted)
            padded[:, : value.shape[1]] = value
            widened[key] = padded
    return widened


def prepare_run(architecture: Dict, learning_rate: float, steps: int, output: Path, resume: bool, device, seed: int,
                init: Optional[str] = None):
    """Network, Adam, cosine schedule and state, restored from ``output`` when resuming.

    ``init`` (a checkpoint folder or a catalog model name) gives the starting
    weights of a new run; a resumed run keeps its own.
    """
    import numpy as np

    from ..models import build_network

    torch.manual_seed(seed)
    network = build_network(architecture)
    if init and not (resume and (output / "checkpoint.json").exists()):
        load_initial_weights(network, init)
    network = network.to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    state = {"step": 0, "history": [], "seconds": 0.0, "seed": seed}
    if resume and (output / "checkpoint.json").exists():
        state = load_checkpoint(output, network, optimizer)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + np.cos(np.pi * min(s / steps, 1.0))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fast-forwarding a resumed schedule, not a misuse
        for _ in range(state["step"]):
            schedule.step()
    return network, optimizer, schedule, state


def run_steps(network, optimizer, schedule, state: Dict, steps: int, loss_of_batch: Callable[[], torch.Tensor],
              validate: Callable[[], Dict], validation_key: str, validate_every: int, output: Path, device, progress,
              log, is_main: bool = True, saved_network: torch.nn.Module | None = None,
              save_extra: Callable[[], None] | None = None, average: torch.nn.Module | None = None) -> Dict:
    """The loop every trainer shares: step, log the running loss, validate and checkpoint every few steps.

    With ``average`` (from :func:`weight_average`) the average is updated
    after every step and checkpointed too; ``validate`` should then measure it.

    Under DistributedDataParallel every process steps; only the main one
    (``is_main``) validates, logs and writes checkpoints of ``saved_network``
    (the network inside the DDP wrapper) and whatever ``save_extra`` writes.
    """
    saved_network = saved_network or network
    import datetime
    import platform

    import numpy as np

    clock, running = Clock(), []
    while state["step"] < steps:
        network.train()
        loss = loss_of_batch()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if average is not None:
            average.update_parameters(saved_network)
        state["step"] += 1
        running.append(float(loss.detach()))
        progress.update(state["step"] / steps, f"step {state['step']}/{steps} loss {np.mean(running[-50:]):.4f}")
        if (state["step"] % validate_every == 0 or state["step"] == steps) and is_main:
            entry = {"step": state["step"], "loss": float(np.mean(running)), validation_key: validate()}
            state["history"].append(entry)
            running = []
            state["seconds"] += clock.seconds()
            clock = Clock()
            log(json.dumps(entry))
            save_checkpoint(output, saved_network, optimizer, state, average)
            if save_extra:
                save_extra()
    if device.type == "cuda":
        state["device"] = torch.cuda.get_device_name(device)
    else:
        state["device"] = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    state["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if is_main:
        save_checkpoint(output, saved_network, optimizer, state, average)
    return state
