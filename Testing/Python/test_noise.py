"""Noise estimation and the Rician bias, on the real sample with simulated noise."""

import numpy as np
import pytest

from MedSRLib.methods.noise import estimate_noise_sigma, rician_mean, rician_unbias
from MedSRLib.simulate import add_noise


@pytest.mark.parametrize("level", [0.03, 0.05, 0.09])
def test_noise_sigma_is_estimated_within_five_percent(t1, level):
    noisy = t1.with_array(add_noise(t1.as_float32(), "rician", level, np.random.default_rng(0)))
    assert estimate_noise_sigma(noisy) == pytest.approx(level * 255, rel=0.05)


def test_gaussian_noise_on_ct_like_values(t1_crop):
    hu = t1_crop.as_float32() * 2 - 1000  # the template's own fine texture (~1 unit) stays well below the noise
    noisy = t1_crop.with_array(hu + np.random.default_rng(3).normal(0, 20, hu.shape).astype(np.float32))
    assert estimate_noise_sigma(noisy, mask=np.ones(hu.shape, bool)) == pytest.approx(20, rel=0.05)


def test_rician_mean_matches_simulation_and_inverts():
    rng = np.random.default_rng(1)
    for snr in (0.0, 0.5, 1.0, 2.0, 5.0, 20.0):
        m = np.sqrt((snr + rng.normal(0, 1, 400_000)) ** 2 + rng.normal(0, 1, 400_000) ** 2)
        assert m.mean() == pytest.approx(float(rician_mean(np.array([snr]))[0]), rel=5e-3, abs=5e-3)
    signal = np.array([0.0, 0.3, 1.0, 3.0, 10.0, 80.0])
    np.testing.assert_allclose(rician_unbias(rician_mean(signal) * 2.0, 2.0), signal * 2.0, atol=0.02)
    assert rician_unbias(np.array([0.5]), 1.0)[0] == 0.0  # below the pure-noise mean: no signal



@pytest.mark.parametrize("factors", [(1, 1, 1), (1, 1, 4)])
def test_the_noise_of_a_scan_masked_on_its_own_grid_is_read_inside(t1, factors):
    """The bundled T1 acquired (as is, and as 4 mm thick slices) with Rician noise of 2 % of its maximum everywhere,
    then masked on its own grid (outside a mask that cuts through the brain set to 0): its air is gone, so the noise
    is read inside from the patches' covariance (methods/unmeasured.noise_of_masked_scan), within 5 %; the scan before
    the mask, which has noisy air, reads it there as before, within 10 %."""
    from scipy.ndimage import binary_erosion

    from MedSRLib.methods.noise import noise_of_scan
    from MedSRLib.methods.unmeasured import noise_of_masked_scan, unmeasured_region
    from MedSRLib.simulate import Acquisition, degrade

    low = degrade(t1, Acquisition(factors, "gaussian"))
    sigma = 0.02 * float(low.array.max())
    noisy = add_noise(low.as_float32(), "rician", 0.02, np.random.default_rng(0))
    cut = binary_erosion(low.as_float32() > 0.1 * float(low.array.max()), iterations=4)
    masked = low.with_array(np.where(cut, noisy, 0).astype(np.float32))
    region = unmeasured_region(masked.as_float32())
    assert region is not None and np.array_equal(region, ~cut)
    assert noise_of_masked_scan(masked, region) == pytest.approx(sigma, rel=0.05)
    assert noise_of_scan(low.with_array(noisy)) == pytest.approx(sigma, rel=0.1)
    assert noise_of_scan(masked) == 0.0  # (its air, zeroed, tells nothing)
