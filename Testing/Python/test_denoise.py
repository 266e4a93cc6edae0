"""Learned denoising on real crops: the self-supervised fit lowers the error; units and grid are kept."""

import numpy as np
import pytest

from MedSRLib import Progress
from MedSRLib.methods import enhance
from MedSRLib.metrics import evaluate
from MedSRLib.simulate import add_noise
from MedSRLib.volume import Volume


def test_noise2self_lowers_the_error_of_a_noisy_real_crop(t1_crop):
    noisy = t1_crop.with_array(add_noise(t1_crop.as_float32(), "rician", 0.05, np.random.default_rng(0)))
    denoised = enhance(noisy, ["denoise"], Progress(), denoise={"steps": 30, "patch": 32, "batch": 2, "device": "cpu"})
    before = evaluate(t1_crop, noisy)["whole"]["psnr"]
    after = evaluate(t1_crop, denoised)["whole"]["psnr"]
    assert after > before + 2.0, (before, after)
    assert denoised.grid == t1_crop.grid and denoised.metadata["enhance"] == "denoise"
    assert float(denoised.metadata["noise_sigma"]) == pytest.approx(0.05 * 255, rel=0.1)


def test_noise2self_keeps_hounsfield_units(t1_crop):
    hu = t1_crop.as_float32() * 4 - 1000
    hu[:4] = -1000.0  # air
    truth = Volume(hu, t1_crop.grid, "CT")
    noisy = truth.with_array(hu + np.random.default_rng(1).normal(0, 80, hu.shape).astype(np.float32))  # low-dose CT
    denoised = enhance(noisy, ["denoise"], Progress(), denoise={"steps": 30, "patch": 32, "batch": 2, "device": "cpu"})
    assert denoised.modality == "CT"
    assert abs(float(np.median(denoised.array[:4])) + 1000) < 15  # air stays at -1000 HU
    assert evaluate(truth, denoised)["whole"]["mse"] < 0.5 * evaluate(truth, noisy)["whole"]["mse"]
