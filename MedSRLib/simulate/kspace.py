"""MRI k-space truncation: keep the central frequencies, reconstruct on the coarser grid."""

from __future__ import annotations

import numpy as np

from ..geometry.kspace import truncate_axis


def truncate(array: np.ndarray, size_out, magnitude: bool) -> np.ndarray:
    """Truncate k-space along every axis whose size shrinks; magnitude (MR) or real part (CT) as float32."""
    data = array.astype(np.complex64)
    for axis, (n_in, n_out) in enumerate(zip(array.shape, size_out)):
        if n_out < n_in:
            data = truncate_axis(data, n_out, axis)
    return (np.abs(data) if magnitude else data.real).astype(np.float32)
