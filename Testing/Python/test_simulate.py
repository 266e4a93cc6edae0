"""The acquisition simulator on the real sample: slice profiles, k-space, noise, determinism."""

import numpy as np
import pytest

from MedSRLib import MedSRError
from MedSRLib.geometry import profile_weights
from MedSRLib.simulate import Acquisition, add_noise, degrade
from MedSRLib.simulate.kspace import truncate

from conftest import oblique


def test_box_profile_is_block_averaging(t1_crop):
    low = degrade(t1_crop, Acquisition((2, 3, 4)))
    a = t1_crop.array.astype(np.float64)
    blocks = a.reshape(32, 2, 24, 3, 15, 4).mean(axis=(1, 3, 5))
    np.testing.assert_allclose(low.array, blocks, rtol=0, atol=1e-3)
    assert low.grid == t1_crop.grid.coarsened((2, 3, 4))


def test_partial_blocks_keep_the_mean_and_field_of_view(t1):
    low = degrade(t1, Acquisition((1, 1, 4)))  # 189 slices -> 47 slices of 189/47 mm
    assert low.grid.size == (197, 233, 47)
    assert low.grid.spacing[2] == pytest.approx(189 / 47)
    # exact area weights: every fine voxel counts with total weight n_out/n_in, so the mean is kept
    assert low.array.mean() == pytest.approx(t1.array.mean(), rel=1e-5)


def test_gaussian_profile_has_the_requested_fwhm():
    w = profile_weights(400, 10, "gaussian", thickness=1.0)
    row = w[5]
    centre = (np.arange(400) + 0.5) / 40
    above_half = centre[row >= row.max() / 2]
    assert above_half.max() - above_half.min() == pytest.approx(1.0, abs=0.03)  # FWHM = one coarse voxel


def test_gap_makes_slices_thinner_and_the_result_sharper(t1_crop):
    touching = degrade(t1_crop, Acquisition((1, 1, 4), "box"))
    gapped = degrade(t1_crop, Acquisition((1, 1, 4), "box", gap_mm=2.0))
    assert touching.grid == gapped.grid
    # thinner slices average less: more variance left along the slice axis
    assert np.var(np.diff(gapped.array, axis=2)) > np.var(np.diff(touching.array, axis=2))
    with pytest.raises(MedSRError, match="leaves no slice"):
        degrade(t1_crop, Acquisition((1, 1, 4), "box", gap_mm=4.0))


def test_kspace_truncation_samples_the_contract_grid():
    n, m, cycles = 64, 16, 3
    signal = np.cos(2 * np.pi * cycles * (np.arange(n) + 0.5) / n)[:, None, None] * np.ones((1, 2, 2))
    low = truncate(signal, (m, 2, 2), magnitude=False)
    expected = np.cos(2 * np.pi * cycles * (np.arange(m) + 0.5) / m)  # coarse centres, same field of view
    np.testing.assert_allclose(low[:, 0, 0], expected, atol=1e-6)


def test_the_kspace_profile_is_the_simulators_truncation_as_a_matrix(t1_crop):
    """The `kspace` slice profile (what `self`, `adapt` and data consistency are told with --slice-profile kspace)
    acquires a real volume's axis exactly as the simulator truncates its k-space: the same values wherever the
    truncation comes out non-negative (the simulator keeps the magnitude of an MR image), and a mean kept."""
    array = t1_crop.as_float32().astype(np.float64)
    n = array.shape[2]
    weights = profile_weights(n, n // 4, "kspace")
    assert weights.shape == (n // 4, n) and np.allclose(weights.sum(axis=1), 1.0)
    acquired = np.einsum("ij,abj->abi", weights, array)
    simulated = degrade(t1_crop, Acquisition((1, 1, 4), "kspace")).as_float32()
    kept = acquired >= 0
    assert kept.mean() > 0.9 and np.ptp(array) > 50
    np.testing.assert_allclose(acquired[kept], simulated[kept], atol=1e-3 * np.ptp(array))
    np.testing.assert_allclose(np.abs(acquired[~kept]), simulated[~kept], atol=1e-3 * np.ptp(array))
    with pytest.raises(MedSRError, match="no slice thickness of its own"):
        profile_weights(n, n // 4, "kspace", thickness=0.8)


def test_kspace_on_real_volume_rings_but_keeps_the_grid(t1_crop):
    low = degrade(t1_crop, Acquisition((2, 2, 2), "kspace"))
    box = degrade(t1_crop, Acquisition((2, 2, 2), "box"))
    assert low.grid == box.grid
    assert low.array.min() >= 0  # MR magnitude
    assert np.corrcoef(low.array.ravel(), box.array.ravel())[0, 1] > 0.97


def test_oblique_geometry_survives_degradation(t1_crop):
    volume = oblique(t1_crop)
    low = degrade(volume, Acquisition((1, 2, 3)))
    assert low.grid == volume.grid.coarsened((1, 2, 3))
    assert low.grid.direction == volume.grid.direction


def test_noise_is_deterministic_with_a_seed(t1_crop):
    a = degrade(t1_crop, Acquisition((1, 1, 2), noise="rician", noise_level=0.05, seed=7))
    b = degrade(t1_crop, Acquisition((1, 1, 2), noise="rician", noise_level=0.05, seed=7))
    c = degrade(t1_crop, Acquisition((1, 1, 2), noise="rician", noise_level=0.05, seed=8))
    np.testing.assert_array_equal(a.array, b.array)
    assert not np.array_equal(a.array, c.array)


def test_gaussian_noise_has_the_requested_level(t1):
    clean = t1.as_float32()
    noisy = add_noise(clean, "gaussian", 0.03, np.random.default_rng(0))
    assert np.std(noisy - clean) == pytest.approx(0.03 * 255, rel=0.01)


def test_rician_noise_lifts_the_dark_background(t1):
    clean = t1.as_float32()
    noisy = add_noise(clean, "rician", 0.05, np.random.default_rng(0))
    background = clean == 0
    sigma = 0.05 * 255
    # the magnitude of pure noise is Rayleigh distributed: mean sigma * sqrt(pi / 2)
    assert noisy[background].mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.02)


def test_poisson_noise_grows_with_the_signal(t1):
    clean = t1.as_float32()
    noisy = add_noise(clean, "poisson", 0.05, np.random.default_rng(0))
    dark = (clean > 20) & (clean < 40)
    bright = clean > 200
    assert np.std((noisy - clean)[bright]) > 1.5 * np.std((noisy - clean)[dark])


def test_rician_noise_on_ct_is_refused():
    with pytest.raises(MedSRError, match="never negative"):
        add_noise(np.full((4, 4, 4), -1000.0), "rician", 0.05, np.random.default_rng(0))


@pytest.mark.parametrize("kwargs, message", [
    ({"sampling": "cubic"}, "sampling"),
    ({"gap_mm": float("nan")}, "gap"),
    ({"noise_level": 0.1}, "noise kind"),
    ({"sampling": "kspace", "gap_mm": 1.0}, "slice profiles"),
])
def test_bad_acquisitions_are_refused(kwargs, message):
    with pytest.raises(MedSRError, match=message):
        Acquisition((1, 1, 2), **kwargs)
