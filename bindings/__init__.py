"""landemu's C API: liblandemu.so (built by bindings/build.py) and the Python behind it."""
