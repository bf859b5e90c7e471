"""Small ONNX graphs whose outputs are known analytically, built in the tests (no files in
the repository, no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def affine_columns(
    path: Path, weights: list[float], bias: float, name_in="x", name_out="y"
) -> Path:
    """Host-column model: y (N, 1) = x (N, C) · weights + bias."""
    c = len(weights)
    w = numpy_helper.from_array(np.asarray(weights, np.float32).reshape(c, 1), "w")
    b = numpy_helper.from_array(np.asarray([bias], np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [name_in, "w"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], [name_out]),
        ],
        "affine_columns",
        [helper.make_tensor_value_info(name_in, TensorProto.FLOAT, ["N", c])],
        [helper.make_tensor_value_info(name_out, TensorProto.FLOAT, ["N", 1])],
        initializer=[w, b],
    )
    return _save(graph, path)


def scale_image(path: Path, channels: int, factor: float, bias: float) -> Path:
    """Fine-tile model: y (1, 1, H, W) = factor · sum over channels of x (1, C, H, W) + bias."""
    f = numpy_helper.from_array(np.asarray([factor], np.float32), "f")
    b = numpy_helper.from_array(np.asarray([bias], np.float32), "b")
    axes = numpy_helper.from_array(np.asarray([1], np.int64), "axes")
    graph = helper.make_graph(
        [
            helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=1),
            helper.make_node("Mul", ["s", "f"], ["sf"]),
            helper.make_node("Add", ["sf", "b"], ["y"]),
        ],
        "scale_image",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "H", "W"])],
        initializer=[f, b, axes],
    )
    return _save(graph, path)


def corrupt(path: Path) -> Path:
    """Bytes that are not an ONNX model."""
    path.write_bytes(b"\x08\x07this is not a protobuf model\xff\xfe" * 8)
    return path


_TYPES = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}


def add_constant_image(path: Path, constant: float, dtype=np.float32, channels: int = 1) -> Path:
    """Fine-tile model: y (1, C, H, W) = x (1, C, H, W) + constant (an autoregressive
    counter when x is the step's own previous output)."""
    c = numpy_helper.from_array(np.asarray([constant], dtype), "c")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"])],
        "add_constant_image",
        [helper.make_tensor_value_info("x", _TYPES[dtype], [1, channels, "H", "W"])],
        [helper.make_tensor_value_info("y", _TYPES[dtype], [1, channels, "H", "W"])],
        initializer=[c],
    )
    return _save(graph, path)


def add_constant_columns(path: Path, constant: float, dtype=np.float64) -> Path:
    """Host-column model: y (N, 1) = x (N, 1) + constant."""
    c = numpy_helper.from_array(np.asarray([constant], dtype), "c")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"])],
        "add_constant_columns",
        [helper.make_tensor_value_info("x", _TYPES[dtype], ["N", 1])],
        [helper.make_tensor_value_info("y", _TYPES[dtype], ["N", 1])],
        initializer=[c],
    )
    return _save(graph, path)


def window_sum(path: Path, length: int | str, channels: int = 1, dtype=np.float64) -> Path:
    """Windowed host-column model: y (N, C) = sum over T of x (N, T, C)."""
    axes = numpy_helper.from_array(np.asarray([1], np.int64), "axes")
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)],
        "window_sum",
        [helper.make_tensor_value_info("x", _TYPES[dtype], ["N", length, channels])],
        [helper.make_tensor_value_info("y", _TYPES[dtype], ["N", channels])],
        initializer=[axes],
    )
    return _save(graph, path)


def one_hot_logits_image(path: Path, classes: int, dtype=np.float32) -> Path:
    """Classifier on fine tiles: logits (1, K, H, W) = −|x − k| for class k = 0..K−1, so
    the argmax is the class nearest to x (x = 2.4 → class 2)."""
    ks = numpy_helper.from_array(np.arange(classes, dtype=dtype).reshape(1, classes, 1, 1), "k")
    graph = helper.make_graph(
        [
            helper.make_node("Sub", ["x", "k"], ["d"]),
            helper.make_node("Abs", ["d"], ["a"]),
            helper.make_node("Neg", ["a"], ["y"]),
        ],
        "one_hot_logits_image",
        [helper.make_tensor_value_info("x", _TYPES[dtype], [1, 1, "H", "W"])],
        [helper.make_tensor_value_info("y", _TYPES[dtype], [1, classes, "H", "W"])],
        initializer=[ks],
    )
    return _save(graph, path)


