"""Pipeline steps: ONNX emulators and Python transforms behind one interface."""

from coupler.steps.base import Step, StepContext, Transform, Var

__all__ = ["Step", "StepContext", "Transform", "Var"]
