"""Loading rule files and the checks that span them.

Every file is validated on its own first (a file that fails still contributes its valid
connections and rules to the cross-checks); then names must be unique across files, rule
endpoints must name connections that exist and suit them, local calendar names must stay
inside their connection's folder, and a rule's target must not be its source.
"""

from __future__ import annotations

import contextlib
import difflib
import glob
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from calsyncd.config.base import normalize_path, validation_context
from calsyncd.config.connections import Connection, LocalConnection
from calsyncd.config.endpoints import LOCAL_CALENDAR_RULE, identity, is_plain_folder_name, shown
from calsyncd.config.problems import (
    located,
    plain_problem,
    show,
    validation_problems,
    with_path,
)
from calsyncd.config.rules import Rule, RuleFile
from calsyncd.config.secrets import LITERAL_SECRET_MESSAGE, SECRET_KEYS
from calsyncd.config.session import Session, display_path
from calsyncd.config.settings import Defaults
from calsyncd.config.settingsfile import env_var
from calsyncd.config.yamlsource import Loc, YamlDocument

RULE_SUFFIXES = (".yaml", ".yml")

Kind = Literal["rule", "connection"]

_CONNECTION_ADAPTER: TypeAdapter[Connection] = TypeAdapter(Connection)


def _origin(doc: YamlDocument, loc: Loc, *, key: bool) -> str:
    at = doc.position(loc, key=key)
    return f"{doc.source}:{at.line}:{at.column}"


def lookup_origin(origins: Mapping[tuple[Kind, str], str], name: str, kind: Kind | None) -> str:
    kinds: tuple[Kind, ...] = (kind,) if kind else ("rule", "connection")
    for each in kinds:
        if (each, name) in origins:
            return origins[(each, name)]
    raise KeyError(name)


@dataclass(frozen=True)
class RuleSet:
    """Validated rule files: connections and rules by name, in file order."""

    connections: Mapping[str, Connection]
    rules: Mapping[str, Rule]
    files: tuple[Path, ...]
    origins: Mapping[tuple[Kind, str], str] = field(repr=False)

    def origin(self, name: str, kind: Kind | None = None) -> str:
        """``path:line:col`` where the rule (else the connection) ``name`` is defined."""
        return lookup_origin(self.origins, name, kind)


@dataclass
class _Definition:
    name: str
    origin: str
    doc: YamlDocument
    loc: Loc
    shown: str
    """How messages name it: the name, or the reference it was resolved from (never its value)."""


@dataclass
class _RuleFileResult:
    doc: YamlDocument
    connections: dict[str, Connection]
    rules: list[tuple[int, Rule]]
    connection_defs: list[_Definition]
    rule_defs: list[_Definition]
    references: Mapping[Loc, str]


def _folder_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix in RULE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def _expand(pattern: str) -> list[Path] | str:
    """The rule files a folder, file or glob names, or why there are none."""
    if glob.has_magic(pattern):
        found = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
        return found or "matches no file"
    path = Path(pattern)
    if path.is_dir():
        return _folder_files(path)
    if path.is_file():
        return [path]
    return "no such file or folder"


def rule_paths_from_settings(
    session: Session, patterns: tuple[str, ...], doc: YamlDocument
) -> list[Path]:
    paths: list[Path] = []
    from_env = env_var(("rules",))
    for i, pattern in enumerate(patterns):
        found = _expand(pattern)
        if isinstance(found, str):
            shown = display_path(Path(pattern))
            if from_env is not None:
                session.add([plain_problem(from_env, f"{shown}: {found}")])
            else:
                loc: Loc = ("rules", i) if doc.has(("rules", i)) else ("rules",)
                session.add([located(doc, loc, f"rules: {shown}: {found}")])
            continue
        paths.extend(found)
    return paths


def expand_given(given: Sequence[Path]) -> list[Path]:
    paths: list[Path] = []
    for path in given:
        if path.is_dir():
            paths.extend(_folder_files(path))
        else:
            paths.append(path)  # a missing file is reported when it is read
    return paths


