"""Training the super-resolution network: real pairs, a falling loss, GAN fine-tuning, resume and torchrun."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from MedSRLib import write_volume
from MedSRLib.errors import MedSRError
from MedSRLib.geometry import resample_to_grid
from MedSRLib.simulate import Acquisition, degrade
from MedSRLib.train.sr import train_sr
from MedSRLib.train.sr_data import PairMaker, degrade_and_interpolate, load_high_resolution

from conftest import crop


@pytest.fixture(scope="module")
def hr_file(t1, tmp_path_factory):
    """A 48x56x189 real column (all axial slices) written as the single high-resolution training volume."""
    path = tmp_path_factory.mktemp("hr") / "t1-crop.nii.gz"
    write_volume(crop(t1, (74, 80, 0), (122, 136, 189)), path)
    return path


def test_training_pairs_are_what_inference_sees(t1_crop):
    """The simulated pair equals the simulator's thick-slice scan interpolated by the inference path (lanczos)."""
    truth = t1_crop.with_array(t1_crop.as_float32())
    low = degrade(truth, Acquisition(factors=(1.0, 1.0, 4.0), sampling="gaussian"))
    interpolated = resample_to_grid(low.array, low.grid, truth.grid, "lanczos")
    paired, factor = degrade_and_interpolate(truth.array, 2, 4.0, "gaussian")
    assert factor == 4.0
    assert np.abs(paired - interpolated).max() < 1e-3 * truth.array.max()


def test_pair_maker_keeps_the_patch_centre_exact(hr_file):
    sources, validation = load_high_resolution([str(hr_file)])
    assert sources[0].train_end == 112 and validation.validate_start == 120  # as the MNI T1's split
    rng = np.random.default_rng(3)
    maker = PairMaker("thick-slice", patch=16, augment=False)
    for _ in range(5):
        low, high = maker(sources, rng)
        assert low.shape == high.shape == (16, 16, 16)
        assert np.isfinite(low).all()
        # the in-plane axes are untouched: a slice-axis average of both agrees (the profile keeps the mean)
        assert np.abs(low.mean(axis=2) - high.mean(axis=2)).max() < 0.2
    with pytest.raises(MedSRError, match="unknown kind"):
        PairMaker("sideways")


def test_supervised_training_lowers_the_loss_and_resumes(hr_file, tmp_path):
    out = tmp_path / "run"
    result = train_sr([str(hr_file)], out, "thick-slice", steps=40, batch=2, learning_rate=1e-3, device="cpu",
                      validate_every=20, patch=16, log=lambda _: None)
    history = result["state"]["history"]
    assert [h["step"] for h in history] == [20, 40]
    assert history[1]["loss"] < history[0]["loss"]
    figures = history[-1]["held_out"]
    assert figures["interpolation_psnr_db"] > 20 and 0 < figures["network_ssim"] <= 1
    resumed = train_sr([str(hr_file)], out, "thick-slice", steps=50, batch=2, device="cpu", validate_every=10,
                       resume=True, patch=16, log=lambda _: None)
    assert [h["step"] for h in resumed["state"]["history"]] == [20, 40, 50]


def test_gan_fine_tuning_needs_a_start_and_keeps_its_discriminator(hr_file, tmp_path):
    with pytest.raises(MedSRError, match="--init"):
        train_sr([str(hr_file)], tmp_path / "gan", gan=True, device="cpu")
    start = tmp_path / "supervised"
    train_sr([str(hr_file)], start, steps=4, batch=2, device="cpu", validate_every=4, patch=16, log=lambda _: None)
    result = train_sr([str(hr_file)], tmp_path / "gan", steps=6, batch=2, device="cpu", validate_every=3, patch=16,
                      gan=True, init=str(start), learning_rate=1e-4, log=lambda _: None)
    assert result["state"]["gan"] and len(result["state"]["history"]) == 2
    assert (tmp_path / "gan" / "discriminator" / "checkpoint.safetensors").exists()


def test_several_volumes_hold_out_the_last(hr_file, tmp_path):
    shutil.copy(hr_file, tmp_path / "a.nii.gz")
    shutil.copy(hr_file, tmp_path / "b.nii.gz")
    sources, validation = load_high_resolution([str(tmp_path)])
    assert [s.name for s in sources] == ["a.nii.gz"] and validation.name == "b.nii.gz"
    assert sources[0].train_end == 189 and validation.validate_start == 0
    (tmp_path / "empty").mkdir()
    with pytest.raises(MedSRError, match="holds no volume"):
        load_high_resolution([str(tmp_path / "empty")])


def test_torchrun_trains_with_two_processes(hr_file, tmp_path):
    """DistributedDataParallel over two CPU processes (Gloo): one checkpoint, written by rank 0."""
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
               "-m", "MedSRLib", "train", "sr", str(out), "--data", str(hr_file), "--steps", "6", "--batch", "1", "--patch", "16",
               "--validate-every", "6", "--device", "cpu", "--quiet"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads((out / "checkpoint.json").read_text())
    assert state["processes"] == 2 and state["step"] == 6
    assert done.stdout.count("trained 6 steps") == 1  # only rank 0 reports


