"""`medkg synth`'s options take their defaults and help from SynthConfig's fields."""

from __future__ import annotations

import dataclasses

import typer

from medkg.cli.synth import app
from medkg.synthesis.config import SynthConfig

# option parameter -> SynthConfig field, where the names differ
RENAMED = {"strategy_param": "strategy_params", "decontam": "decontam_files"}


def test_synth_option_defaults_and_help_are_the_config_fields() -> None:
    command = typer.main.get_group(app)
    fields = {f.name: f for f in dataclasses.fields(SynthConfig)}
    checked = []
    for param in command.params:
        name = RENAMED.get(param.name or "", param.name or "")
        if name not in fields:
            continue
        field = fields[name]
        expected = None if field.default is dataclasses.MISSING else field.default
        assert param.default == expected, name
        assert field.metadata["help"] in (getattr(param, "help", None) or ""), name
        checked.append(name)
    # every option that sets a SynthConfig field is derived from it (no_dedup is inverted)
    assert len(checked) >= 17, checked
