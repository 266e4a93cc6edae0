"""MRI k-space truncation: keep the central frequencies, reconstruct on the coarser grid."""

from __future__ import annotations

import numpy as np


def truncate_axis(array: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """Complex samples on ``n_out`` voxels covering the same field of view, from the central ``n_out`` frequencies.

    A linear phase ramp moves the samples from the fine grid's first centre to
    the coarse grid's first centre, so the result obeys the resampling contract
    (outer edges fixed) rather than the FFT's origin-anchored sampling.
    """
    n_in = array.shape[axis]
    spectrum = np.fft.fft(array, axis=axis)
    k = np.fft.fftfreq(n_out, d=1.0 / n_out)  # signed integer frequencies kept, in numpy's order
    kept = np.take(spectrum, k.astype(int) % n_in, axis=axis)
    shape = [1] * array.ndim
    shape[axis] = n_out
    ramp = np.exp(2j * np.pi * k * (0.5 * n_in / n_out - 0.5) / n_in).reshape(shape)
    return np.fft.ifft(kept * ramp, axis=axis) * (n_out / n_in)


def truncate(array: np.ndarray, size_out, magnitude: bool) -> np.ndarray:
    """Truncate k-space along every axis whose size shrinks; magnitude (MR) or real part (CT) as float32."""
    data = array.astype(np.complex64)
    for axis, (n_in, n_out) in enumerate(zip(array.shape, size_out)):
        if n_out < n_in:
            data = truncate_axis(data, n_out, axis)
    return (np.abs(data) if magnitude else data.real).astype(np.float32)
