"""Compiled inner loops of the coupling step (built by cffi when landemu is installed).

Only loops that sit on the per-call hot path live here: range checks fused with the copy
or accumulation a put needs, and sparse matrix kernels. Each has a plain numpy equivalent
in the tests so the C stays honest.
"""

from __future__ import annotations

try:
    from coupler._kernels import ffi, lib
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "landemu's compiled kernels (coupler._kernels) are not built; run `make` "
        "(or `pip install -e .`) in the landemu checkout"
    ) from exc

__all__ = ["ffi", "lib"]
