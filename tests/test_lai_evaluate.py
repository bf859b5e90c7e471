"""LAI evaluation pieces: scores, baselines, joint inputs, shipping the better design, CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest

from emulators.lai import evaluate
from emulators.lai.dataset import N_JOINT_CHANNELS, Window, joint_inputs
from emulators.lai.features import MASK, PRIOR


def window(h=80, w=80, seed=0):
    rng = np.random.default_rng(seed)
    lai = rng.uniform(0, 6, (12, h, w)).astype(np.float32)
    return Window(
        rows=slice(2000, 2000 + h),
        cols=slice(1000, 1000 + w),
        lu=rng.integers(0, 8, (h, w)).astype(np.uint8),
        lc=rng.integers(0, 11, (h, w)).astype(np.uint8),
        igbp=np.full((h, w), 4, np.uint8),
        t=np.full((12, h, w), 15, np.float32),
        p=np.full((12, h, w), 60, np.float32),
        lai=lai,
        static=np.zeros((12, h, w), np.float32),
        lat=np.linspace(10, 14, h),
        veg=np.full((3, h, w), 0.5, np.float32),
    )


def test_scores_of_a_perfect_and_a_biased_prediction():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert evaluate.scores(y, y) == {"r2": 1.0, "rmse": 0.0, "bias": 0.0}
    s = evaluate.scores(y + 0.5, y)
    assert s["rmse"] == pytest.approx(0.5) and s["bias"] == pytest.approx(0.5)
    assert s["r2"] == pytest.approx(1 - 1.0 / 5.0)


def test_prior_channel_is_last_month_and_hidden_patches_are_zero():
    w = window()
    hidden = np.zeros((80, 80), bool)
    hidden[:32, :32] = True
    x = w.inputs(3, hidden)
    np.testing.assert_allclose(x[PRIOR, 40:, 40:], w.lai[2, 40:, 40:] / 8.0, rtol=1e-6)
    assert np.all(x[PRIOR, :32, :32] == 0) and np.all(x[MASK, :32, :32] == 1)


def test_joint_inputs_are_phase_one_channels_plus_lai_channels():
    w = window()
    hidden = np.zeros((80, 80), bool)
    x = joint_inputs(w, w.inputs(0, hidden), hidden, 20)
    assert x.shape == (N_JOINT_CHANNELS, 80, 80) == (47, 80, 80)
    np.testing.assert_allclose(x[:8].sum(axis=0), 1.0, atol=1e-5)  # coarse fractions


def test_climatology_baseline_looks_up_class_month_and_band():
    clim = np.zeros((11, 12, 18))
    clim[5, 6, 10] = 2.5  # shrub, July, 10–20 °N
    w = window()
    w.lc[:] = 5
    assert np.all(evaluate.climatology_baseline(clim, w, 6) == 2.5)
    assert np.all(evaluate.climatology_baseline(clim, w, 0) == 0.0)


def test_ship_copies_the_design_with_the_lower_rmse(tmp_path, monkeypatch):
    overall = {"separate/predicted_lc": {"rmse": 0.8}, "joint": {"rmse": 0.6}}
    (tmp_path / "comparison.json").write_text(json.dumps({"overall": overall}))
    (tmp_path / "joint.onnx").write_bytes(b"joint")
    (tmp_path / "separate.onnx").write_bytes(b"separate")
    monkeypatch.setattr(evaluate, "MODEL_PATH", tmp_path / "lai.onnx")
    assert evaluate.ship(tmp_path, tmp_path)["shipped"] == "joint"
    assert (tmp_path / "lai.onnx").read_bytes() == b"joint"


def test_ship_leaves_out_a_model_much_worse_with_true_land_cover(tmp_path, monkeypatch):
    overall = {
        "v3/true_lc": {"rmse": 0.22},
        "v3/predicted_lc": {"rmse": 0.49},
        "v3e/true_lc": {"rmse": 0.30},  # > 1.2 × 0.22
        "v3e/predicted_lc": {"rmse": 0.40},
        "v3f/true_lc": {"rmse": 0.25},
        "v3f/predicted_lc": {"rmse": 0.45},
    }
    (tmp_path / "comparison.json").write_text(json.dumps({"overall": overall}))
    for name in ("v3", "v3e", "v3f"):
        (tmp_path / f"{name}.onnx").write_bytes(name.encode())
    monkeypatch.setattr(evaluate, "MODEL_PATH", tmp_path / "lai.onnx")
    result = evaluate.ship(tmp_path, tmp_path)
    assert result["shipped"] == "v3f" and result["excluded"] == ["v3e"]
    assert (tmp_path / "lai.onnx").read_bytes() == b"v3f"


def test_cli_rejects_a_malformed_region():
    r = subprocess.run(
        [sys.executable, "-m", "coupler.cli", "evaluate", "lai", "--region", "10,5,0,10"],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "S < N" in r.stderr
