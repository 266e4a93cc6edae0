"""Shared fixtures: the real sample volumes shipped in Resources/SampleData, and oblique copies of them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from MedSRLib import Grid, Volume, read_volume
from MedSRLib.io import write_volume
from MedSRLib.sample_data import sample_path


@pytest.fixture(scope="session")
def t1() -> Volume:
    """MNI ICBM152 2009a T1, 197x233x189 uint8 at 1 mm (real data)."""
    return read_volume(sample_path("t1"))


def crop(volume: Volume, lo, hi) -> Volume:
    """A crop of a real volume with its grid moved to match (origin of the first kept voxel)."""
    index = tuple(slice(a, b) for a, b in zip(lo, hi))
    origin = volume.grid.ijk_to_lps() @ np.array([*lo, 1.0])
    grid = Grid(tuple(b - a for a, b in zip(lo, hi)), volume.grid.spacing, tuple(origin[:3]), volume.grid.direction)
    return volume.with_array(np.array(volume.array[index]), grid)


OBLIQUE = tuple(Rotation.from_euler("xyz", [17.0, -11.0, 29.0], degrees=True).as_matrix().reshape(-1))


def oblique(volume: Volume, spacing=(0.9, 1.1, 1.3), origin=(-12.345678, 23.456789, -34.567891)) -> Volume:
    """The same voxels on an oblique, anisotropic grid with an awkward origin."""
    return volume.with_array(volume.array, Grid(volume.grid.size, spacing, origin, OBLIQUE))


@pytest.fixture(scope="session")
def t1_crop(t1) -> Volume:
    """A 64x72x60 crop through the ventricles and cortex (real tissue contrast)."""
    return crop(t1, (66, 80, 64), (130, 152, 124))


@pytest.fixture(scope="session")
def segmented(tmp_path_factory, t1):
    """(For the review tests.) Two crops of the bundled T1 segmented by `medsr segment` (the crops are skull-stripped already)."""
    from MedSRLib.cli.main import main

    folder = tmp_path_factory.mktemp("cohort")
    for name, lo in (("left", (40, 60, 60)), ("right", (70, 60, 60))):
        image = crop(t1, lo, (lo[0] + 88, lo[1] + 112, lo[2] + 64))
        write_volume(image, folder / f"{name}.nii.gz")
        assert main(["segment", str(folder / f"{name}.nii.gz"), str(folder / f"{name}-labels.nii.gz"), "--skull-stripped",
                     "--device", "cpu", "--quiet"]) == 0
    return folder


def assert_consistent_down_to_the_noise(result):
    """A method's result is projected onto its scan down to the scan's noise (methods/consistency.py): the RMS
    residual falls, and to no more than the noise's standard deviation (float32 rounding aside: a noiseless scan's
    projection is exact)."""
    before, after = (float(result.metadata[f"consistency_residual_{when}"]) for when in ("before", "after"))
    assert after <= float(result.metadata["consistency_noise_sigma"]) + 1e-3 * before, (before, after)
    assert after < before