def unique_paths(paths: Iterable[Path]) -> list[Path]:
    seen: set[Path] = set()
    out: list[Path] = []
    for path in paths:
        key = normalize_path(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def _reject_literal_secrets(
    session: Session, doc: YamlDocument, data: Any, references: Mapping[Loc, str]
) -> None:
    """Secret keys must hold references; a literal is a problem (and is blanked)."""
    connections = data.get("connections") if isinstance(data, dict) else None
    if not isinstance(connections, dict):
        return
    for name, conn in connections.items():
        if not isinstance(conn, dict):
            continue
        for key in SECRET_KEYS & conn.keys():
            loc: Loc = ("connections", name, key)
            if conn[key] is not None and loc not in references:
                session.add([located(doc, loc, with_path(loc, LITERAL_SECRET_MESSAGE))])
                conn[key] = ""


def _salvage(
    data: Any, context: dict[str, Any]
) -> tuple[dict[str, Connection], list[tuple[int, Rule]]]:
    """The valid connections and rules of a file that failed validation (for cross-checks)."""
    connections: dict[str, Connection] = {}
    rules: list[tuple[int, Rule]] = []
    if not isinstance(data, dict):
        return connections, rules
    raw_connections = data.get("connections")
    if isinstance(raw_connections, dict):
        for name, raw in raw_connections.items():
            with contextlib.suppress(ValidationError):
                connections[name] = _CONNECTION_ADAPTER.validate_python(raw, context=context)
    raw_rules = data.get("rules")
    if isinstance(raw_rules, list):
        for i, raw in enumerate(raw_rules):
            with contextlib.suppress(ValidationError):
                rules.append((i, Rule.model_validate(raw, context=context)))
    return connections, rules


def _definitions(
    doc: YamlDocument, data: Any, references: Mapping[Loc, str]
) -> tuple[list[_Definition], list[_Definition]]:
    """Every connection and rule name written in the file, valid or not, with its place."""
    connection_defs: list[_Definition] = []
    rule_defs: list[_Definition] = []
    if not isinstance(data, dict):
        return connection_defs, rule_defs
    if isinstance(data.get("connections"), dict):
        for name in data["connections"]:
            loc: Loc = ("connections", name)
            origin = _origin(doc, loc, key=True)
            connection_defs.append(_Definition(name, origin, doc, loc, name))
    if isinstance(data.get("rules"), list):
        for i, raw in enumerate(data["rules"]):
            if isinstance(raw, dict) and isinstance(raw.get("name"), str):
                loc = ("rules", i, "name")
                name, origin = raw["name"], _origin(doc, loc, key=False)
                shown = references.get(loc, name)
                rule_defs.append(_Definition(name, origin, doc, loc, shown))
    return connection_defs, rule_defs


def _load_rule_file(session: Session, path: Path, defaults: Defaults) -> _RuleFileResult | None:
    doc = session.read(path)
    if doc is None:
        return None
    if doc.data is not None and not isinstance(doc.data, dict):
        message = "a rule file is a mapping with connections: and/or rules:"
        session.add([located(doc, (), message)])
        return None
    base_dir = normalize_path(path).parent
    data, references = session.resolve(doc, base_dir)
    _reject_literal_secrets(session, doc, data, references)
    context = validation_context(base_dir, defaults)
    connection_defs, rule_defs = _definitions(doc, data, references)
    try:
        parsed = RuleFile.model_validate(data, context=context)
    except ValidationError as exc:
        session.add(validation_problems(exc, doc, RuleFile, data=data, references=references))
        connections, rules = _salvage(data, context)
    else:
        connections = dict(parsed.connections)
        rules = list(enumerate(parsed.rules))
    return _RuleFileResult(doc, connections, rules, connection_defs, rule_defs, references)


def _first_definitions(
    session: Session, kind: Kind, definitions: Iterable[_Definition]
) -> dict[str, _Definition]:
    first: dict[str, _Definition] = {}
    for definition in definitions:
        earlier = first.get(definition.name)
        if earlier is None:
            first[definition.name] = definition
            continue
        message = f'{kind} "{definition.shown}" is already defined at {earlier.origin}'
        session.add(
            [
                located(
                    definition.doc,
                    definition.loc,
                    with_path(definition.loc, message),
                    key=kind == "connection",
                )
            ]
        )
    return first


def _unknown_connection(name: str, known: Iterable[str], reference: str | None = None) -> str:
    """``reference``: the reference ``name`` was resolved from, shown instead of (and never
    compared with) the secret value."""
    known = sorted(known)
    if reference is not None:
        return f"unknown connection (the value of {reference})"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f'unknown connection "{name}"; did you mean "{close[0]}"?'
    if known:
        return f'unknown connection "{name}"; defined: {", ".join(known)}'
    return f'unknown connection "{name}"; no connection is defined'


def _check_rule(
    session: Session,
    doc: YamlDocument,
    *,
    index: int,
    rule: Rule,
    known: Mapping[str, _Definition],
    connections: Mapping[str, Connection],
    references: Mapping[Loc, str],
) -> None:
    def problem(loc: Loc, message: str) -> None:
        session.add([located(doc, loc, with_path(loc, message))])

    for side in ("source", "target"):
        name = getattr(rule, side).connection
        loc: Loc = ("rules", index, side, "connection")
        if name not in known:
            problem(loc, _unknown_connection(name, known, references.get(loc)))
            continue
        conn = connections.get(name)
        if conn is None:  # defined but invalid: already reported
            continue
        if not conn.is_calendar:
            problem(loc, f'"{name}" is a {conn.type} connection; use it as meeting.connection')
        elif conn.read_only and (side == "target" or rule.two_way):
            where = "the target of a rule" if side == "target" else "a side of a two-way rule"
            problem(loc, f'"{name}" is a read-only feed (ics with url), it cannot be {where}')
    _check_calendars(
        session, doc, index=index, rule=rule, connections=connections, references=references
    )
    if rule.meeting is not None:
        name = rule.meeting.connection
        loc = ("rules", index, "meeting", "connection")
        conn = connections.get(name)
        if name not in known:
            problem(loc, _unknown_connection(name, known, references.get(loc)))
        elif conn is not None and conn.type != "zoom":
            problem(loc, f'"{name}" is a {conn.type} connection; meetings need a zoom connection')


def _check_calendars(
    session: Session,
    doc: YamlDocument,
    *,
    index: int,
    rule: Rule,
    connections: Mapping[str, Connection],
    references: Mapping[Loc, str],
) -> None:
    """Local calendar names stay inside their connection's folder, and the target is not the
    source under another spelling (two connections to one folder, a symlink, a URL written
    differently: see :mod:`calsyncd.config.endpoints`)."""
    found: dict[str, str | None] = {}
    for side in ("source", "target"):
        endpoint = getattr(rule, side)
        conn = connections.get(endpoint.connection)
        found[side] = None
        if conn is None or not conn.is_calendar:
            continue
        calendar = endpoint.calendar
        local = isinstance(conn, LocalConnection)
        if local and calendar is not None and not is_plain_folder_name(calendar):
            loc: Loc = ("rules", index, side, "calendar")
            reference = references.get(loc)
            value = f"the value of {reference}" if reference else f"got {show(calendar)}"
            session.add([located(doc, loc, with_path(loc, f"{LOCAL_CALENDAR_RULE}, {value}"))])
            continue
        found[side] = identity(conn, calendar, endpoint.user)
    same = found["source"]
    if same is not None and same == found["target"]:
        loc = ("rules", index, "target")
        by_reference = any(("rules", index, side, "calendar") in references for side in found)
        where = "" if by_reference else shown(same)
        message = "the target is the same calendar as the source" + (f" ({where})" if where else "")
        session.add([located(doc, loc, with_path(loc, message), key=True)])


def load_rules(session: Session, paths: Sequence[Path], defaults: Defaults) -> RuleSet:
    """Load and cross-check rule files; problems go to ``session``."""
    results = [r for r in (_load_rule_file(session, p, defaults) for p in paths) if r]
    connection_defs = _first_definitions(
        session, "connection", (d for r in results for d in r.connection_defs)
    )
    rule_defs = _first_definitions(session, "rule", (d for r in results for d in r.rule_defs))
    connections: dict[str, Connection] = {}
    for result in results:
        for name, conn in result.connections.items():
            if connection_defs[name].doc is result.doc:
                connections[name] = conn
    rules: dict[str, Rule] = {}
    for result in results:
        for index, rule in result.rules:
            definition = rule_defs.get(rule.name)
            if definition is None or definition.loc != ("rules", index, "name"):
                continue
            if definition.doc is not result.doc:
                continue
            _check_rule(
                session,
                result.doc,
                index=index,
                rule=rule,
                known=connection_defs,
                connections=connections,
                references=result.references,
            )
            rules[rule.name] = rule
    origins: dict[tuple[Kind, str], str] = {}
    for name, definition in connection_defs.items():
        origins[("connection", name)] = definition.origin
    for name, definition in rule_defs.items():
        origins[("rule", name)] = definition.origin
    return RuleSet(
        MappingProxyType(connections),
        MappingProxyType(rules),
        tuple(normalize_path(p) for p in paths),
        MappingProxyType(origins),
    )
