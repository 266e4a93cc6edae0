"""Training on the real sample: steps run, checkpoints are safetensors + JSON, and a run resumes where it stopped."""

import json

from MedSRLib.train.denoiser import train_denoiser


def test_denoiser_training_checkpoints_and_resumes(tmp_path):
    first = train_denoiser(tmp_path, steps=2, batch=1, validate_every=100, device="cpu", log=lambda s: None)
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    assert state["step"] == 2 and len(state["history"]) == 1
    assert set(state["history"][0]["held_out_psnr_db"]) == {"rician 3%", "rician 5%", "rician 9%"}
    assert (tmp_path / "checkpoint.safetensors").read_bytes()[:8] != b"PK\x03\x04"  # not a pickle zip
    weights = {k: v.clone() for k, v in first["network"].state_dict().items()}
    resumed = train_denoiser(tmp_path, steps=3, batch=1, validate_every=100, device="cpu", resume=True, log=lambda s: None)
    assert resumed["state"]["step"] == 3 and len(resumed["state"]["history"]) == 2
    # the resumed run started from the saved weights, then took one more step
    changed = [k for k, v in resumed["network"].state_dict().items() if v.dtype.is_floating_point and not (v == weights[k]).all()]
    assert changed
