"""Training on the real sample: steps run, checkpoints are safetensors + JSON, and a run resumes where it stopped."""

import json

from MedSRLib.train.denoiser import train_denoiser


def test_denoiser_training_checkpoints_and_resumes(tmp_path):
    first = train_denoiser(tmp_path, steps=2, batch=1, validate_every=100, device="cpu", log=lambda s: None)
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    assert state["step"] == 2 and len(state["history"]) == 1
    levels = {"rician 3%", "rician 5%", "rician 9%"}
    assert set(state["history"][0]["held_out_psnr_db"]) == levels | {f"{level} {part}" for level in levels for part in ("foreground", "edges")}
    assert (tmp_path / "checkpoint.safetensors").read_bytes()[:8] != b"PK\x03\x04"  # not a pickle zip
    weights = {k: v.clone() for k, v in first["network"].state_dict().items()}
    resumed = train_denoiser(tmp_path, steps=3, batch=1, validate_every=100, device="cpu", resume=True, log=lambda s: None)
    assert resumed["state"]["step"] == 3 and len(resumed["state"]["history"]) == 2
    # the resumed run started from the saved weights, then took one more step
    changed = [k for k, v in resumed["network"].state_dict().items() if v.dtype.is_floating_point and not (v == weights[k]).all()]
    assert changed


def test_a_new_run_starts_from_the_weights_given_by_init(tmp_path):
    import torch

    from MedSRLib.models import load_model
    from MedSRLib.train.loop import prepare_run
    from MedSRLib.train.segmenter import ARCHITECTURE

    shipped, _ = load_model("brain-tissue")
    network, _, _, state = prepare_run(ARCHITECTURE, 1e-3, 10, tmp_path, False, torch.device("cpu"), 0, init="brain-tissue")
    assert state["step"] == 0
    for name, value in shipped.state_dict().items():
        assert torch.equal(network.state_dict()[name], value), name


def test_random_motion_moves_image_and_labels_alike_smoothly_and_by_the_asked_size():
    import numpy as np

    from MedSRLib.train.spatial import RandomMotion

    shape = (40, 48, 56)
    # an image whose value at each voxel is its own index: what comes out says where each voxel was taken from
    coordinates = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij"))
    deform = RandomMotion(("image", "labels"), rotate_degrees=0.0, deform_voxels=2.0)
    for seed in range(8):
        moved = deform({"image": coordinates, "labels": coordinates[:1]}, np.random.default_rng(seed))
        assert np.array_equal(moved["labels"], moved["image"][:1])  # one motion for every array
        u = (moved["image"] - coordinates)[:, 8:-8, 8:-8, 8:-8]  # displacement (voxels) away from the border
        assert 0.3 < u.std() <= 2.0
        jacobian = np.eye(3)[:, :, None, None, None] + np.stack([np.stack(np.gradient(u[a]), 0) for a in range(3)])
        determinant = np.linalg.det(np.moveaxis(jacobian, (0, 1), (-2, -1)))
        assert determinant.min() > 0.2  # smooth and invertible: no folding
    rotate = RandomMotion(("image",), rotate_degrees=12.0)
    once = rotate({"image": coordinates}, np.random.default_rng(3))["image"]
    assert np.array_equal(once, rotate({"image": coordinates}, np.random.default_rng(3))["image"])  # seeded by rng
    centre = np.asarray(shape, float)[:, None] / 2 - 0.5
    taken = once[:, 10:-10, 10:-10, 10:-10].reshape(3, -1) - centre
    where = coordinates[:, 10:-10, 10:-10, 10:-10].reshape(3, -1) - centre
    rotation, *_ = np.linalg.lstsq(where.T, taken.T, rcond=None)  # the motion is a rotation about the centre
    assert np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-3)
    assert 0.0 < np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1, 1))) <= 12.0 * np.sqrt(3)
    still = RandomMotion(("image",), rotate_degrees=0.0, deform_voxels=0.0)
    assert np.allclose(still({"image": coordinates}, np.random.default_rng(0))["image"], coordinates, atol=1e-4)


