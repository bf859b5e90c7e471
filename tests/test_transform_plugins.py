"""Transforms are plugins: a distribution that registers a Transform under the entry-point
group landemu.transforms is found without editing landemu, and the built-in transforms
come through the same path. The test plugin also brings a kind of state landemu has never
seen (int32, three values per cell, initialised from a file), which restarts without any
coupler code knowing it."""

import importlib.metadata

import numpy as np
import pytest
from step_state_setup import config, counter_plugin_step, install_plugin
from test_step_state import advance, get, start

from coupler.errors import ConfigError
from emulators.transforms import lookup

DAY = 86400


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(install_plugin(tmp_path / "plugin")))
    importlib.invalidate_caches()


def test_builtin_transforms_come_from_entry_points():
    names = {ep.name for ep in importlib.metadata.entry_points(group="landemu.transforms")}
    assert {"phenology_gsi", "roundtrip"} <= names
    assert lookup("roundtrip").transform_name == "roundtrip"


def test_a_plugin_transform_is_found_without_editing_landemu(plugin):
    assert lookup("cell_counter").__module__ == "landemu_testplugin"


def test_unknown_transform_lists_the_registered_ones(tmp_path):
    step = {"name": "x", "transform": "cell_countr", "schedule": "daily"}
    with pytest.raises(ConfigError, match=r"unknown transform 'cell_countr'.*roundtrip"):
        start(config(tmp_path, [step], ["COUNT"]))


def test_a_new_kind_of_state_starts_from_its_file_and_restarts(plugin, tmp_path):
    steps = [counter_plugin_step(tmp_path)]
    ref = start(config(tmp_path / "ref", steps, ["HITS"], interval=DAY))
    for day in range(1, 7):
        advance(ref, day, DAY)
    tiles = ref.step_state["cells"]["hits"]
    assert tiles[0].dtype == np.int32 and tiles[0].shape == (3, 70, 50)
    assert np.all(tiles[0][0] == 6)
    j, i = np.mgrid[0:70, 0:50]
    np.testing.assert_array_equal(tiles[0][1], (j + 2 * i) % 7 + 1)
    np.testing.assert_array_equal(tiles[0][2], 6 * tiles[0][1])
    first = start(config(tmp_path / "a", steps, ["HITS"], interval=DAY))
    for day in range(1, 4):
        advance(first, day, DAY)
    restart = first.write_restart(tmp_path / "r.nc")
    assert (tmp_path / "r.nc.fine").stat().st_size == 3 * 240 * 240 * 4  # int32 × 3 per cell
    again = config(tmp_path / "b", steps, ["HITS"], interval=DAY, restart={"read": str(restart)})
    second = start(again)
    for day in range(4, 7):
        advance(second, day, DAY)
    np.testing.assert_array_equal(get(second, "HITS"), get(ref, "HITS"))
    for a, b in zip(second.step_state["cells"]["hits"], tiles, strict=True):
        np.testing.assert_array_equal(a, b)


def test_state_init_names_the_missing_file_and_variable(plugin, tmp_path):
    step = counter_plugin_step(tmp_path)
    step["state"]["hits"]["init"]["variable"] = "nope"
    with pytest.raises(Exception, match=r"t.nc' has no variable nope"):
        start(config(tmp_path, [step], ["HITS"], interval=DAY))
    step["state"] = {"hitz": {"init": 1}}
    with pytest.raises(ConfigError, match=r"state.hitz: transform 'cell_counter' has no state"):
        start(config(tmp_path, [step], ["HITS"], interval=DAY))
