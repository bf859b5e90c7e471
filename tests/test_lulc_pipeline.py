"""Land-use pipeline on the real cube: resumable smoke training, `landemu evaluate lc`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from emulators.lulc import split
from emulators.lulc.dataset import DEFAULT_CUBE, build_cube
from emulators.lulc.infer import MODEL_PATH

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cube(tmp_path_factory) -> Path:
    """The developer's cube if built, else a fresh one from the installed data (~1 min)."""
    existing = ROOT / DEFAULT_CUBE
    if (existing / "manifest.json").is_file():
        return existing
    path = tmp_path_factory.mktemp("lulc") / "cube.zarr"
    build_cube(path)
    return path


@pytest.mark.slow
def test_training_resumes_from_its_checkpoint_and_logs_every_epoch(cube, tmp_path):
    from emulators.lulc.train import Config, train

    cfg = Config(
        crop=32, batch=2, steps_per_epoch=2, epochs=2, base=8, val_samples=4, loss="ce_dice"
    )
    assert train(cfg, tmp_path, cube, progress=False)["epochs"] == 2
    cfg.epochs = 3
    assert train(cfg, tmp_path, cube, progress=False)["epochs"] == 3
    rows = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 4
    assert 0 <= rows[-1]["val_lc_miou"] <= 1


def test_class_balanced_crops_show_rare_classes_more_and_leave_plain_runs_alone(cube):
    import numpy as np

    from emulators.lulc.classes import LAND_COVER
    from emulators.lulc.dataset import Cube, Sampler
    from emulators.lulc.features import N_LC

    data = Cube.open(cube)
    plain = Sampler(data, split.TRAIN, 32)
    balanced = Sampler(data, split.TRAIN, 32, class_balanced=1.0)
    row = {o: i for i, o in enumerate(balanced.origins)}

    def pixel_share(sampler: Sampler) -> np.ndarray:
        rng = np.random.default_rng(3)
        seen = np.zeros(len(row))
        for _ in range(3000):
            seen[row[sampler.window(rng)]] += 1
        pixels = seen @ balanced.window_counts
        return pixels / pixels.sum()

    uniform, rare_first = pixel_share(plain), pixel_share(balanced)
    evergreen_needleleaf = LAND_COVER.index("evergreen_needleleaf_trees")
    water = LAND_COVER.index("water")
    assert rare_first[evergreen_needleleaf] > 1.3 * uniform[evergreen_needleleaf]
    assert rare_first[water] < uniform[water]
    assert balanced.class_probability.shape == (N_LC,)
    # class_balanced=0 draws exactly what the sampler drew before the option existed
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert [plain.window(a) for _ in range(20)] == [
        plain.origins[b.integers(len(plain.origins))] for _ in range(20)
    ]
    with pytest.raises(ValueError, match="class_balanced"):
        Sampler(data, split.TRAIN, 32, class_balanced=1.5)


@pytest.mark.slow
@pytest.mark.skipif(not MODEL_PATH.is_file(), reason="no shipped lulc.onnx yet")
def test_evaluate_lc_on_a_held_out_block_prints_metrics_and_baselines(cube, tmp_path):
    spec = json.loads(split.SPLIT_FILE.read_text())
    s, w = next((s, w) for s, w in spec["test"] if (s, w) == (30, 10))  # Sahara / Libya
    region = f"{s},{s + 10},{w},{w + 10}"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "coupler.cli",
            "evaluate",
            "lc",
            "--region",
            region,
            "--cube",
            str(cube),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["overlaps_training"] is False
    for key in ("oa", "miou", "miou_copy_baseline", "miou_rf_baseline", "fraction_consistency"):
        assert 0 <= res[key] <= 1, key
    assert res["fraction_consistency"] <= 0.05
    assert set(res["per_class_iou"]) >= {"water", "crop", "barren"}


