"""cffi builder for `coupler._kernels`: every `*.h` here is declared, every `*.c` compiled.

A kernel file pair (`name.h` with plain C declarations only, no preprocessor lines, and
`name.c`) is added by dropping it into this folder; nothing here needs editing.
"""

from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
HEADERS = sorted(HERE.glob("*.h"))
SOURCES = sorted(HERE.glob("*.c"))

ffibuilder = cffi.FFI()
ffibuilder.cdef("\n".join(h.read_text() for h in HEADERS))
ffibuilder.set_source(
    "coupler._kernels",
    "\n".join(f'#include "{h.name}"' for h in HEADERS),
    sources=[str(s.relative_to(HERE.parent.parent)) for s in SOURCES],
    include_dirs=[str(HERE)],
    extra_compile_args=["-O3", "-fno-fast-math", "-ffp-contract=off"],
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=str(HERE.parent.parent / "build" / "kernels"), verbose=False)
