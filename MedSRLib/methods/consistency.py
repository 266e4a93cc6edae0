"""Data consistency: project a super-resolved volume so that re-acquiring it gives back the input exactly.

The acquisition model is the simulator's: along each axis the input's voxels
are slice-profile averages (``box`` or ``gaussian``) of the fine voxels, on
grids of the same field of view. That operator is separable, A = W_i x W_j x W_k,
so the orthogonal projection onto {x : A x = y} is x + A+(y - A x) with the
pseudo-inverse applied axis by axis: exact, and cheap (a few matrix products).
A result that came from a CUDA device is projected there, by the same float32
products through torch (on the lent H200 machine a 256^3 output's projection
took 0.35 s on the host's 16 cores, 0.09 s on the GPU).
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np

from ..errors import MedSRError
from ..geometry import apply_along_axis, profile_weights
from ..geometry.resample import _shares_field_of_view
from ..volume import Volume

PROFILES = ("box", "gaussian")
#: data consistency with the slice profile the method itself assumes (its training or fitting profile)
OWN_PROFILE = "own"


def _operators(fine: Volume, coarse: Volume, profile: str) -> List[Optional[np.ndarray]]:
    if profile not in PROFILES:
        raise MedSRError(f"data consistency needs the slice profile, box or gaussian; got {profile!r}")
    if not _shares_field_of_view(coarse.grid, fine.grid):
        raise MedSRError("data consistency needs the output on the input's field of view (the resampling contract grid)")
    operators = []
    for n_fine, n_coarse in zip(fine.grid.size, coarse.grid.size):
        if n_coarse > n_fine:
            raise MedSRError("data consistency needs an output at least as fine as the input along every axis")
        operators.append(None if n_coarse == n_fine else profile_weights(n_fine, n_coarse, profile, 1.0))
    return operators


def acquire_array(array: np.ndarray, matrices) -> np.ndarray:
    """``array`` acquired by A, given axis by axis (a (coarse, fine) matrix or None per axis)."""
    for axis, matrix in enumerate(matrices):
        if matrix is not None:
            array = apply_along_axis(array, matrix, axis)
    return array


def _back_project(residual: np.ndarray, operators) -> np.ndarray:
    """A+ ``residual``, the pseudo-inverse applied axis by axis."""
    return acquire_array(residual, [None if w is None else np.linalg.pinv(w) for w in operators])


def project_array(array: np.ndarray, measured: np.ndarray, operators) -> np.ndarray:
    """``array`` made consistent with ``measured`` = A ``array``, A given axis by axis (``operators``: a
    (coarse, fine) matrix or None per axis): x + A+(y - A x)."""
    return array + _back_project(measured - acquire_array(array, operators), operators)


def _project_with_torch(array: np.ndarray, measured: np.ndarray, operators, device: str) -> tuple:
    """(projected array, RMS residual before, after), the products through torch on ``device`` (float32; torch
    keeps TF32 off for matrix products unless asked)."""
    import torch

    def tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)

    def contract(x, matrices):
        for axis, matrix in enumerate(matrices):
            if matrix is not None:
                x = torch.movedim(torch.movedim(x, axis, -1) @ matrix.T, -1, axis)
        return x

    forward = [None if w is None else tensor(w) for w in operators]
    backward = [None if w is None else tensor(np.linalg.pinv(w)) for w in operators]
    x, y = tensor(array), tensor(measured)
    residual = y - contract(x, forward)
    x += contract(residual, backward)
    after = y - contract(x, forward)
    rms = [float(torch.sqrt(torch.mean(r.double() ** 2))) for r in (residual, after)]
    return x.cpu().numpy(), rms[0], rms[1]


def project(result: Volume, observed: Volume, profile: str = "box", device: Optional[str] = None) -> Volume:
    """``result`` made consistent with ``observed``; metadata records the RMS residual before and after.
    ``device``: where the result was computed; a CUDA device projects there."""
    operators = _operators(result, observed, profile)
    measured = observed.as_float32()
    if device and str(device).startswith("cuda"):
        corrected, before, after = _project_with_torch(result.as_float32(), measured, operators, str(device))
    else:
        residual = measured - acquire_array(result.as_float32(), operators)
        corrected = result.as_float32() + _back_project(residual, operators)  # (the residual is reported, so kept)
        before = float(np.sqrt(np.mean(residual.astype(np.float64) ** 2)))
        after = float(np.sqrt(np.mean((measured - acquire_array(corrected, operators)).astype(np.float64) ** 2)))
    return result.with_array(
        corrected.astype(np.float32, copy=False),
        data_consistency=profile,
        consistency_residual_before=f"{before:.6g}",
        consistency_residual_after=f"{after:.6g}",
    )
