"""Simulate an acquisition, restore it with every method, measure each against the truth."""

from __future__ import annotations

import platform
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..errors import MedSRError
from ..geometry import resample_to_grid
from ..methods import Method, get, methods
from ..methods.consistency import PROFILES
from ..metrics import foreground_mask, image_metrics
from ..progress import SILENT, Progress
from ..simulate import Acquisition, degrade
from ..volume import Volume


@dataclass
class MethodResult:
    method: str
    family: str
    volume: Volume
    seconds: float
    peak_memory_mb: Optional[float]
    metrics: dict


@dataclass
class Comparison:
    truth: Volume
    low_resolution: Volume
    acquisition: Acquisition
    mask: np.ndarray
    data_range: float
    results: List[MethodResult] = field(default_factory=list)
    not_applicable: Dict[str, str] = field(default_factory=dict)

    def rows(self) -> List[Dict]:
        return [
            {
                "method": r.method,
                "family": r.family,
                "psnr_db": r.metrics["whole"]["psnr"],
                "ssim": r.metrics["whole"]["ssim"],
                "psnr_foreground_db": r.metrics["foreground"]["psnr"],
                "ssim_foreground": r.metrics["foreground"]["ssim"],
                "mse": r.metrics["whole"]["mse"],
                "seconds": r.seconds,
                "peak_memory_mb": r.peak_memory_mb,
            }
            for r in self.results
        ]


def _return_freed_memory() -> None:
    """Collect Python's garbage and hand the C heap's free pages back to the system (glibc's malloc_trim; nothing
    elsewhere). Without it, memory an earlier call freed stays resident and a later call reuses it unseen: in one
    heads benchmark the placed head's segmentation, run after the same head's, rose 1 MB above its start."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class PeakMemory:
    """Peak resident memory above the level at entry (``peak_mb``), and the process's own peak during the call
    (``process_peak_mb``), sampled every few milliseconds in a thread. Freed memory is handed back to the system
    before the level at entry is read (_return_freed_memory), so what an earlier call left free is not reused unseen.

    Native allocations (SimpleITK, torch, numpy) count too, unlike tracemalloc.
    """

    def __init__(self, interval_s: float = 0.005):
        self.interval_s = interval_s
        self.peak_mb: Optional[float] = None
        self.process_peak_mb: Optional[float] = None

    def __enter__(self):
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil is a dependency
            self._process = None
            return self
        _return_freed_memory()
        self._process = psutil.Process()
        self._base = self._process.memory_info().rss
        self._peak = self._base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc):
        if self._process is not None:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._process.memory_info().rss)
            self.peak_mb = (self._peak - self._base) / 2**20
            self.process_peak_mb = self._peak / 2**20


def compare_methods(
    truth: Volume,
    acquisition: Acquisition,
    method_names: Optional[Sequence[str]] = None,
    progress: Progress = SILENT,
    measured_from_k: int = 0,
    device: str = "auto",
) -> Comparison:
    """Degrade ``truth`` with ``acquisition`` and restore it onto its own grid with each super-resolution method.
    The simulation knows its slice profile, and tells it to the methods that learn from the scan (`self`, `adapt`;
    `medsr sr --slice-profile`); what assuming another costs is measured on a held-out head (heads-sr benchmark).

    With ``measured_from_k`` the figures cover only the voxels at that last-axis
    index and above (a part held out from training); methods still see the
    whole low-resolution volume, as they would a real scan.
    """
    # by default: not `auto` (it only dispatches to a method compared already) and not the pretrained models,
    # whose training data is the bundled T1 itself (their held-out figures: `medsr bench --task sr-learned`)
    default = [m for m in methods("sr") if m.family not in ("dispatch", "pretrained")]
    chosen = [get("sr", name) for name in method_names] if method_names else default
    progress.update(0.0, f"simulating {acquisition.describe()}")
    low = degrade(truth, acquisition)
    mask = foreground_mask(truth)[:, :, measured_from_k:]
    reference = truth.as_float32()[:, :, measured_from_k:]
    comparison = Comparison(truth, low, acquisition, mask, data_range=0.0)
    for index, method in enumerate(chosen):
        part = progress.sub((index + 0.1) / len(chosen), (index + 1) / len(chosen))
        try:
            restored, seconds, peak = _timed(method, low, truth, part, device, acquisition.sampling)
        except MedSRError as error:  # e.g. `self` needs a thick-slice axis: not an error of the comparison
            comparison.not_applicable[method.name] = str(error)
            continue
        part.update(0.8, f"measuring {method.name}")
        metrics = image_metrics(reference, restored.array[:, :, measured_from_k:], mask)
        comparison.data_range = metrics["data_range"]
        comparison.results.append(MethodResult(method.name, method.family, restored, seconds, peak, metrics))
    progress.update(1.0, "comparison done")
    return comparison


def _timed(method: Method, low: Volume, truth: Volume, progress: Progress, device: str = "auto",
           profile: Optional[str] = None):
    options = {} if method.family == "classical" else {"device": device}
    if "profile" in method.options and profile in PROFILES:  # (k-space truncation too, since 2026-12-07)
        options["profile"] = profile
    with PeakMemory() as memory:
        start = time.perf_counter()
        restored = method.run(low, truth.grid, progress.sub(0.0, 0.8), **options)
        seconds = time.perf_counter() - start
    return restored, seconds, memory.peak_mb


def display_on(grid_volume: Volume, volume: Volume) -> np.ndarray:
    """A low-resolution volume shown on the truth's grid by nearest neighbour, as a viewer would."""
    return resample_to_grid(volume.array, volume.grid, grid_volume.grid, "nearest")


def machine_description() -> Dict[str, str]:
    import os

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_cores_usable": str(usable),
        "torch_threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "device": "CPU (classical methods run on the CPU)",
    }


def run_line(payload: dict) -> str:
    """'Date ...; machine: ...; device: ...' for a benchmark report's Markdown."""
    m = payload["machine"]
    return (f"Date {payload['date']}; machine: {m['cpu']}, {m['cpu_cores_usable']} usable cores "
            f"({m.get('torch_threads', '?')} torch threads), torch {m['torch']}; device: {payload['device']}.")