def test_a_network_given_a_conditioning_channel_starts_as_the_network_it_grew_from(t1_crop):
    import numpy as np
    import torch

    from MedSRLib.models import build_network
    from MedSRLib.train.denoiser import ARCHITECTURE, network_input
    from MedSRLib.train.loop import widen_input_channels

    single = dict(ARCHITECTURE, arguments=dict(ARCHITECTURE["arguments"], in_channels=1))
    torch.manual_seed(0)
    old, grown = build_network(single), build_network(dict(single, arguments=dict(single["arguments"], in_channels=2)))
    with torch.no_grad():
        for parameter in old.parameters():  # not the identity the fresh network starts as
            parameter.normal_(0.0, 0.1)
    grown.load_state_dict(widen_input_channels(old.state_dict(), grown.state_dict()))
    image = (t1_crop.as_float32()[:40, :40, :40] / 228.0).astype(np.float32)
    with torch.no_grad():
        before = old(torch.from_numpy(image)[None, None])
        after = grown(torch.from_numpy(network_input(image, 2))[None])
    assert not torch.allclose(before, torch.from_numpy(image)[None, None], atol=1e-3)
    # an extra input channel with zero weights changes only the order of float32 sums (seen: 1e-6 to 1e-5)
    assert torch.allclose(before, after, atol=1e-4)
    assert not torch.allclose(before, 1.001 * after, atol=1e-4)


def test_segmenter_training_takes_the_normalisation_and_validates_on_held_out_labels(tmp_path):
    import torch

    from MedSRLib.train.segmenter import train_segmenter

    result = train_segmenter(tmp_path, steps=2, batch=1, validate_every=100, device="cpu", log=lambda s: None,
                             norm=["instance", {"affine": True}])
    kinds = {type(m) for m in result["network"].modules()}
    assert torch.nn.InstanceNorm3d in kinds and not any(issubclass(k, torch.nn.modules.batchnorm._BatchNorm) for k in kinds)
    dice = result["state"]["history"][-1]["held_out_dice"]
    assert set(dice) == {"cerebrospinal fluid", "grey matter", "white matter", "mean"}
    assert all(0.0 <= v <= 1.0 for v in dice.values())
    assert (tmp_path / "checkpoint.safetensors").exists() and json.loads((tmp_path / "checkpoint.json").read_text())["step"] == 2


def test_the_weight_average_is_an_exponential_moving_average_that_checkpoints_and_resumes(tmp_path):
    import torch
    from safetensors.torch import load_file

    from MedSRLib.models import build_network
    from MedSRLib.train.denoiser import ARCHITECTURE
    from MedSRLib.train.loop import checkpoint_weights, save_checkpoint, weight_average

    network = build_network(ARCHITECTURE)
    average = weight_average(network, 0.9)
    first, second = {}, {}
    with torch.no_grad():
        for name, parameter in network.named_parameters():
            parameter.normal_(0.0, 0.1)
            first[name] = parameter.clone()
        average.update_parameters(network)  # the first update copies
        for name, parameter in network.named_parameters():
            parameter.normal_(0.0, 0.1)
            second[name] = parameter.clone()
        average.update_parameters(network)
    averaged = dict(average.module.named_parameters())
    for name in first:
        assert torch.allclose(averaged[name], 0.9 * first[name] + 0.1 * second[name], atol=1e-6), name

    save_checkpoint(tmp_path, network, torch.optim.Adam(network.parameters()), {"step": 2}, average)
    published = checkpoint_weights(load_file(str(tmp_path / "checkpoint.safetensors")))
    assert set(published) == set(network.state_dict())
    assert all(torch.equal(published[name], value) for name, value in average.module.state_dict().items())
    assert not torch.equal(published[next(iter(first))], second[next(iter(first))])  # not the last step's weights
    restored = weight_average(build_network(ARCHITECTURE), 0.9, resume_from=tmp_path)
    assert int(restored.n_averaged) == 2
    assert all(torch.equal(v, average.state_dict()[k]) for k, v in restored.state_dict().items())


def test_a_weight_averaged_run_validates_the_average_and_keeps_it_over_a_resume(tmp_path):
    import torch
    from safetensors.torch import load_file

    from MedSRLib.train.loop import checkpoint_weights

    first = train_denoiser(tmp_path, steps=2, batch=1, validate_every=100, device="cpu", log=lambda s: None,
                           init="denoise-ae", learning_rate=1e-3, average_decay=0.5)
    tensors = load_file(str(tmp_path / "checkpoint.safetensors"))
    raw = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    published = checkpoint_weights(tensors)
    # what was validated and is returned is the average, which lags the last step's weights
    assert all(torch.equal(v, published[k]) for k, v in first["network"].state_dict().items())
    assert any(not torch.equal(v, raw[k]) for k, v in published.items() if v.dtype.is_floating_point)
    assert int(tensors["average.n_averaged"]) == 2
    resumed = train_denoiser(tmp_path, steps=3, batch=1, validate_every=100, device="cpu", log=lambda s: None,
                             resume=True, learning_rate=1e-3, average_decay=0.5)
    assert int(load_file(str(tmp_path / "checkpoint.safetensors"))["average.n_averaged"]) == 3
    assert resumed["state"]["step"] == 3 and len(resumed["state"]["history"]) == 2


