"""The resource types the change set notes as "not created by the emulator" are exactly the
template's types the installed moto's CloudFormation has no model for."""

from __future__ import annotations

import re
from pathlib import Path

from moto.cloudformation.parsing import get_model_map

from votectl.aws.changeset import EMULATOR_CREATES_NONE

TEMPLATE = Path(__file__).resolve().parents[2] / "votectl" / "aws" / "template.yaml"


def test_the_noted_types_are_those_moto_creates_nothing_for() -> None:
    types = set(re.findall(r"Type: (AWS::[A-Za-z0-9:]+)", TEMPLATE.read_text()))
    assert {t for t in types if t not in get_model_map()} == EMULATOR_CREATES_NONE
