"""An unexpected exception inside one rule's cycle fails that rule alone (issue 11, finding 9).

The reader skips an object it cannot read by name (``tests/hostile/test_bad_object.py``);
this is the net under everything else: whatever escapes a cycle — here a calendar whose
listing raises an exception outside calsyncd's error tree — fails its rule with a one-line
"internal error", stored as the rule's last error, while every other rule of the same
``calsyncd sync`` syncs. The command exits 1; the traceback goes to the log only (a bug
report needs it), never into the outcome lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from calsyncd.cli import main
from calsyncd.providers.local import LocalCalendar
from cli.conftest import Project
from cli.samples import fifty_objects

RULES = "rules:\n" + "".join(
    f"  - name: {name}\n"
    f"    source: {{connection: loc, calendar: {name}-in}}\n"
    f"    target: {{connection: loc, calendar: {name}-out}}\n"
    "    window: {past: 3650d, future: 3650d}\n"
    for name in ("first", "broken", "last")
)


def test_an_unexpected_exception_fails_its_rule_only(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write_rules(RULES)
    for name in ("first", "broken", "last"):
        for i, obj in enumerate(fifty_objects()[:5]):
            project.put(f"{name}-in", f"o{i}.ics", obj)
    listing = LocalCalendar.list_changes

    async def list_changes(self: LocalCalendar, *args: Any, **kwargs: Any) -> Any:
        if Path(self.path).name == "broken-in":
            raise OverflowError("date value out of range")
        return await listing(self, *args, **kwargs)

    monkeypatch.setattr(LocalCalendar, "list_changes", list_changes)
    code = main(["--config", str(project.config), "sync"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "first: ok: 5 created" in out
    assert "last: ok: 5 created" in out
    assert "broken: failed: internal error (OverflowError: date value out of range)" in out
    assert "Traceback" not in out
    assert len(project.objects("first-out")) == len(project.objects("last-out")) == 5
    status = main(["--config", str(project.config), "status", "--json"])
    assert status == 0
    assert "internal error (OverflowError" in capsys.readouterr().out
