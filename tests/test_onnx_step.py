"""ONNX steps: graphs with analytically known outputs, on host columns and fine tiles, and
every way a model file can be wrong."""

import numpy as np
import pytest
from mpi4py import MPI
from onnx_graphs import affine_columns, corrupt, scale_image

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.errors import ConfigError, ModelError
from coupler.steps import onnx_step

COMM = MPI.COMM_WORLD
T0 = ModelTime.from_date(2001, 1, 1)


def host_step(model, **extra):
    return {
        "name": "net",
        "onnx": str(model),
        "grid": "host",
        "schedule": "daily",
        "inputs": [
            {"name": "TBOT", "units": "K", "offset": 273.15, "scale": 10.0},
            {"name": "PRECTmms", "units": "kg m-2 s-1", "scale": 1e-5},
        ],
        "outputs": [{"name": "NET_OUT", "units": "1", "scale": 2.0, "offset": 1.0}],
        **extra,
    }


def run_one_day(cfg_path, values):
    comp = Component(COMM, cfg_path)
    comp.set_decomposition(np.flatnonzero(comp.host.mask) + 1)
    for name, v in values(comp.n_local).items():
        comp.put(name, v)
    comp.advance(T0 + 86400)
    return comp


def forcing(n):
    return {"TBOT": 270.0 + np.arange(n, dtype=float), "PRECTmms": np.linspace(0, 5e-5, n)}


def test_host_step_gives_the_affine_map_of_normalised_inputs(make_config, tmp_path):
    model = affine_columns(tmp_path / "affine.onnx", [0.5, -0.25], 0.125)
    cfg = make_config(steps=[host_step(model)], host={"exports": ["NET_OUT"]}, history=None)
    comp = run_one_day(cfg, forcing)
    out = np.empty(comp.n_local)
    comp.get("NET_OUT", out)
    f = forcing(comp.n_local)
    x0, x1 = (f["TBOT"] - 273.15) / 10.0, f["PRECTmms"] / 1e-5
    expected = 2.0 * (0.5 * x0 - 0.25 * x1 + 0.125) + 1.0
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)  # float32 model


def test_host_batches_are_independent_of_the_batch_composition(make_config, tmp_path, monkeypatch):
    model = affine_columns(tmp_path / "affine.onnx", [0.5, -0.25], 0.125)
    cfg = make_config(steps=[host_step(model)], host={"exports": ["NET_OUT"]}, history=None)
    results = []
    for batch in (256, 5):
        monkeypatch.setattr(onnx_step, "HOST_BATCH", batch)
        comp = run_one_day(cfg, forcing)
        out = np.empty(comp.n_local)
        comp.get("NET_OUT", out)
        results.append(out)
    np.testing.assert_array_equal(results[0], results[1])


def test_fine_step_runs_per_tile_and_is_remapped_to_the_host(make_config, tmp_path):
    model = scale_image(tmp_path / "img.onnx", 1, 0.5, 1.0)
    step = {
        "name": "img",
        "onnx": str(model),
        "grid": "fine",
        "schedule": "daily",
        "inputs": [{"name": "TBOT", "units": "K", "offset": 273.15}],
        "outputs": [{"name": "IMG_OUT", "units": "K"}],
    }
    cfg = make_config(
        steps=[step], host={"exports": ["IMG_OUT"], "imports": ["TBOT"]}, history=None
    )
    comp = run_one_day(cfg, lambda n: {"TBOT": 270.0 + np.arange(n, dtype=float)})
    out = np.empty(comp.n_local)
    comp.get("IMG_OUT", out)
    # conservative host → fine, per-cell affine, conservative fine → host: the host value
    # comes back through the same affine map
    expected = 0.5 * (270.0 + np.arange(comp.n_local) - 273.15) + 1.0
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-5)


def test_missing_model_file(make_config, tmp_path):
    cfg = make_config(
        steps=[host_step(tmp_path / "nope.onnx")], host={"exports": ["NET_OUT"]}, history=None
    )
    with pytest.raises(ModelError, match="nope.onnx' does not exist"):
        Component(COMM, cfg)


def test_corrupt_model_file(make_config, tmp_path):
    cfg = make_config(
        steps=[host_step(corrupt(tmp_path / "bad.onnx"))],
        host={"exports": ["NET_OUT"]},
        history=None,
    )
    with pytest.raises(ModelError, match=r"bad.onnx' cannot be loaded \(corrupt or not ONNX\?\)"):
        Component(COMM, cfg)


def test_model_inputs_that_do_not_match_the_config(make_config, tmp_path):
    model = affine_columns(tmp_path / "three.onnx", [1.0, 1.0, 1.0], 0.0)
    cfg = make_config(steps=[host_step(model)], host={"exports": ["NET_OUT"]}, history=None)
    with pytest.raises(
        ModelError, match="input 'x' has 3 channels, the configuration gives 2 .TBOT.PRECTmms."
    ):
        Component(COMM, cfg)
    image = scale_image(tmp_path / "img.onnx", 2, 1.0, 0.0)
    cfg = make_config(steps=[host_step(image)], host={"exports": ["NET_OUT"]}, history=None)
    with pytest.raises(ModelError, match=r"input 'x' has rank 4 .*expected \(N, C\)"):
        Component(COMM, cfg)


def test_onnx_step_config_errors(make_config, tmp_path):
    model = affine_columns(tmp_path / "affine.onnx", [0.5, -0.25], 0.125)
    step = host_step(model)
    step["inputs"][0]["scael"] = 1.0
    cfg = make_config(steps=[step], host={"exports": ["NET_OUT"]}, history=None)
    with pytest.raises(ConfigError, match=r"steps.net.inputs\[0\]: unknown key\(s\) scael"):
        Component(COMM, cfg)
    step = host_step(model)
    step["inputs"][0]["units"] = "degC"
    cfg = make_config(steps=[step], host={"exports": ["NET_OUT"]}, history=None)
    with pytest.raises(ConfigError, match="units 'degC' differ from the host import's 'K'"):
        Component(COMM, cfg)
