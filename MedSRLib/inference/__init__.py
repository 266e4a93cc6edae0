"""The shared inference engine: device choice and patch-wise prediction with progress, cancel and OOM fallback."""

from .device import resolve_device
from .engine import InferenceReport, choose_patch, predict, window_count

__all__ = ["InferenceReport", "choose_patch", "predict", "resolve_device", "window_count"]
