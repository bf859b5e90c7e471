"""The pieces behind 'one rank's failure is every rank's', on one rank: the agreed message
and class, and the LANDEMU_FAULT switch (its spelling, and firing once, when planned)."""

import pytest
from mpi4py import MPI

from coupler.agreement import Agreement, agreed_error
from coupler.errors import ConfigError, FieldError, InternalError, LandemuRuntimeError
from coupler.faults import Faults


def test_agreed_error_names_the_failing_ranks_and_keeps_the_first_class():
    reports = [None, ("FieldError", "no values of TBOT were put"), None, None]
    err = agreed_error("advance", reports)
    assert isinstance(err, FieldError)
    assert str(err) == "advance failed on rank 1 of 4: no values of TBOT were put"
    same = agreed_error("write_restart", [("DataFileError", "x is a directory")] * 2)
    assert str(same) == "write_restart failed on ranks 0, 1 of 2: x is a directory"
    many = [("ModelError", f"NaN on tile {k}") for k in range(5)]
    text = str(agreed_error("advance", many))
    assert text.startswith("advance failed on ranks 0, 1, 2, 3, 4 of 5: rank 0: NaN on tile 0")
    assert text.endswith("; and 2 more rank(s)") and "tile 3" not in text
    assert isinstance(agreed_error("finalize", [("ZeroDivisionError", "bug")]), InternalError)
    assert InternalError.status == 99


def test_on_one_rank_the_error_is_raised_as_it_came():
    agreement = Agreement(MPI.COMM_SELF)
    with pytest.raises(ZeroDivisionError), agreement.phase("advance"):
        raise ZeroDivisionError("unchanged")
    with agreement.phase("advance"):
        pass  # nothing failed: nothing raised


def test_fault_switch_fires_once_at_the_planned_rank_phase_and_count():
    faults = Faults("step:phenology@1#2", rank=1)
    faults.hit("step:phenology")  # the first time: not yet
    faults.hit("remap")  # another phase: never
    with pytest.raises(LandemuRuntimeError, match=r"LANDEMU_FAULT=step:phenology@1#2"):
        faults.hit("step:phenology")
    faults.hit("step:phenology")  # once only
    Faults("put@1", rank=0).hit("put")  # another rank: nothing
    with pytest.raises(FieldError, match="fault injected"):
        Faults("put@0", rank=0).hit("put")


@pytest.mark.parametrize("spec", ["step@1", "advance", "advance@x", "restart@-1", "put@0#0"])
def test_a_misspelt_fault_switch_is_a_config_error_naming_the_variable(spec):
    with pytest.raises(ConfigError, match=r"LANDEMU_FAULT=.*expected PHASE@RANK"):
        Faults(spec, rank=0)
