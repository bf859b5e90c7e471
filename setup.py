"""Builds landemu's compiled kernels (cffi, API mode) alongside the pure-Python packages."""

from setuptools import setup

setup(cffi_modules=["coupler/kernels/build.py:ffibuilder"])
