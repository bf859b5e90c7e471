"""The field registry: canonical names, aliases, units, ranges."""

import pytest

from coupler.errors import ConfigError, FieldError
from coupler.fields import FieldRegistry


def test_aliases_map_to_canonical_names():
    reg = FieldRegistry.default()
    assert reg["Sa_tbot"].name == "TBOT"
    assert reg["Faxa_swdn"].name == "FSDS"
    assert reg["PCT_NAT_PFT"].levels == 17


def test_unknown_field_suggests_close_names():
    with pytest.raises(FieldError, match="unknown field 'TBTO'; did you mean 'TBOT'"):
        FieldRegistry.default()["TBTO"]


def test_declared_units_must_be_canonical():
    reg = FieldRegistry.default()
    reg.check_units("host.imports.TBOT", "TBOT", "K")
    with pytest.raises(ConfigError, match="exchanged in 'K', the config says 'degC'"):
        reg.check_units("host.imports.TBOT", "TBOT", "degC")


def test_pft_parameter_ranges_follow_mdpl_table_2():
    reg = FieldRegistry.default()
    assert (reg["vegh"].valid_min, reg["vegh"].valid_max) == (0.5, 40.0)
    assert (reg["psicr"].valid_min, reg["psicr"].valid_max) == (-500.0, -50.0)
    assert reg["vmax0"].units == "mol m-2 s-1"
