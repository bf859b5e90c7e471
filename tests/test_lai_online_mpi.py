"""The online LAI step under mpirun: the host's monthly-interpolated LAI is bit-for-bit the
same on 1, 2, 3 and 4 ranks (fine tiles of 20 × 28 that do not line up with the host cells
or the model's windows), and 75 days from 1 June = 45 days + restart (mid-July, read on
another rank count) + 30 days."""

import numpy as np
import pytest
from conftest import REPO, run_mpi
from lai_online_setup import config

SCRIPT = str(REPO / "tests" / "mpi" / "lai_run.py")
DAYS, SPLIT = 75, 45
pytestmark = pytest.mark.mpi


def load(path):
    with np.load(path) as z:
        return z["LAI_UNET"]


def test_lai_step_bit_for_bit_on_1_to_4_ranks_and_across_a_mid_month_restart(tmp_path):
    runs = {}
    for n in (1, 2, 3, 4):
        out = tmp_path / f"e{n}.npz"
        run_mpi(n, SCRIPT, str(config(tmp_path / f"r{n}")), "1", str(DAYS), str(out))
        runs[n] = load(out)
    ref = runs[1]
    assert np.isfinite(ref).all() and np.ptp(ref[-1]) > 0.05
    assert np.abs(ref[-1] - ref[SPLIT]).max() > 1e-3  # interpolation moves it in between
    for n in (2, 3, 4):
        np.testing.assert_array_equal(runs[n], ref, err_msg=f"{n} ranks")
    restart = tmp_path / "mid.nc"
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    run_mpi(
        3, SCRIPT, str(config(tmp_path / "a")), "1", str(SPLIT), str(first),
        "--write-restart", str(restart),
    )  # fmt: skip
    again = config(tmp_path / "b", restart={"read": str(restart)})
    run_mpi(2, SCRIPT, str(again), str(SPLIT + 1), str(DAYS), str(second))
    np.testing.assert_array_equal(np.concatenate([load(first), load(second)]), ref)
