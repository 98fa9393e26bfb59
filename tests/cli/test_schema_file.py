"""The JSON Schema shipped for editors is the one `calsyncd schema` prints."""

from __future__ import annotations

import json
from pathlib import Path

from calsyncd.cli.app import main

SHIPPED = Path(__file__).parents[2] / "docs" / "rules.schema.json"


def test_shipped_schema_is_current(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(SHIPPED.read_text()), (
        "docs/rules.schema.json is stale: run `calsyncd schema > docs/rules.schema.json`"
    )
