"""One rank's failure never hangs the others: on 2 and 4 ranks, for every failure a host or
an emulator can cause on one rank (and those injected with LANDEMU_FAULT), every rank
returns within seconds with the same status and a message naming the failing rank; no
half-written file remains; after input errors the run goes on bit for bit."""

import json
import subprocess
import sys

import pytest
from conftest import MPIRUN, REPO, run_mpi

SCRIPT = str(REPO / "tests" / "mpi" / "fault_run.py")
pytestmark = pytest.mark.mpi

# scenario: (the collective call that fails everywhere, its status, which ranks fail)
EXPECTED = {
    "nan_put": ("advance", 4, "failing"),
    "missing_put": ("advance", 4, "failing"),
    "wrong_size": ("advance", 4, "failing"),
    "put_fault": ("advance", 4, "failing"),
    "advance_fault": ("advance", 9, "failing"),
    "remap_fault": ("advance", 9, "failing"),
    "step_fault": ("advance", 9, "failing"),
    "history_fault": ("advance", 9, "failing"),
    "restart_to_directory": ("write_restart", 8, "all"),
    "restart_unwritable": ("write_restart", 8, "root"),
    "restart_fault": ("write_restart", 9, "failing"),
    "unusable_output_dir": ("init", 2, "root"),
    "finalize_fault": ("finalize", 9, "failing"),
}
INPUT_ERRORS = ("nan_put", "missing_put", "wrong_size", "put_fault", "advance_fault")
STOPS = ("remap_fault", "step_fault", "history_fault")


def _named(who: str, failing: int, nranks: int) -> str:
    return {
        "failing": f"failed on rank {failing} of {nranks}: ",
        "root": f"failed on rank 0 of {nranks}: ",
        "all": f"failed on ranks {', '.join(map(str, range(nranks)))} of {nranks}: ",
    }[who]


@pytest.mark.parametrize("nranks,failing", [(2, 1), (4, 2)])
def test_one_rank_failing_fails_every_rank_alike_and_nothing_hangs(
    make_config, tmp_path, nranks, failing
):
    cfg = make_config()
    out = tmp_path / "faults.json"
    run_mpi(nranks, SCRIPT, str(cfg), str(tmp_path), str(failing), str(out), timeout=300)
    results = json.loads(out.read_text())
    assert set(results) == {"reference", *EXPECTED}
    assert all(r["events"] == [] for r in results["reference"]["ranks"])
    for scenario, (call, status, who) in EXPECTED.items():
        ranks = results[scenario]["ranks"]
        assert len(ranks) == nranks
        agreed = [next(e for e in r["events"] if e[0] == call) for r in ranks]
        assert {tuple(e) for e in agreed} == {tuple(agreed[0])}, scenario  # same everywhere
        assert agreed[0][1] == status, (scenario, agreed[0])
        assert _named(who, failing, nranks) in agreed[0][2], (scenario, agreed[0])
        assert len(agreed[0][2]) < 1000
        for r in ranks:
            assert r["partial_files"] == [], scenario
            assert r["seconds"] < 60, scenario
            if scenario in INPUT_ERRORS:
                assert r["matches_reference"] is True, scenario
            if scenario in STOPS:  # a failure inside a step stops landemu, and it says so
                later = r["events"][r["events"].index(agreed[0]) + 1]
                assert later[1] == 3 and "landemu stopped after an earlier error" in later[2]
            if scenario.startswith("restart"):  # the host goes on after a failed write
                assert [e[0] for e in r["events"]] == ["write_restart"], scenario


def test_on_error_abort_still_aborts_every_rank_with_the_agreed_message(make_config, tmp_path):
    cfg = make_config()
    out = tmp_path / "abort.json"
    cmd = [str(MPIRUN), "-n", "2", sys.executable, SCRIPT, str(cfg), str(tmp_path), "1"]
    cmd += [str(out), "abort_on_step_fault"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode != 0 and not out.exists()
    assert "advance failed on rank 1 of 2: fault injected by LANDEMU_FAULT" in proc.stderr
    assert "on_error = abort: calling MPI_Abort with error code 9" in proc.stderr