def test_evaluate_lc_names_a_bad_region():
    out = subprocess.run(
        [sys.executable, "-m", "coupler.cli", "evaluate", "lc", "--region", "10,5,0,10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "region '10,5,0,10': need -90 ≤ S < N ≤ 90" in out.stderr


@pytest.mark.slow
@pytest.mark.skipif(not MODEL_PATH.is_file(), reason="no shipped lulc.onnx yet")
def test_shipped_model_on_a_tile_with_halo_equals_the_whole_region(cube):
    """Real data, shipped model: a rank's tile (+ halo of one window) gives the classes of a
    whole-region run exactly, whatever the tile size."""
    import numpy as np

    from emulators.lulc.dataset import Cube, window_inputs
    from emulators.lulc.infer import WINDOW, OnnxLulc, predict_probabilities

    data = Cube.open(cube)
    r0, c0 = round((35 + 90) / 0.05), round((-5 + 180) / 0.05)  # Spain / France
    x, *_ = window_inputs(data, r0, r0 + 800, c0, c0 + 300, 25, 0.75, np.random.default_rng(0))
    model = OnnxLulc()
    whole = predict_probabilities(model, x, origin=(r0, c0)).argmax(0)
    for t0, t1 in ((300, 500), (260, 300)):
        lo, hi = t0 - WINDOW, t1 + WINDOW
        tile = predict_probabilities(model, x[:, lo:hi], origin=(r0 + lo, c0)).argmax(0)
        np.testing.assert_array_equal(tile[WINDOW:-WINDOW], whole[t0:t1])


@pytest.mark.slow
@pytest.mark.skipif(not MODEL_PATH.is_file(), reason="no shipped lulc.onnx yet")
def test_validation_command_compares_decodings_on_a_validation_block(cube, tmp_path):
    from emulators.lulc.validation import DECODINGS, validation_table

    rows = validation_table(
        MODEL_PATH, tmp_path, n_regions=1, cube_path=cube, settings=((1.25, 0.75),)
    )
    assert [r["decoding"] for r in rows] == ["raw", "raw + prior", *DECODINGS]
    by = {r["decoding"]: r for r in rows}
    assert by["exact"]["fraction_consistency"] <= 0.005
    assert by["product"]["fraction_consistency"] <= 0.04 + 0.005
    assert 0 < by["product"]["lc_miou"] <= 1
    text = (tmp_path / "validation_decoding.md").read_text()
    assert "hidden, land use moved" in text and (tmp_path / "validation_decoding.csv").is_file()


def test_information_probe_samples_training_pixels_with_their_own_extra_inputs(cube):
    """The probe's forests learn from training blocks only, each pixel paired with the NDVI
    of that very pixel (here a fake NDVI that encodes the pixel's row and column) and with
    its coarse cell's land-cover fractions."""
    import numpy as np

    from emulators.lulc.dataset import Cube
    from emulators.lulc.features import COARSE, N_LC
    from emulators.lulc.information_probe import COARSE_LC, NDVI, training_pixels

    rows, cols = np.meshgrid(np.arange(3600), np.arange(7200), indexing="ij")
    fake_ndvi = np.stack([rows, cols]).astype(np.float32)  # exact below 2**24
    features, labels = training_pixels(Cube.open(cube), fake_ndvi, pixels=2000)
    assert features.shape == (labels.size, COARSE_LC.stop) and labels.size > 1000
    assert labels.max() < N_LC
    r, c = features[:, NDVI].astype(int).T
    per_block = round(split.block_deg() / 0.05)
    assert np.all(split.block_map()[r // per_block, c // per_block] == split.TRAIN)
    assert np.allclose(features[:, COARSE].sum(axis=1), 1.0, atol=1e-3)
    assert np.allclose(features[:, COARSE_LC].sum(axis=1), 1.0, atol=1e-3)
    assert np.all(features[np.arange(labels.size), COARSE_LC.start + labels] > 0)


def test_sampler_appends_extra_channels_of_the_sampled_window(cube):
    """A probe's extra channels follow the sample's window, crop and mirror (a fake source
    that encodes the global row and column of every pixel)."""
    import numpy as np

    from emulators.lulc.dataset import Cube, Sampler
    from emulators.lulc.features import N_CHANNELS

    def where(r0: int, c0: int, lc: np.ndarray) -> np.ndarray:
        h, w = lc.shape
        rows, cols = np.meshgrid(np.arange(r0, r0 + h), np.arange(c0, c0 + w), indexing="ij")
        return np.stack([rows, cols]).astype(np.float32)

    plain = Sampler(Cube.open(cube), split.TRAIN, 48)
    probed = Sampler(Cube.open(cube), split.TRAIN, 48, extra=where)
    for seed in range(6):
        x0, lu0, _ = plain.sample(np.random.default_rng(seed))
        x, lu, _ = probed.sample(np.random.default_rng(seed))
        assert x.shape == (N_CHANNELS + 2, 48, 48)
        assert np.array_equal(x[:N_CHANNELS], x0) and np.array_equal(lu, lu0)
        rows, cols = x[N_CHANNELS].astype(int), x[N_CHANNELS + 1].astype(int)
        assert np.all(np.diff(rows, axis=0) == 1) and np.all(np.abs(np.diff(cols, axis=1)) == 1)
        per_block = round(split.block_deg() / 0.05)
        assert np.all(split.block_map()[rows // per_block, cols // per_block] == split.TRAIN)


@pytest.mark.slow
def test_unet_probe_scores_torch_networks_as_the_onnx_path_would(cube, tmp_path):
    """The probe's torch path gives the ONNX path's probabilities, and a network widened for
    NDVI with zero weights scores exactly as the network it was widened from."""
    import numpy as np
    import torch

    from emulators.lulc.export import export_onnx
    from emulators.lulc.features import N_CHANNELS
    from emulators.lulc.infer import OnnxLulc
    from emulators.lulc.model import UNet, with_input_channels
    from emulators.lulc.unet_probe import TorchLulc, markdown, probe

    torch.manual_seed(4)
    net = UNet(N_CHANNELS, 8, 11, base=4).eval()
    plain, widened = tmp_path / "plain.pt", tmp_path / "ndvi.pt"
    torch.save({"model": net.state_dict(), "config": {"base": 4}}, plain)
    state = with_input_channels(net.state_dict(), N_CHANNELS + 2)
    torch.save({"model": state, "config": {"base": 4, "extra_inputs": "ndvi"}}, widened)
    x = np.random.default_rng(5).normal(size=(1, N_CHANNELS, 64, 64)).astype(np.float32)
    onnx = OnnxLulc(export_onnx(net, tmp_path / "plain.onnx"))
    assert np.allclose(TorchLulc(plain)(x), onnx(x), atol=1e-5)
    rows = probe({"plain": plain, "ndvi": widened}, cube, n_regions=1)
    assert len(rows) == 12
    by_run = {r["run"]: [r["lc_miou"], r["lc_oa"], r["lu_miou"]] for r in rows[:2]}
    assert by_run["plain"] == by_run["ndvi"] and 0 < by_run["plain"][1] <= 1
    assert "| mean LC mIoU |" in markdown(rows)
