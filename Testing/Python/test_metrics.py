"""Metrics on the real sample: SSIM against MONAI, PSNR by hand, label overlap and distances, grid checks."""

import numpy as np
import pytest
import torch

from MedSRLib import Grid, MedSRError, read_volume
from MedSRLib.metrics import evaluate, image_metrics, ssim_map
from MedSRLib.metrics.intensity import default_data_range
from MedSRLib.sample_data import sample_path
from MedSRLib.volume import Volume


def test_ssim_agrees_with_monai_away_from_the_border(t1_crop):
    from monai.metrics.regression import compute_ssim_and_cs

    x = t1_crop.as_float32()
    y = x + np.random.default_rng(0).normal(0, 10, x.shape).astype(np.float32)
    ours = ssim_map(x, y, 255.0)
    theirs, _ = compute_ssim_and_cs(
        torch.from_numpy(y)[None, None], torch.from_numpy(x)[None, None], spatial_dims=3, kernel_size=(11, 11, 11),
        kernel_sigma=(1.5, 1.5, 1.5), data_range=255.0, kernel_type="gaussian", k1=0.01, k2=0.03,
    )
    # MONAI's map is the valid part (5 voxels in from each side); kernels differ only in sampling detail
    np.testing.assert_allclose(ours[5:-5, 5:-5, 5:-5], theirs[0, 0].numpy(), atol=3e-3)


def test_psnr_and_mse_by_hand(t1):
    offset = t1.with_array(t1.as_float32() + 3.0)
    result = evaluate(t1, offset)
    assert result["whole"]["mse"] == pytest.approx(9.0)
    assert result["data_range"] == 228.0  # the reference's 0.5-99.5 percentile range
    assert result["whole"]["psnr"] == pytest.approx(10 * np.log10(228.0**2 / 9.0))
    assert evaluate(t1, t1)["whole"]["psnr"] == float("inf")
    assert evaluate(t1, t1)["whole"]["ssim"] == pytest.approx(1.0)


def test_foreground_mask_excludes_the_air(t1):
    result = evaluate(t1, t1.with_array(t1.as_float32() + 3.0))
    brain = int((t1.array > 0).sum())
    assert 0.5 * brain < result["mask_voxels"] <= brain


def test_given_mask_and_data_range_are_used(t1_crop):
    mask = t1_crop.with_array((t1_crop.array > 150).astype(np.uint8))
    noisy = t1_crop.with_array(t1_crop.as_float32() + np.where(t1_crop.array > 150, 2.0, 0.0).astype(np.float32))
    result = evaluate(t1_crop, noisy, mask=mask, data_range=100.0)
    assert result["foreground"]["mse"] == pytest.approx(4.0)
    assert result["foreground"]["psnr"] == pytest.approx(10 * np.log10(100.0**2 / 4.0))
    assert result["data_range_source"] == "given"


def tissue_labels() -> Volume:
    """A real 3-class label map from the MNI probability maps: 1 grey matter, 2 white matter."""
    gm, wm = read_volume(sample_path("gm")), read_volume(sample_path("wm"))
    labels = np.zeros(gm.grid.size, np.uint8)
    labels[gm.array > 127] = 1
    labels[wm.array > 127] = 2
    return gm.with_array(labels)


def test_label_metrics_on_real_tissue_maps():
    reference = tissue_labels()
    shifted_array = np.roll(reference.array, 2, axis=0)  # a 2 mm left-right shift
    result = evaluate(reference, reference.with_array(shifted_array))
    assert result["kind"] == "labels"
    for label in ("1", "2"):
        m = result["labels"][label]
        a, b = reference.array == int(label), shifted_array == int(label)
        assert m["dice"] == pytest.approx(2 * (a & b).sum() / (a.sum() + b.sum()))
        assert m["iou"] == pytest.approx((a & b).sum() / (a | b).sum())
        assert m["reference_ml"] == pytest.approx(a.sum() / 1000.0)
        assert 1.0 <= m["hd95_mm"] <= 2.0 + 1e-6  # no surface point moves more than the 2 mm shift
    assert evaluate(reference, reference)["mean_dice"] == 1.0


def test_mismatched_grids_are_refused_not_resampled(t1_crop):
    other = t1_crop.with_array(t1_crop.array, Grid(t1_crop.grid.size, (1.0, 1.0, 1.2), t1_crop.grid.origin, t1_crop.grid.direction))
    with pytest.raises(MedSRError, match="not on the reference's grid.*spacing"):
        evaluate(t1_crop, other)


def test_constant_reference_has_no_data_range():
    with pytest.raises(MedSRError, match="constant"):
        default_data_range(np.ones((4, 4, 4)))


def test_image_metrics_refuse_an_empty_mask(t1_crop):
    with pytest.raises(MedSRError, match="empty"):
        image_metrics(t1_crop.array, t1_crop.array, np.zeros(t1_crop.grid.size, bool))
