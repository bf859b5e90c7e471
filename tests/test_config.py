"""YAML configuration: every mistake is named, with what is allowed."""

from pathlib import Path

import pytest

from coupler.config import load_config, parse_config
from coupler.errors import ConfigError

MINIMAL = {
    "run": {"start": "2001-01-01", "coupling_interval": 86400},
    "host": {"grid": "latlon:4,4:0,2,0,2", "imports": ["TBOT"], "exports": ["LAI"]},
    "fine": {"grid": "latlon:240,240:0,2,0,2"},
    "steps": [{"name": "p", "transform": "phenology_gsi", "schedule": "daily"}],
}


def parse(overrides: dict):
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in MINIMAL.items()}
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section].update(values)
        else:
            raw[section] = values
    return parse_config(raw, Path("/tmp/cfg.yaml"))


def test_valid_config_is_parsed_with_defaults():
    cfg = parse({})
    assert cfg.calendar == "noleap"
    assert cfg.fine["tile"] == [120, 120]
    assert cfg.run["output_dir"] == Path("/tmp")
    assert cfg.steps[0].schedule.kind == "daily"


def test_typo_in_a_key_suggests_the_right_one():
    with pytest.raises(ConfigError, match=r"run.calender: unknown key; did you mean 'calendar'\?"):
        parse({"run": {"calender": "noleap"}})


def test_typo_in_a_section_suggests_the_right_one():
    with pytest.raises(ConfigError, match=r"histroy: unknown section; did you mean 'history'"):
        parse({"histroy": {}})


def test_value_outside_its_choices_lists_them():
    with pytest.raises(
        ConfigError, match=r"run.on_error: 'abrt' is not allowed; did you mean 'abort'"
    ):
        parse({"run": {"on_error": "abrt"}})


def test_wrong_type_says_what_was_expected():
    with pytest.raises(ConfigError, match="run.coupling_interval: expected a int, got str"):
        parse({"run": {"coupling_interval": "daily"}})


def test_missing_required_key():
    with pytest.raises(ConfigError, match="host.grid: required key is missing"):
        parse({"host": {"grid": None}})


def test_step_needs_exactly_one_of_transform_or_onnx():
    with pytest.raises(ConfigError, match="steps.p: give exactly one of 'transform'"):
        parse({"steps": [{"name": "p", "schedule": "daily"}]})


def test_duplicate_step_names_are_rejected():
    step = {"name": "p", "transform": "phenology_gsi"}
    with pytest.raises(ConfigError, match="step name 'p' is used twice"):
        parse({"steps": [step, step]})


def test_bad_aggregation_is_named():
    step = {"name": "p", "transform": "phenology_gsi", "aggregation": {"TBOT": "median"}}
    with pytest.raises(ConfigError, match="steps.p.aggregation.TBOT: 'median' is not allowed"):
        parse({"steps": [step]})


def test_bad_tile_shape():
    with pytest.raises(ConfigError, match=r"fine.tile: expected two positive integers"):
        parse({"fine": {"tile": [0, 10]}})


def test_missing_file_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: {name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    cfg = tmp_path / "sub" / "c.yaml"
    cfg.parent.mkdir()
    cfg.write_text(
        "run: {output_dir: out, start: 2001-01-01}\nhost: {grid: d.nc, imports: [], exports: []}\n"
        "fine: {grid: 'latlon:1,1:0,1,0,1', static: s.nc}\n"
    )
    c = load_config(cfg)
    assert c.run["output_dir"] == tmp_path / "sub" / "out"
    assert c.fine["static"] == tmp_path / "sub" / "s.nc"
    assert c.run["start"] == "2001-01-01"


def test_unknown_field_in_the_config_names_the_key(make_config):
    from mpi4py import MPI

    from coupler.component import Component

    message = r"host.imports: unknown field 'TBTO'; did you mean 'TBOT'"
    with pytest.raises(ConfigError, match=message):
        Component(MPI.COMM_WORLD, make_config(host={"imports": ["TBTO", "PRECTmms"]}))
