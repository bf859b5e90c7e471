"""ONNX details emulators need: float64 as well as float32 models, classifier outputs
(logits → class ids), an execution provider chosen in the YAML with no silent fallback,
and thread settings that keep results bit for bit."""

import numpy as np
import onnxruntime as ort
import pytest
from onnx_graphs import add_constant_image, conv3x3_image, one_hot_logits_image
from step_state_setup import config
from test_step_state import advance, get, start

from coupler.errors import ConfigError, ModelError
from coupler.steps.onnx_step import _load_session

DAY = 86400


def fine_step(model, inputs, outputs, **more):
    return {
        "name": "net",
        "onnx": str(model),
        "grid": "fine",
        "schedule": "daily",
        "inputs": inputs,
        "outputs": outputs,
        **more,
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_and_float64_models(tmp_path, dtype):
    # 250.3 + 0.1 differs in float32 and float64: the model's own precision is used
    model = add_constant_image(tmp_path / "m.onnx", 0.1, dtype)
    step = fine_step(
        model,
        [{"name": "COUNT", "units": "1", "from": "previous", "init": 250.3}],
        [{"name": "COUNT", "units": "1"}],
    )
    comp = start(config(tmp_path, [step], ["COUNT"], interval=DAY))
    advance(comp, 1, DAY)
    expect = np.float64(dtype(250.3) + dtype(0.1))
    assert all(np.all(t == expect) for t in comp.fine_values["COUNT"])
    assert (expect == 250.3 + 0.1) == (dtype is np.float64)


def test_classifier_logits_become_class_ids(tmp_path):
    model = one_hot_logits_image(tmp_path / "m.onnx", 5)
    prior = {"name": "COUNT", "units": "1", "from": "previous", "init": 2.4}
    out = {"name": "COUNT", "units": "1", "kind": "categorical", "levels": 5, "argmax": True}
    with pytest.raises(ConfigError, match="1 level"):  # the prior must match the output
        start(config(tmp_path / "bad", [fine_step(model, [prior], [out])], ["COUNT"]))
    prior.update(kind="categorical", levels=5)
    comp = start(config(tmp_path, [fine_step(model, [prior], [out])], ["COUNT"], interval=DAY))
    advance(comp, 1, DAY)
    assert all(np.all(t == 2.0) for t in comp.fine_values["COUNT"])  # the class nearest 2.4
    fractions = get(comp, "COUNT")  # class ids → per-class area fractions on the host
    assert fractions.shape == (5, 16)
    np.testing.assert_allclose(fractions[2], 1.0, rtol=1e-13)
    np.testing.assert_allclose(fractions.sum(axis=0), 1.0, rtol=1e-13)


def test_argmax_is_for_categorical_outputs_only(tmp_path):
    model = one_hot_logits_image(tmp_path / "m.onnx", 5)
    step = fine_step(
        model,
        [{"name": "TBOT", "units": "K"}],
        [{"name": "CLS", "units": "1", "levels": 5, "argmax": True}],
    )
    with pytest.raises(ConfigError, match="argmax: true only for kind: categorical outputs"):
        start(config(tmp_path, [step], ["CLS"], interval=DAY))


def test_cuda_without_the_cuda_provider_is_a_clear_error(tmp_path):
    model = add_constant_image(tmp_path / "m.onnx", 1.0)
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this ONNX Runtime has CUDA: the error path cannot be shown here")
    with pytest.raises(
        ModelError,
        match=r"device: cuda, but this ONNX Runtime has no CUDAExecutionProvider "
        r"\(onnxruntime .* offers: .*CPUExecutionProvider",
    ):
        _load_session(model, 1, "cuda")
    step = fine_step(
        model, [{"name": "TBOT", "units": "K"}], [{"name": "TPLUS", "units": "K"}], device="cuda"
    )
    with pytest.raises(ModelError, match="no CUDAExecutionProvider"):
        start(config(tmp_path, [step], ["TPLUS"], interval=DAY))
    step["device"] = "gpu"
    with pytest.raises(ConfigError, match=r"device: 'gpu' is not allowed.*cpu, cuda"):
        start(config(tmp_path, [step], ["TPLUS"], interval=DAY))


def test_thread_settings_keep_results_bit_for_bit(tmp_path):
    model = conv3x3_image(tmp_path / "m.onnx", 8)
    x = np.random.default_rng(1).normal(size=(1, 8, 96, 96)).astype(np.float32)
    results = [_load_session(model, threads).run(None, {"x": x})[0] for threads in (1, 2, 3)]
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
