"""The methods MedSR offers, by task. New methods register here and appear in the CLI, demo, bench and Slicer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List

from ..errors import MedSRError

TASKS = ("sr", "enhance", "segment")


@dataclass(frozen=True)
class Method:
    """A named way of doing a task.

    ``run`` takes ``(volume, progress, **options)`` for enhancement and
    ``(volume, target_grid, progress, **options)`` for super-resolution, and
    returns a new :class:`~MedSRLib.volume.Volume`; for segmentation it takes
    ``(volume, progress, **options)`` and returns a
    :class:`~MedSRLib.methods.segmentation.Segmentation`.
    """

    name: str
    task: str
    run: Callable
    summary: str
    family: str = "classical"
    options: Dict[str, str] = field(default_factory=dict)


_REGISTRY: Dict[str, Dict[str, Method]] = {task: {} for task in TASKS}


def register(method: Method) -> Method:
    if method.task not in TASKS:
        raise ValueError(f"unknown task {method.task!r}")
    _REGISTRY[method.task][method.name] = method
    return method


def methods(task: str) -> List[Method]:
    return list(_REGISTRY[task].values())


def get(task: str, name: str) -> Method:
    try:
        return _REGISTRY[task][name]
    except KeyError:
        raise MedSRError(f"unknown {task} method {name!r}; choose one of {', '.join(_REGISTRY[task])}") from None
