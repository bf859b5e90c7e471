"""Import/export state: fused checks, exact time means, rejected puts change nothing."""

import numpy as np
import pytest

from coupler.errors import FieldError
from coupler.fields import FieldRegistry
from coupler.kernels import ffi, lib
from coupler.state import Accumulator, ExportField, ImportField, as_host_array

REG = FieldRegistry.default()


def ptr(a):
    return ffi.cast("double *", a.ctypes.data)


def test_check_kernels_count_nan_and_out_of_range_like_numpy():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 2, 10_001)
    x[[3, 500, 9999]] = np.nan
    expected = int(np.count_nonzero(~((x >= 0) & (x <= 1))))
    out = np.empty_like(x)
    assert lib.le_count_invalid(ptr(x), x.size, 0.0, 1.0) == expected
    assert lib.le_check_copy(ptr(x), ptr(out), x.size, 0.0, 1.0) == expected
    np.testing.assert_array_equal(out, x)
    acc = np.ones_like(x)
    summed = np.empty_like(x)
    assert lib.le_check_sum(ptr(x), ptr(acc), ptr(summed), x.size, 0.0, 1.0) == expected
    np.testing.assert_array_equal(summed, acc + x)
    assert lib.le_first_invalid(ptr(x), x.size, 0.0, 1.0) == int(
        np.flatnonzero(~((x >= 0) & (x <= 1)))[0]
    )


def test_accumulated_mean_equals_numpy_sum_in_put_order():
    acc = Accumulator(2, 5)
    rng = np.random.default_rng(1)
    puts = [rng.uniform(0, 1, (2, 5)) for _ in range(7)]
    for p in puts:
        assert acc.add_checked(p, 0.0, 1.0) == 0
    expected = puts[0].copy()
    for p in puts[1:]:
        expected = expected + p
    np.testing.assert_array_equal(acc.mean(), expected / 7)


def test_rejected_put_leaves_the_mean_exactly_unchanged():
    field = ImportField(REG["TBOT"], 4, {"a": "mean", "b": "mean", "c": "last"})
    ids = np.arange(4)
    good = np.array([[280.0, 281.0, 282.0, 283.0]])
    field.put(good, ids)
    before = {k: a.sum.copy() for k, a in field.means.items()}
    bad = good.copy()
    bad[0, 2] = np.nan
    with pytest.raises(
        FieldError, match=r"put TBOT: 1 value\(s\) NaN .* first: NaN at host cell id 3"
    ):
        field.put(bad, ids)
    for k, a in field.means.items():
        np.testing.assert_array_equal(a.sum, before[k])
        assert a.count == 1
    np.testing.assert_array_equal(field.value_for("c"), good)


def test_wrong_units_show_up_as_out_of_range_values():
    field = ImportField(REG["TBOT"], 3, {"s": "mean"})
    with pytest.raises(
        FieldError, match=r"valid range \[150, 350\] K; first: 15 at host cell id 8"
    ):
        field.put(np.array([[15.0, 16.0, 17.0]]), np.array([7, 8, 9]))


def test_mean_of_nothing_is_an_error():
    field = ImportField(REG["TBOT"], 3, {"s": "mean"})
    with pytest.raises(FieldError, match="no values of TBOT were put since 's' last ran"):
        field.value_for("s")


def test_host_array_shape_errors_name_both_layouts():
    spec = REG["H2OSOI"]
    with pytest.raises(
        FieldError,
        match=r"expected 10 level\(s\) × 5 local cells \(Fortran a\(5, 10\), "
        r"C \[10\]\[5\]\), got Fortran shape \(5x9\)",
    ):
        as_host_array(np.zeros((9, 5)), spec, 5, "put")
    with pytest.raises(FieldError, match="expected float64"):
        as_host_array(np.zeros((10, 5), np.float32), spec, 5, "put")
    a = np.zeros(5)
    assert np.shares_memory(as_host_array(a, REG["TBOT"], 5, "put"), a)


def test_export_checks_only_active_cells_and_zeroes_inactive_ones():
    field = ExportField(REG["LAI"], 3, "phen", np.array([True, False, True]))
    field.set(np.array([[1.0, np.nan, 2.0]]), np.arange(3))
    out = np.full(3, -1.0)
    field.get(out)
    np.testing.assert_array_equal(out, [1.0, 0.0, 2.0])
    with pytest.raises(FieldError, match="step 'phen' produced LAI"):
        field.set(np.array([[1.0, 0.0, 99.0]]), np.arange(3))
