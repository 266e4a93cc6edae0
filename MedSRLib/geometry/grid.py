"""The voxel grid of a volume and the resampling contract.

Conventions (the same as ITK / SimpleITK and every file format we read):

* index order is (i, j, k); arrays are stored in that order too, so
  ``array.shape == grid.size`` and axis ``a`` of the array has ``spacing[a]``;
* ``origin`` is the world position, in millimetres, of the *centre* of voxel
  (0, 0, 0), in LPS coordinates (x to the patient's Left, y Posterior, z Superior);
* ``direction`` is a 3x3 matrix whose column ``a`` is the unit vector of index
  axis ``a`` in LPS.

3D Slicer shows RAS; :meth:`Grid.ijk_to_ras` and :meth:`Grid.from_ijk_to_ras`
convert by negating the first two world coordinates, nothing else.

The resampling contract: a grid that changes its spacing keeps its field of
view, i.e. the outer *edges* of the outer voxels stay where they were. The new
number of voxels along an axis is the field of view divided by the requested
spacing, rounded to the nearest integer (at least 1); when that division is not
whole, the spacing is adjusted so that the voxels tile the field of view exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

from ..errors import MedSRError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

#: spacing outside this range (mm) is refused as absurd
MIN_SPACING_MM = 1e-3
MAX_SPACING_MM = 1e3
#: largest grid we agree to make, in voxels (a float32 volume of 8 GiB)
MAX_VOXELS = 2**31
#: a requested spacing is kept exactly when it tiles the field of view to this relative tolerance
SPACING_SNAP_RTOL = 1e-6


def _triple(values, name: str) -> Tuple[float, float, float]:
    values = tuple(float(v) for v in values)
    if len(values) != 3:
        raise MedSRError(f"{name} needs 3 values (one per axis), got {len(values)}: {values}")
    if not all(np.isfinite(values)):
        raise MedSRError(f"{name} must be finite, got {values}")
    return values


def check_spacing(spacing: Sequence[float], name: str = "spacing") -> Tuple[float, float, float]:
    spacing = _triple(spacing, name)
    for s in spacing:
        if s <= 0:
            raise MedSRError(f"{name} must be positive, got {spacing} mm")
        if not MIN_SPACING_MM <= s <= MAX_SPACING_MM:
            raise MedSRError(
                f"{name} {spacing} mm is absurd: each value must lie in [{MIN_SPACING_MM}, {MAX_SPACING_MM}] mm"
            )
    return spacing


@dataclass(frozen=True)
class Grid:
    """Size, spacing (mm), origin (LPS mm, centre of the first voxel) and direction of a 3-D voxel grid.

    >>> g = Grid(size=(4, 4, 4), spacing=(1.0, 1.0, 1.0))
    >>> g.with_spacing((1.0, 1.0, 2.0))
    Grid(size=(4, 4, 2), spacing=(1.00, 1.00, 2.00) mm, origin=(0.00, 0.00, 0.50) mm LPS, direction=identity)
    """

    size: Tuple[int, int, int]
    spacing: Tuple[float, float, float]
    origin: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: Tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    def __post_init__(self):
        size = tuple(int(n) for n in self.size)
        if len(size) != 3 or min(size) < 1:
            raise MedSRError(f"a 3-D grid needs 3 sizes of at least 1 voxel, got {self.size}")
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "spacing", check_spacing(self.spacing))
        object.__setattr__(self, "origin", _triple(self.origin, "origin"))
        direction = np.asarray(self.direction, dtype=float).reshape(-1)
        if direction.size != 9 or not np.all(np.isfinite(direction)):
            raise MedSRError(f"direction must be a finite 3x3 matrix, got {self.direction}")
        matrix = direction.reshape(3, 3)
        if not np.allclose(matrix.T @ matrix, np.eye(3), atol=1e-4):
            raise MedSRError(f"direction must be orthonormal (a rotation, maybe with a flip), got {matrix.tolist()}")
        object.__setattr__(self, "direction", tuple(direction.tolist()))

    # --- matrices -----------------------------------------------------------------
    @property
    def direction_matrix(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def num_voxels(self) -> int:
        return int(np.prod(self.size, dtype=np.int64))

    @property
    def field_of_view(self) -> Tuple[float, float, float]:
        """Edge-to-edge extent along each index axis, in mm."""
        return tuple(n * s for n, s in zip(self.size, self.spacing))

    def ijk_to_lps(self) -> np.ndarray:
        """4x4 matrix taking a voxel index (i, j, k, 1) to LPS millimetres."""
        m = np.eye(4)
        m[:3, :3] = self.direction_matrix * np.asarray(self.spacing)
        m[:3, 3] = self.origin
        return m

    def ijk_to_ras(self) -> np.ndarray:
        """4x4 matrix taking a voxel index (i, j, k, 1) to RAS millimetres (3D Slicer's world)."""
        return LPS_TO_RAS @ self.ijk_to_lps()

    @classmethod
    def from_ijk_to_lps(cls, matrix: np.ndarray, size: Sequence[int]) -> "Grid":
        matrix = np.asarray(matrix, dtype=float)
        if matrix.shape != (4, 4):
            raise MedSRError(f"an IJK-to-world matrix must be 4x4, got {matrix.shape}")
        columns = matrix[:3, :3]
        spacing = np.linalg.norm(columns, axis=0)
        if np.any(spacing <= 0):
            raise MedSRError(f"IJK-to-world matrix has a zero column: {matrix.tolist()}")
        return cls(size=tuple(size), spacing=tuple(spacing), origin=tuple(matrix[:3, 3]), direction=tuple((columns / spacing).reshape(-1)))

    @classmethod
    def from_ijk_to_ras(cls, matrix: np.ndarray, size: Sequence[int]) -> "Grid":
        return cls.from_ijk_to_lps(LPS_TO_RAS @ np.asarray(matrix, dtype=float), size)

    # --- the resampling contract ------------------------------------------------------
    def with_size(self, size: Sequence[int], snap_spacing: Sequence[float] | None = None) -> "Grid":
        """The grid covering the same field of view with ``size`` voxels.

        ``snap_spacing`` is the spacing the caller asked for: where it tiles the
        field of view (to :data:`SPACING_SNAP_RTOL`), it is kept exactly rather
        than recomputed, so that round trips give back identical numbers.
        """
        size = tuple(int(n) for n in size)
        if len(size) != 3 or min(size) < 1:
            raise MedSRError(f"grid size must be 3 positive integers, got {size}")
        if int(np.prod(size, dtype=np.int64)) > MAX_VOXELS:
            raise MedSRError(f"the requested grid {size} has more than {MAX_VOXELS} voxels; ask for a coarser spacing")
        new_spacing = []
        for axis, (n_old, s_old, n_new) in enumerate(zip(self.size, self.spacing, size)):
            exact = s_old * n_old / n_new if n_new != n_old else s_old
            if snap_spacing is not None and abs(snap_spacing[axis] * n_new - s_old * n_old) <= SPACING_SNAP_RTOL * s_old * n_old:
                exact = float(snap_spacing[axis])
            new_spacing.append(exact)
        shift = self.direction_matrix @ ((np.asarray(new_spacing) - np.asarray(self.spacing)) / 2.0)
        origin = tuple(np.asarray(self.origin) + shift)
        return Grid(size=size, spacing=tuple(new_spacing), origin=origin, direction=self.direction)

    def with_spacing(self, spacing: Sequence[float]) -> "Grid":
        """The grid with (about) ``spacing`` mm covering exactly the same field of view."""
        spacing = check_spacing(spacing)
        size = tuple(max(1, int(round(n * s / t))) for n, s, t in zip(self.size, self.spacing, spacing))
        return self.with_size(size, snap_spacing=spacing)

    def scaled(self, scale: Sequence[float]) -> "Grid":
        """The grid with ``scale`` times as many voxels per axis (2 = twice as fine), same field of view."""
        scale = _triple(scale, "scale")
        if any(f <= 0 for f in scale):
            raise MedSRError(f"scale factors must be positive, got {scale}")
        size = tuple(max(1, int(round(n * f))) for n, f in zip(self.size, scale))
        return self.with_size(size, snap_spacing=tuple(s / f for s, f in zip(self.spacing, scale)))

    def coarsened(self, factors: Sequence[float]) -> "Grid":
        """The grid with voxels ``factors`` times larger per axis (an acquisition at lower resolution)."""
        factors = _triple(factors, "factors")
        if any(f < 1 or f > 64 for f in factors):
            raise MedSRError(f"factors must lie in [1, 64] (1 keeps an axis as it is), got {factors}")
        return self.scaled(tuple(1.0 / f for f in factors))

    # --- comparison -----------------------------------------------------------------------
    def matches(self, other: "Grid", atol_mm: float = 1e-5, atol_direction: float = 1e-6) -> bool:
        """Same size, and spacing, origin and direction equal within the tolerances."""
        return (
            self.size == other.size
            and np.allclose(self.spacing, other.spacing, rtol=0, atol=atol_mm)
            and np.allclose(self.origin, other.origin, rtol=0, atol=atol_mm)
            and np.allclose(self.direction, other.direction, rtol=0, atol=atol_direction)
        )

    def describe_difference(self, other: "Grid") -> str:
        parts = []
        for name in ("size", "spacing", "origin", "direction"):
            a, b = getattr(self, name), getattr(other, name)
            if name == "size":
                if a != b:
                    parts.append(f"size {a} vs {b}")
            elif not np.allclose(a, b, rtol=0, atol=1e-5):
                parts.append(f"{name} {_fmt(a)} vs {_fmt(b)}")
        return ", ".join(parts) or "none"

    def __repr__(self) -> str:
        direction = "identity" if np.allclose(self.direction_matrix, np.eye(3)) else _fmt(self.direction)
        return (
            f"Grid(size={self.size}, spacing={_fmt(self.spacing)} mm, origin={_fmt(self.origin)} mm LPS, "
            f"direction={direction})"
        )


#: a scan is thick-slice when its coarsest voxel edge is at least this many times its finest
THICK_SLICE_RATIO = 1.5


def scan_kind(grid: "Grid") -> str:
    """"thick-slice" or "isotropic": how a scan on ``grid`` was acquired, by its voxel edges (THICK_SLICE_RATIO)."""
    return "isotropic" if max(grid.spacing) / min(grid.spacing) < THICK_SLICE_RATIO else "thick-slice"


def refinement_kind(acquired: "Grid", target: "Grid") -> str:
    """The kind of restoration from ``acquired`` onto ``target``: "isotropic" when every axis is refined (a 2x2x3 mm
    scan brought to 1 mm is restored as a scan coarse along every axis, whatever its voxels' ratio), else the scan's
    own kind (scan_kind)."""
    if all(a > t * (1.0 + 1e-6) for a, t in zip(acquired.spacing, target.spacing)):
        return "isotropic"
    return scan_kind(acquired)


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in values) + ")"
