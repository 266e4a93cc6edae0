"""Enhancement steps run in a chain, classical and learned alike (``medsr enhance --steps n4,denoise``)."""

from __future__ import annotations

from ..errors import MedSRError
from ..progress import Progress
from ..volume import Volume, check_finite
from .registry import get


def enhance(volume: Volume, steps, progress: Progress, **options) -> Volume:
    """Run enhancement steps in order (e.g. ``["n4", "curvature-flow"]``), each on the previous result."""
    check_finite(volume)
    if not steps:
        raise MedSRError("give at least one enhancement step")
    methods = [get("enhance", step) for step in steps]
    for index, method in enumerate(methods):
        part = progress.sub(index / len(methods), (index + 1) / len(methods))
        volume = method.run(volume, part, **options.get(method.name, {}))
    return volume
