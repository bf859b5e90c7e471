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
