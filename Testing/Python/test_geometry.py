"""The voxel grid, the LPS/RAS convention and the resampling contract."""

import numpy as np
import pytest

from MedSRLib import Grid, MedSRError
from MedSRLib.geometry import LPS_TO_RAS, resample_to_grid

from conftest import OBLIQUE, oblique


def edges(grid: Grid) -> np.ndarray:
    """World positions of the 8 outer corners of the field of view (voxel edges, not centres)."""
    corners = np.array([[i, j, k] for i in (-0.5, grid.size[0] - 0.5) for j in (-0.5, grid.size[1] - 0.5) for k in (-0.5, grid.size[2] - 0.5)])
    m = grid.ijk_to_lps()
    return corners @ m[:3, :3].T + m[:3, 3]


SIZES = [(197, 233, 189), (7, 9, 11), (31, 17, 5), (64, 64, 64)]
FACTORS = [(2, 2, 2), (1, 1, 3), (1, 1, 4), (3, 4, 5), (1, 1, 6), (4, 4, 4)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("factors", FACTORS)
@pytest.mark.parametrize("direction", ["identity", "oblique"])
def test_block_average_then_back_gives_the_original_grid(size, factors, direction):
    grid = Grid(size, (0.9, 1.1, 1.3), (-12.345678, 23.456789, -34.567891), OBLIQUE if direction == "oblique" else np.eye(3).ravel())
    low = grid.coarsened(factors)
    back = low.with_spacing(grid.spacing)
    assert back.size == grid.size
    assert back.spacing == grid.spacing
    assert back.direction == grid.direction
    np.testing.assert_allclose(back.origin, grid.origin, rtol=0, atol=1e-9)
    # the field of view never moves: outer voxel edges of the coarse grid are the fine grid's
    np.testing.assert_allclose(edges(low), edges(grid), rtol=0, atol=1e-9)


def test_block_averaging_real_volume_and_resampling_back_lands_on_the_original_grid(t1):
    low_grid = t1.grid.coarsened((2, 2, 3))
    low = resample_to_grid(t1.array, t1.grid, low_grid, "linear")
    assert low.shape == low_grid.size == (98, 116, 63)
    back_grid = low_grid.with_spacing(t1.spacing)
    back = resample_to_grid(low, low_grid, back_grid, "bspline")
    assert back.shape == t1.array.shape
    assert back_grid.spacing == t1.grid.spacing and back_grid.direction == t1.grid.direction
    np.testing.assert_allclose(back_grid.origin, t1.grid.origin, atol=1e-9)


def test_spacing_that_does_not_tile_the_field_of_view_is_adjusted():
    grid = Grid((10, 10, 10), (1.0, 1.0, 1.0))
    coarse = grid.with_spacing((3.0, 1.0, 4.0))
    assert coarse.size == (3, 10, 2)
    np.testing.assert_allclose(coarse.spacing, (10 / 3, 1.0, 5.0))
    np.testing.assert_allclose(edges(coarse), edges(grid), atol=1e-12)


def test_scaled_grid_doubles_voxels_and_keeps_edges():
    grid = Grid((5, 6, 7), (2.0, 2.0, 3.0), (1.0, 2.0, 3.0), OBLIQUE)
    fine = grid.scaled((2, 2, 3))
    assert fine.size == (10, 12, 21) and fine.spacing == (1.0, 1.0, 1.0)
    np.testing.assert_allclose(edges(fine), edges(grid), atol=1e-12)


def test_ras_is_lps_with_the_first_two_axes_negated(t1):
    lps, ras = t1.grid.ijk_to_lps(), t1.grid.ijk_to_ras()
    np.testing.assert_array_equal(ras, LPS_TO_RAS @ lps)
    # first voxel of the MNI template: LPS (98, 134, -72) mm, i.e. RAS (-98, -134, -72)
    np.testing.assert_array_equal(ras @ [0, 0, 0, 1], [-98.0, -134.0, -72.0, 1.0])
    assert Grid.from_ijk_to_ras(ras, t1.grid.size) == t1.grid


def test_oblique_ijk_to_ras_round_trip(t1_crop):
    grid = oblique(t1_crop).grid
    rebuilt = Grid.from_ijk_to_ras(grid.ijk_to_ras(), grid.size)
    assert rebuilt.size == grid.size
    np.testing.assert_allclose(rebuilt.spacing, grid.spacing, atol=1e-12)
    np.testing.assert_allclose(rebuilt.origin, grid.origin, atol=1e-12)
    np.testing.assert_allclose(rebuilt.direction, grid.direction, atol=1e-12)


@pytest.mark.parametrize(
    "spacing, message",
    [((0.0, 1.0, 1.0), "positive"), ((-1.0, 1.0, 1.0), "positive"), ((1e5, 1.0, 1.0), "absurd"), ((float("nan"), 1.0, 1.0), "finite")],
)
def test_bad_spacing_is_refused(spacing, message):
    with pytest.raises(MedSRError, match=message):
        Grid((4, 4, 4), (1.0, 1.0, 1.0)).with_spacing(spacing)


@pytest.mark.parametrize("factors", [(0, 1, 1), (-2, 1, 1), (1, 1, 1000), (0.5, 1, 1)])
def test_absurd_factors_are_refused(factors):
    with pytest.raises(MedSRError, match="factors"):
        Grid((4, 4, 4), (1.0, 1.0, 1.0)).coarsened(factors)


def test_huge_grid_is_refused():
    with pytest.raises(MedSRError, match="more than"):
        Grid((512, 512, 512), (1.0, 1.0, 1.0)).with_spacing((0.1, 0.1, 0.1))


def test_non_orthonormal_direction_is_refused():
    with pytest.raises(MedSRError, match="orthonormal"):
        Grid((4, 4, 4), (1.0, 1.0, 1.0), direction=(1, 0, 0, 0, 2, 0, 0, 0, 1))


def test_bounding_box_holds_every_true_voxel_with_its_margin_clipped_to_the_array():
    from MedSRLib.geometry import bounding_box

    mask = np.zeros((20, 30, 40), bool)
    mask[5, 7, 9] = mask[12, 20, 38] = True
    box = bounding_box(mask, margin=3)
    assert box == (slice(2, 16), slice(4, 24), slice(6, 40))
    assert mask[box].sum() == mask.sum()
    assert bounding_box(mask) == (slice(5, 13), slice(7, 21), slice(9, 39))
    assert bounding_box(np.zeros((4, 4, 4), bool)) is None
