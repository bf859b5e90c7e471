"""MdPL ONNX export: parity with torch, metadata, and the runtime's guards against bad models
and bad inputs (missing/corrupt file, short window, NaN forcing, out-of-range parameters)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from coupler.errors import FieldError, ModelError
from emulators.landmodel import parameter_table
from emulators.mdpl import export
from emulators.mdpl.dataset import WINDOW, Norm
from emulators.mdpl.model import (
    GENERATOR_IN,
    GENERATORS,
    SURROGATE_IN,
    MultiTaskSurrogate,
    ParameterGenerator,
    PhysicalGenerator,
)
from emulators.mdpl.runtime import MdplModels
from emulators.mdpl.sites import N_ATTR

NORM = Norm(
    np.array([200, 300, 280, 0.01, 3, 1e5, 1e-5], np.float32),
    np.array([250, 50, 10, 0.005, 2, 2e3, 1e-4], np.float32),
    np.array([30, 60], np.float32),
    np.array([60, 70], np.float32),
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("mdpl_onnx")
    s, g = MultiTaskSurrogate().eval(), ParameterGenerator().eval()
    paths = export.export_models(s, g, NORM, "multitask", out)
    return s, g, paths


def _forcing(nstep: int) -> np.ndarray:
    rng = np.random.default_rng(2)
    return NORM.f_mean + NORM.f_std * rng.normal(0, 0.3, (nstep, 7)).astype(np.float32)


def test_onnx_surrogate_and_generator_match_torch(exported):
    s, g, (s_path, g_path) = exported
    m = MdplModels(g_path, s_path)
    x = torch.randn(5, WINDOW, SURROGATE_IN)
    want = (s(x) * torch.as_tensor(NORM.y_std) + torch.as_tensor(NORM.y_mean)).detach().numpy()
    got = m.surrogate.run(None, {"x": x.numpy()})[0]
    assert got.shape == (5, WINDOW, 2)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    xg = torch.randn(4, WINDOW, GENERATOR_IN)
    tab = parameter_table()
    want_p = (tab.lo + g(xg).detach().numpy() * (tab.hi - tab.lo)).astype(np.float32)
    np.testing.assert_allclose(m.gz.run(None, {"x": xg.numpy()})[0], want_p, rtol=1e-4, atol=1e-9)


def test_site_parameters_inside_ranges(exported):
    _, _, (s_path, g_path) = exported
    m = MdplModels(g_path, s_path)
    p = m.site_parameters(_forcing(200), np.zeros(N_ATTR, np.float32), None)
    tab = parameter_table()
    assert p.shape == (12,)
    assert ((p >= tab.lo) & (p <= tab.hi)).all()


def test_short_window_and_nan_forcing_are_rejected(exported):
    _, _, (s_path, g_path) = exported
    m = MdplModels(g_path, s_path)
    with pytest.raises(FieldError, match="needs >= 48"):
        m.site_parameters(_forcing(47), np.zeros(N_ATTR, np.float32), None)
    f = _forcing(100)
    f[60, 2] = np.nan
    with pytest.raises(FieldError, match="column 2 is not finite at step 60"):
        m.site_parameters(f, np.zeros(N_ATTR, np.float32), None)


def test_missing_and_corrupt_models_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        MdplModels(tmp_path / "nope.onnx", None)
    bad = tmp_path / "gz.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(ModelError, match="cannot be loaded"):
        MdplModels(bad, None)


def test_out_of_range_parameters_from_a_bad_model_are_clamped_and_logged(tmp_path, caplog):
    torch.manual_seed(1)
    tab = parameter_table()
    lo, hi = torch.tensor(tab.lo), torch.tensor(tab.hi)
    wide = PhysicalGenerator(ParameterGenerator().eval(), lo - 10 * (hi - lo), hi + 10 * (hi - lo))
    path = tmp_path / "gz.onnx"
    export._export(wide, GENERATOR_IN, "params", path, export.metadata(NORM, "multitask"))
    m = MdplModels(path, None)
    with caplog.at_level(logging.WARNING, logger="emulators.mdpl.runtime"):
        p = m.window_parameters(_forcing(96), np.array([0, 48]), np.zeros(N_ATTR, np.float32))
    assert ((p >= tab.lo) & (p <= tab.hi)).all()
    assert "out of range clamped" in caplog.text


def test_cheap_gru_generator_exports_float32_and_matches_torch_at_any_batch(tmp_path):
    torch.manual_seed(3)
    g = ParameterGenerator(**GENERATORS["gru1x64"]).eval()
    _, g_path = export.export_models(MultiTaskSurrogate().eval(), g, NORM, "multitask", tmp_path)
    m = MdplModels(g_path, None)
    x = torch.randn(256, WINDOW, GENERATOR_IN)
    tab = parameter_table()
    want = tab.lo + g(x).detach().numpy() * (tab.hi - tab.lo)
    whole = m.gz.run(None, {"x": x.numpy()})[0]
    assert whole.dtype == np.float32 and whole.shape == (256, 12)
    np.testing.assert_allclose(whole, want, rtol=1e-4, atol=1e-6)
    one = m.gz.run(None, {"x": x[:1].numpy()})[0]  # exported at batch 2, run at 1 and 256
    np.testing.assert_allclose(one[0], whole[0], rtol=1e-5, atol=1e-7)
