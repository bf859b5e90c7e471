"""Launch a training module's DDP check as two torchrun processes on this node (tests only)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from conftest import REPO


def torchrun_two_processes(*module_and_args: str) -> dict:
    """Run `torchrun -m MODULE ARGS` on 2 CPU processes; the JSON line it prints last.

    A free port on the loopback keeps a lingering run elsewhere from colliding; on failure
    the assertion shows gloo's own cause (its `what()` line) before the tail of stderr.
    """
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch = [torchrun, "--nproc-per-node", "2", "--master-addr", "127.0.0.1"]
    out = subprocess.run(
        [*launch, "--master-port", str(port), "-m", *module_and_args],
        cwd=REPO,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    causes = [line for line in out.stderr.splitlines() if "what()" in line or "Error" in line]
    assert out.returncode == 0, "\n".join(causes[:20]) + out.stderr[-1500:]
    return json.loads(out.stdout.strip().splitlines()[-1])
