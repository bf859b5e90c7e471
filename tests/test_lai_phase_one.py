"""Training the LAI model with phase one's predicted land cover (emulators/lai/phase_one.py):
the sampler puts the prediction exactly where the prior is hidden and the truth elsewhere, a
training run with a predicted share validates with both land covers, and a missing or
incomplete cache is a clear error. SYNTHETIC source and maps (no cube, no phase-one model)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_lai_train import SyntheticSource

from coupler.errors import DataFileError
from emulators.lai.dataset import Sampler
from emulators.lai.features import LC, LU, MASK
from emulators.lai.phase_one import PhaseOneMaps, context_window, mixed_land_cover
from emulators.lai.train import Config, train
from emulators.lulc import split
from emulators.lulc.dataset import WINDOW

PREDICTED_LU, PREDICTED_LC = 3, 7  # every predicted pixel (the synthetic truth has others too)


def constant_maps(source, which: int) -> PhaseOneMaps:
    origins = np.array(Sampler(source, which, 32).origins, np.int32)
    shape = (len(origins), WINDOW, WINDOW)
    return PhaseOneMaps(
        origins, np.full(shape, PREDICTED_LU, np.uint8), np.full(shape, PREDICTED_LC, np.uint8)
    )


def test_predicted_land_cover_replaces_the_truth_exactly_where_the_prior_is_hidden():
    source = SyntheticSource()
    sampler = Sampler(
        source, split.TRAIN, 64, phase_one=constant_maps(source, split.TRAIN), predicted_share=1
    )
    x, _, _, _, lc = sampler.sample(np.random.default_rng(3), ratio=0.5)
    hidden = x[MASK] > 0.5
    assert 0 < hidden.mean() < 1
    assert (x[LU].argmax(0)[hidden] == PREDICTED_LU).all()
    assert (x[LC].argmax(0)[hidden] == PREDICTED_LC).all()
    assert np.array_equal(x[LC].argmax(0)[~hidden], lc[~hidden])  # visible: the truth
    assert (lc[hidden] != PREDICTED_LC).any()  # the labels returned stay the truth


def test_without_a_predicted_share_the_samples_are_unchanged():
    source = SyntheticSource()
    plain = Sampler(source, split.TRAIN, 32)
    zero = Sampler(source, split.TRAIN, 32, phase_one=constant_maps(source, split.TRAIN))
    a = plain.sample(np.random.default_rng(5), ratio=0.75)
    b = zero.sample(np.random.default_rng(5), ratio=0.75)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def test_mixed_land_cover_takes_the_prediction_on_hidden_pixels():
    truth, pred = np.zeros((2, 3), np.uint8), np.full((2, 3), 9, np.uint8)
    hidden = np.array([[True, False, False], [False, False, True]])
    assert mixed_land_cover(truth, pred, hidden).tolist() == [[9, 0, 0], [0, 0, 9]]


def test_training_with_a_predicted_share_validates_with_both_land_covers(tmp_path):
    torch.set_num_threads(1)
    source = SyntheticSource()
    train_maps, val_maps = (
        constant_maps(source, split.TRAIN),
        constant_maps(source, split.VALIDATION),
    )
    cache = tmp_path / "phase_one_lc.npz"
    np.savez(
        cache,
        origins=np.concatenate([train_maps.origins, val_maps.origins]),
        lu=np.concatenate([train_maps.lu, val_maps.lu]),
        lc=np.concatenate([train_maps.lc, val_maps.lc]),
    )
    cfg = Config(
        crop=32,
        batch=2,
        steps_per_epoch=2,
        epochs=1,
        base=4,
        val_samples=4,
        predicted_share=0.5,
        phase_one_cache=str(cache),
    )
    result = train(cfg, tmp_path / "run", source=source)
    (row,) = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert row["val_score"] == pytest.approx((row["val_rmse"] + row["val_rmse_predicted"]) / 2)
    assert result["best_val_rmse"] == pytest.approx(row["val_score"])


def test_a_missing_cache_or_window_names_the_rebuild_command(tmp_path):
    with pytest.raises(DataFileError, match="python -m emulators.lai.phase_one"):
        PhaseOneMaps.load(tmp_path / "absent.npz")
    maps = PhaseOneMaps(np.array([[0, 0]]), np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))
    with pytest.raises(DataFileError, match="no window at row 100, column 200"):
        maps.window(100, 200)
    with pytest.raises(DataFileError, match="needs phase one's cached maps"):
        Sampler(SyntheticSource(), split.TRAIN, 32, predicted_share=0.5)


def test_context_window_lies_on_the_coarse_lattice_and_holds_the_window():
    r0, r1, c0, c1 = context_window(1000, 0, (3600, 7200), 25)
    assert (r0, c0) == (950, 0) and (r1, c1) == (1250, 250)
    assert all(v % 25 == 0 for v in (r0, r1, c0, c1))
