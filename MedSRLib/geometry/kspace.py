"""MRI k-space truncation along one axis: the measurement a 3-D (phase- or partition-encoded) acquisition makes of
an axis it samples coarsely. The scan keeps the central frequencies of the object and is reconstructed on a coarser
grid over the same field of view, so each of its voxels is a periodic sinc (Dirichlet kernel) average of the fine
voxels, not a slice's box or Gaussian average (geometry.resample.profile_weights, profile ``kspace``)."""

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


def kspace_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) real weights of :func:`truncate_axis` (its real part: what a real object's truncation gives,
    to the one unpaired Nyquist frequency of an even ``n_out``); rows sum to one."""
    return np.real(truncate_axis(np.eye(n_in), n_out, 0))
