"""The step contract under mpirun: an autoregressive counter, a 48-step window, a plugin's
own kind of state and a monthly-interpolated export give bit-for-bit identical exports on
1, 2, 3 and 4 ranks with 70 × 50 fine tiles that do not line up with the 0.5° host cells,
and 2N = N + restart + N with the restart taken mid-window / mid-month and read on
another rank count."""

import numpy as np
import pytest
from conftest import REPO, run_mpi
from step_state_setup import (
    HALF_HOUR,
    config,
    counter_plugin_step,
    counter_step,
    expected_window_sum,
    install_plugin,
    window_step,
)

SCRIPT = str(REPO / "tests" / "mpi" / "state_run.py")
DAY = 86400
pytestmark = pytest.mark.mpi


def load(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def check_ranks_and_restart(tmp_path, cfg_for, interval, n_steps, split, env=None):
    """Every export on 1..4 ranks equals the 1-rank run; a run split at `split` (3 ranks,
    then 2) equals it too. Returns the 1-rank exports."""
    runs = {}
    for n in (1, 2, 3, 4):
        out = tmp_path / f"e{n}.npz"
        run_mpi(
            n, SCRIPT, str(cfg_for(f"r{n}")), str(interval), "1", str(n_steps), str(out), env=env
        )
        runs[n] = load(out)
    for n in (2, 3, 4):
        for name, values in runs[1].items():
            np.testing.assert_array_equal(runs[n][name], values, err_msg=f"{name} on {n} ranks")
    restart = tmp_path / "mid.nc"
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    args = (str(interval), "1", str(split), str(first), "--write-restart", str(restart))
    run_mpi(3, SCRIPT, str(cfg_for("a")), *args, env=env)
    again = cfg_for("b", restart={"read": str(restart)})
    run_mpi(
        2, SCRIPT, str(again), str(interval), str(split + 1), str(n_steps), str(second), env=env
    )
    a, b = load(first), load(second)
    for name, values in runs[1].items():
        np.testing.assert_array_equal(np.concatenate([a[name], b[name]]), values, err_msg=name)
    return runs[1]


def test_state_window_and_plugin_state_bit_for_bit_on_1_to_4_ranks(tmp_path):
    plugin = install_plugin(tmp_path / "plugin")
    steps = [
        window_step(tmp_path),
        counter_step(tmp_path, "every 3 hours"),
        counter_plugin_step(tmp_path),
    ]

    def cfg_for(name, **more):
        return config(tmp_path / name, steps, ["TSUM", "COUNT", "HITS"], **more)

    n_steps = 120  # 2.5 days, half-hourly; restart after 70: mid-window, mid-day
    ref = check_ranks_and_restart(
        tmp_path, cfg_for, HALF_HOUR, n_steps, 70, env={"PYTHONPATH": str(plugin)}
    )
    ids = np.arange(1, 17)
    np.testing.assert_array_equal(ref["TSUM"][-1], expected_window_sum(ids, n_steps))
    # runs: the first advance, then every 3 h up to 60 h: 21
    np.testing.assert_allclose(ref["COUNT"][-1], 10 + 21, rtol=1e-13)
    assert np.all(ref["HITS"][-1] > 30)  # 3 daily runs × 10 + a tag in 1..7


def test_monthly_interpolation_bit_for_bit_on_1_to_4_ranks(tmp_path):
    steps = [counter_step(tmp_path, "monthly")]

    def cfg_for(name, **more):
        return config(
            tmp_path / name, steps, {"COUNT": {"interpolate": "monthly"}}, interval=DAY, **more
        )

    ref = check_ranks_and_restart(tmp_path, cfg_for, DAY, 80, 45)  # restart on 15 February
    assert np.ptp(ref["COUNT"][:, 0, 0]) > 1.0