def conv3x3_image(path: Path, channels: int, dtype=np.float32, seed: int = 0) -> Path:
    """A 3×3 convolution C → C with fixed pseudo-random weights (for thread settings)."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.normal(size=(channels, channels, 3, 3)).astype(dtype), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
        "conv3x3_image",
        [helper.make_tensor_value_info("x", _TYPES[dtype], [1, channels, "H", "W"])],
        [helper.make_tensor_value_info("y", _TYPES[dtype], [1, channels, "H", "W"])],
        initializer=[w],
    )
    return _save(graph, path)


def box_filter(path: Path, size: int = 5, batch: int | str = "N") -> Path:
    """Fine-window model: y (B, 1, H, W) = mean of x over a size × size box, zero-padded at
    the window edge (so only pixels ≥ size//2 from the edge are exact)."""
    w = numpy_helper.from_array(np.full((1, 1, size, size), 1.0 / size**2, np.float32), "w")
    half = size // 2
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[half] * 4)],
        "box_filter",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 1, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 1, "H", "W"])],
        initializer=[w],
    )
    return _save(graph, path)


def weighted_channels(path: Path, weights: list[float]) -> Path:
    """Fine-tile model: y (1, 1, H, W) = Σ_c weights[c] · x[:, c] (a 1×1 convolution)."""
    c = len(weights)
    w = numpy_helper.from_array(np.asarray(weights, np.float32).reshape(1, c, 1, 1), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"])],
        "weighted_channels",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "H", "W"])],
        initializer=[w],
    )
    return _save(graph, path)


def affine_levels(path: Path, weights: list[float], biases: list[float]) -> Path:
    """Host-column model with L outputs: y (N, L) = x (N, 1) · weights + biases."""
    n = len(weights)
    w = numpy_helper.from_array(np.asarray(weights, np.float32).reshape(1, n), "w")
    b = numpy_helper.from_array(np.asarray(biases, np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["y"]),
        ],
        "affine_levels",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n])],
        initializer=[w, b],
    )
    return _save(graph, path)


def signed_logits(path: Path) -> Path:
    """Fine-window classifier: logits (B, 2, H, W) = (x, −x), so class 1 where x < 0."""
    w = numpy_helper.from_array(np.asarray([1.0, -1.0], np.float32).reshape(2, 1, 1, 1), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"])],
        "signed_logits",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 1, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 2, "H", "W"])],
        initializer=[w],
    )
    return _save(graph, path)


def conv_relu_stack(path: Path, channels: int, layers: int = 3, seed: int = 0) -> Path:
    """Fine-window CNN: `layers` 3×3 convolutions 1 → channels → … → 1, ReLU between,
    pseudo-random weights, dynamic batch (for checks that hold whatever the weights)."""
    rng = np.random.default_rng(seed)
    widths = [1] + [channels] * (layers - 1) + [1]
    nodes, weights, x = [], [], "x"
    for k in range(layers):
        w = rng.normal(0, 1 / np.sqrt(9 * widths[k]), (widths[k + 1], widths[k], 3, 3))
        weights.append(numpy_helper.from_array(w.astype(np.float32), f"w{k}"))
        nodes.append(helper.make_node("Conv", [x, f"w{k}"], [f"c{k}"], pads=[1, 1, 1, 1]))
        x = f"c{k}"
        if k < layers - 1:
            nodes.append(helper.make_node("Relu", [x], [f"r{k}"]))
            x = f"r{k}"
    nodes.append(helper.make_node("Identity", [x], ["y"]))
    graph = helper.make_graph(
        nodes,
        "conv_relu_stack",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 1, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 1, "H", "W"])],
        initializer=weights,
    )
    return _save(graph, path)
