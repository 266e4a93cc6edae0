"""The shared inference engine: patch-wise equals whole-volume, progress, cancel, out-of-memory fallback."""

import numpy as np
import pytest
import torch

from MedSRLib import Cancelled, MedSRError, Progress
from MedSRLib.inference import predict, resolve_device, window_count


class LocalNetwork(torch.nn.Module):
    """A fixed 3x3x3 smoothing + ReLU: local, so patch-wise results must equal the whole-volume result."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(1, 2, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0] = 1.0 / 27
            self.conv.weight[1, 0, 1, 1, 1] = -1.0

    def forward(self, x):
        return torch.relu(self.conv(x))


def test_one_window_is_exactly_the_whole_volume_forward(t1_crop):
    image = t1_crop.as_float32() / 255.0
    network = LocalNetwork()
    output, report = predict(network, image, device="cpu", patch_size=image.shape)
    with torch.no_grad():
        whole = network(torch.from_numpy(np.ascontiguousarray(image))[None, None])[0].numpy()
    assert report.windows == 1
    np.testing.assert_allclose(output, whole, atol=1e-6)


def test_patchwise_blending_stays_close_to_the_whole_volume(t1_crop):
    image = t1_crop.as_float32() / 255.0
    network = LocalNetwork()
    output, report = predict(network, image, device="cpu", patch_size=(32, 32, 32), overlap=0.5)
    with torch.no_grad():
        whole = network(torch.from_numpy(np.ascontiguousarray(image))[None, None])[0].numpy()
    assert output.shape == (2,) + image.shape
    # patch faces see zero padding; Gaussian blending gives them ~1e-3 weight, so seams stay faint
    assert np.abs(output - whole).mean() < 0.01 * np.abs(whole).mean()
    assert report.windows == window_count(image.shape, (32, 32, 32), 0.5) and report.device == "cpu"


class ShiftingNetwork(torch.nn.Module):
    """Output = input shifted by one voxel along i and j: not mirror-symmetric, so mirrored passes differ."""

    def forward(self, x):
        return torch.roll(x, shifts=(1, 1), dims=(2, 3))


def test_mirroring_averages_the_network_over_every_mirrored_copy(t1_crop):
    image = t1_crop.as_float32() / 255.0
    network = ShiftingNetwork()
    output, _ = predict(network, image, device="cpu", patch_size=image.shape, mirror_axes=(0, 1))
    x = torch.from_numpy(np.ascontiguousarray(image))[None, None]
    expected = sum(torch.flip(network(torch.flip(x, dims)), dims) if dims else network(x)
                   for dims in [(), (2,), (3,), (2, 3)])[0].numpy() / 4
    np.testing.assert_allclose(output, expected, atol=1e-6)
    one_pass, _ = predict(network, image, device="cpu", patch_size=image.shape)
    assert np.abs(output - one_pass).max() > 0.1  # the mirrored passes did change the result
    # mirroring along an axis the network treats symmetrically changes nothing
    along_k, _ = predict(network, image, device="cpu", patch_size=image.shape, mirror_axes=(2,))
    np.testing.assert_allclose(along_k, one_pass, atol=1e-6)
    with pytest.raises(MedSRError, match="mirror axes must be spatial axes"):
        predict(network, image, device="cpu", mirror_axes=(3,))


def test_progress_reaches_the_end_and_cancel_stops(t1_crop):
    image = t1_crop.as_float32()
    seen = []
    predict(LocalNetwork(), image, device="cpu", patch_size=(32, 32, 32), progress=Progress(lambda f, t: seen.append(f)))
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    with pytest.raises(Cancelled):
        predict(LocalNetwork(), image, device="cpu", patch_size=(32, 32, 32), progress=Progress(cancel=lambda: True))


class OutOfMemoryAbove(torch.nn.Module):
    """Behaves like a GPU with too little memory: patches larger than ``limit`` voxels raise CUDA's OOM error."""

    def __init__(self, limit):
        super().__init__()
        self.inner = LocalNetwork()
        self.limit = limit

    def forward(self, x):
        if x[0, 0].numel() > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner(x)