def test_train_command_refuses_sr_options_for_other_tasks(tmp_path, capsys):
    from MedSRLib.cli.main import main

    assert main(["train", "segment", str(tmp_path / "x"), "--gan"]) != 0
    assert "options of `medsr train sr`" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["thick-slice", "isotropic"])
def test_consistent_pairs_project_onto_what_the_patch_measured(hr_file, kind):
    """Each projector is the orthogonal projector onto the measured part: the pair's own acquisition of the truth is
    unchanged by it, and the loss of an output that differs from the truth only there is zero (real T1 patches)."""
    import torch

    from MedSRLib.train.sr import consistent_l1

    sources, _ = load_high_resolution([str(hr_file)])
    n = 24 if kind == "thick-slice" else 12  # (the column is 48 voxels wide; isotropic pairs need margins all round)
    maker = PairMaker(kind, patch=n, augment=False, consistent=True)
    rng = np.random.default_rng(5)
    low, high, projectors, covered = maker(sources, rng)
    assert projectors.shape == (len(maker.axes), n, n) and covered.shape == (len(maker.axes), n)
    for q in projectors:
        assert np.allclose(q @ q, q, atol=1e-4) and np.allclose(q, q.T, atol=1e-5)
        assert 0 < np.trace(q) < n  # some slices measured, a part left to the network
    assert covered.sum() > 0
    # a deviation inside the measured part (projected noise) costs nothing; the same deviation raw costs
    noise = np.random.default_rng(0).normal(size=high.shape).astype(np.float32)
    inside = noise
    for index, axis in enumerate(maker.axes):
        inside = np.moveaxis(np.tensordot(projectors[index], np.moveaxis(inside, axis, 0), axes=(1, 0)), 0, axis)
    batch = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None, None]
    qs, cov = torch.from_numpy(projectors)[None], torch.from_numpy(covered)[None]
    high_t = batch(high)
    if kind == "thick-slice":  # one axis: the measured part of a deviation is exactly the projector's
        assert float(consistent_l1(high_t + batch(inside), high_t, qs, cov, maker.axes)) < 1e-4
    assert float(consistent_l1(high_t + batch(noise - inside), high_t, qs, cov, maker.axes)) > 0.1
    assert float(consistent_l1(high_t, high_t, qs, cov, maker.axes)) == 0.0


def test_consistent_training_reports_figures_after_data_consistency(hr_file, tmp_path):
    """`--consistent` on a real T1 column: the windowed sinc made consistent beats the sinc alone on the held-out
    slab (what data consistency gives at inference), and the run's network is scored the same way."""
    result = train_sr([str(hr_file)], tmp_path / "dc", "thick-slice", steps=6, batch=2, learning_rate=2e-4,
                      device="cpu", validate_every=6, patch=16, consistent=True, init="brain-sr-thick",
                      log=lambda _: None)
    figures = result["state"]["history"][-1]["held_out"]
    assert result["state"]["consistent"]
    assert figures["interpolation_consistent_psnr_db"] > figures["interpolation_psnr_db"] + 1.0
    assert figures["network_consistent_psnr_db"] > figures["network_psnr_db"]
    with pytest.raises(MedSRError, match="--consistent"):
        train_sr([str(hr_file)], tmp_path / "g", gan=True, init="brain-sr-thick", consistent=True, device="cpu")


def test_thick_slice_pairs_take_their_thick_axis_along_any_axis_of_the_source():
    """A thick-slice model meets axial, coronal and sagittal thick slices: with augmentation the coarse (last) axis of
    a pair comes from each of the source's three axes, not only from its last. Synthetic stripes (an invariant, not
    a quality claim) that vary along the source's first axis only show which source axis each pair's axes came from."""
    from MedSRLib.train.sr_data import HighResolution

    stripes = 0.5 + 0.4 * np.sin(2 * np.pi * np.arange(100) / 7.0)
    array = np.broadcast_to(stripes[:, None, None], (100, 100, 120)).astype(np.float32).copy()
    source = HighResolution("stripes", array, train_end=112, validate_start=116)
    maker, rng = PairMaker("thick-slice", patch=16, augment=True), np.random.default_rng(0)
    along = []
    for _ in range(45):
        _, high = maker([source], rng)
        spread = [np.ptp(high.mean(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
        along.append(int(np.argmax(spread)))
    assert along.count(2) >= 6  # the striped axis became the thick one: about a third of the pairs
    assert along.count(0) + along.count(1) >= 20
    unaugmented = PairMaker("thick-slice", patch=16, augment=False)
    assert all(np.ptp(unaugmented([source], rng)[1].mean(axis=(0, 1))) < 1e-6 for _ in range(5))
    # consistent pairs project onto what each 32-voxel patch measured along its thick axis (some slices, never all),
    # wherever that axis came from
    large = HighResolution("stripes", np.pad(array, ((10, 10), (10, 10), (20, 20)), mode="wrap"), 150, 154)
    consistent = PairMaker("thick-slice", patch=32, augment=True, consistent=True)
    for _ in range(12):
        _, _, projectors, covered = consistent([large], rng)
        assert 0.5 < np.trace(projectors[0]) < 32 and covered.shape == (1, 32)