def test_train_refuses_a_weight_average_it_cannot_use(capsys):
    from MedSRLib.cli.main import main

    assert main(["train", "sr", "unused", "--average-weights", "0.99"]) != 0
    assert main(["train", "denoise", "unused", "--average-weights", "1.5"]) != 0
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "option of `medsr train segment`" in errors[0] and "strictly between 0 and 1" in errors[1]


def test_the_outline_weight_falls_on_tissue_next_to_the_skull_strip_cut(t1):
    import numpy as np
    import torch
    from scipy.ndimage import binary_dilation

    from conftest import crop
    from MedSRLib.train.denoiser import foreground_weights

    top = crop(t1, (50, 60, 124), (146, 172, 172))  # the top of the brain, where the template is cut to zero
    clean = torch.from_numpy(top.as_float32()[None, None] / 228.0)
    plain, weighted = foreground_weights(clean), foreground_weights(clean, outline_weight=8.0)
    image = clean[0, 0].numpy()
    tissue, zero = image > 0.05, image <= 1e-6
    near = binary_dilation(zero, np.ones((5, 5, 5), bool))  # within 2 voxels (a 5^3 neighbourhood) of exact zero
    assert zero.any() and (tissue & near).any() and (tissue & ~near).any()
    extra = (weighted - plain)[0, 0].numpy()
    np.testing.assert_array_equal(extra[tissue & near], 8.0)
    np.testing.assert_array_equal(extra[~(tissue & near)], 0.0)
    assert set(np.unique(plain.numpy())) <= {1.0, 4.0}


def test_whole_head_synthesis_labels_skull_and_scalp_background_and_renders_them_in_any_contrast():
    """On a real head with skull (711-2C at 2 mm, its intracranial mask): the non-brain classes split the head's own
    intensities outside the brain, and the synthesis gives each of them a random intensity while labelling them
    background, so a network learns that scalp and skull are not tissue whatever their brightness."""
    from pathlib import Path

    import numpy as np

    from MedSRLib import read_volume
    from MedSRLib.train.head_labels import CHANNEL_LABELS, HEAD_CHANNELS, non_brain_classes
    from MedSRLib.train.synth import SyntheticContrast

    data = Path(__file__).resolve().parents[1] / "Data" / "711-2c-2mm"
    head = read_volume(data / "t1.nii.gz").as_float32()
    brain = read_volume(data / "intracranial-mask.nii.gz").array > 0
    classes = non_brain_classes(head, brain)
    # air fills the corners of the field of view; the brightest class outside the brain (scalp fat) is brighter than
    # the darkest tissue of the head (bone), and every class is there
    corners = classes[[0, -1]][:, [0, -1]][:, :, [0, -1]]
    assert (corners == 0).all()
    outside = ~brain
    means = [head[outside & (classes == c)].mean() for c in range(4)]
    assert means == sorted(means) and all(np.count_nonzero(outside & (classes == c)) > 1000 for c in range(4))
    # seven channels: four non-brain one-hot outside the brain, CSF/GM/WM inside (a crude split is enough here)
    inside_classes = 1 + np.digitize(head, np.quantile(head[brain], [1 / 3, 2 / 3]))
    channels = [outside & (classes == c) for c in range(4)] + [brain & (inside_classes == c) for c in (1, 2, 3)]
    probabilities = np.stack(channels).astype(np.float32)[:, 20:84, 20:84, 20:84]
    assert len(HEAD_CHANNELS) == len(probabilities)
    expected = CHANNEL_LABELS[probabilities.argmax(axis=0)]
    synth = SyntheticContrast(real_fraction=0.0, rotate_degrees=0.0, deform_voxels=0.0, channel_labels=CHANNEL_LABELS)
    bright_fat = []
    for seed in range(12):
        image, labels = synth(probabilities, np.zeros(probabilities.shape[1:], np.float32), np.random.default_rng(seed))
        assert image.shape == labels.shape == probabilities.shape[1:]
        assert set(np.unique(labels)) <= {0, 1, 2, 3}
        assert np.array_equal(labels, expected)  # no rotation: the labels are the channels' labels exactly
        fat = probabilities[3] > 0.5
        bright_fat.append(float(np.median(image[fat])) / float(np.median(image[probabilities[6] > 0.5])))
    # fat is sometimes darker than white matter, sometimes much brighter: no fixed contrast to learn
    assert min(bright_fat) < 0.7 and max(bright_fat) > 1.2, bright_fat