def test_out_of_memory_retries_with_smaller_patches(t1_crop):
    network = OutOfMemoryAbove(limit=40**3)
    output, report = predict(network, t1_crop.as_float32(), device="cpu", patch_size=(64, 64, 64))
    assert report.patch_size == (32, 32, 32)
    assert report.notes == ["out of memory on cpu with patch (64, 64, 64); retrying with (32, 32, 32)"]
    assert output.shape[1:] == t1_crop.grid.size
    reference, _ = predict(LocalNetwork(), t1_crop.as_float32(), device="cpu", patch_size=(32, 32, 32))
    np.testing.assert_array_equal(output, reference)


def test_out_of_memory_at_the_smallest_patch_is_one_clear_error(t1_crop):
    with pytest.raises(MedSRError, match="out of memory on the CPU even with"):
        predict(OutOfMemoryAbove(limit=10), t1_crop.as_float32(), device="cpu", patch_size=(64, 64, 64))


def test_unknown_device_is_refused():
    with pytest.raises(MedSRError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(MedSRError, match="no CUDA"):
            resolve_device("cuda:0")
    assert resolve_device("cpu").type == "cpu"


def test_window_count_matches_the_windows_monai_runs(t1_crop):
    calls = []

    class Counting(LocalNetwork):
        def forward(self, x):
            calls.append(x.shape)
            return super().forward(x)

    image = t1_crop.as_float32()
    for patch, overlap in [((32, 32, 32), 0.25), ((48, 40, 32), 0.5), ((64, 72, 60), 0.25)]:
        calls.clear()
        _, report = predict(Counting(), image, device="cpu", patch_size=patch, overlap=overlap)
        assert len(calls) == report.windows == window_count(image.shape, patch, overlap)


def test_even_tiles_use_the_fewest_windows_with_the_margin(t1_crop):
    """Windows for a small receptive field: the count MONAI runs, the overlap at least the margin, seams faint."""
    from MedSRLib.inference.engine import even_tiles

    calls = []

    class Counting(LocalNetwork):
        def forward(self, x):
            calls.append(tuple(x.shape[2:]))
            return super().forward(x)

    image = t1_crop.as_float32() / 255.0  # 64x72x60
    output, report = predict(Counting(), image, device="cpu", patch_size=(40, 40, 40), margin=8, multiple=1)
    patch, overlaps = even_tiles(image.shape, (40, 40, 40), 8, 1)
    assert len(calls) == report.windows == window_count(image.shape, patch, overlaps) == 8  # 2 windows per axis
    assert all(p <= 40 and 2 * p - n >= 8 for p, n in zip(patch, image.shape))  # each pair overlaps by >= 8 voxels
    assert set(calls) == {patch}
    with torch.no_grad():
        whole = Counting()(torch.from_numpy(np.ascontiguousarray(image))[None, None])[0].numpy()
    assert np.abs(output - whole).mean() < 0.01 * np.abs(whole).mean()


def test_tiles_of_a_network_without_striding_give_its_whole_volume_result_without_seams(t1_crop):
    """The shipped thick-slice network (8 voxels of reach, margin 16) on a real crop in 2x2x2 windows: every voxel is
    taken from a window that saw its whole receptive field, so the tiles equal one pass over the whole volume.
    (With Gaussian blending alone they erred by up to 5 % of the range here, 6 % at seams on the MNI T1.)"""
    from MedSRLib.models.catalog import load_model

    network, entry = load_model("brain-sr-thick")
    margin = entry["input"]["margin"]
    image = t1_crop.as_float32() / 255.0  # 64x72x60
    output, report = predict(network, image, device="cpu", patch_size=(40, 48, 40), margin=margin, multiple=1)
    with torch.no_grad():
        whole = network(torch.from_numpy(np.ascontiguousarray(image))[None, None])[0].numpy()
    assert report.windows == 8
    np.testing.assert_allclose(output, whole, atol=1e-4)
