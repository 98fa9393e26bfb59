"""Configuration: daemon settings and rule files, validated with positions for every error.

Entry points: :func:`load_config` (settings + rule files → :class:`Config`),
:func:`load_rule_files` (rule files alone), :func:`find_settings_path` (``--config`` →
``$CALSYNCD_CONFIG`` → ``config/calsyncd.yaml``) and :func:`rule_file_json_schema`.
Every problem is a :class:`~calsyncd.errors.Problem` printed as ``path:line:col: message``.
"""

from calsyncd.config.connections import (
    CONNECTION_TYPES,
    CaldavConnection,
    Connection,
    GoogleConnection,
    IcsConnection,
    LocalConnection,
    MicrosoftConnection,
    ZoomConnection,
)
from calsyncd.config.durations import Duration, PositiveDuration, format_duration, parse_duration
from calsyncd.config.fieldmap import BUSY_BLOCK_FIELDS, FieldMap, ReverseFieldMap
from calsyncd.config.filters import Filter, FilterClause
from calsyncd.config.loader import (
    DEFAULT_SETTINGS_PATH,
    SETTINGS_ENV,
    Config,
    RuleSet,
    display_path,
    find_settings_path,
    load_config,
    load_rule_files,
)
from calsyncd.config.problems import PlainProblem
from calsyncd.config.rules import (
    ConflictPolicy,
    Direction,
    Endpoint,
    Guard,
    Meeting,
    Rule,
    RuleFile,
    rule_file_json_schema,
)
from calsyncd.config.secrets import SECRET_KEYS, resolve_reference
from calsyncd.config.settings import (
    Defaults,
    HealthSettings,
    LogSettings,
    Settings,
    SyncWindow,
    parse_listen,
)
from calsyncd.config.templates import PLACEHOLDERS, TemplateError, check_template, render

__all__ = [
    "BUSY_BLOCK_FIELDS",
    "CONNECTION_TYPES",
    "DEFAULT_SETTINGS_PATH",
    "PLACEHOLDERS",
    "SECRET_KEYS",
    "SETTINGS_ENV",
    "CaldavConnection",
    "Config",
    "ConflictPolicy",
    "Connection",
    "Defaults",
    "Direction",
    "Duration",
    "Endpoint",
    "FieldMap",
    "Filter",
    "FilterClause",
    "GoogleConnection",
    "Guard",
    "HealthSettings",
    "IcsConnection",
    "LocalConnection",
    "LogSettings",
    "Meeting",
    "MicrosoftConnection",
    "PlainProblem",
    "PositiveDuration",
    "ReverseFieldMap",
    "Rule",
    "RuleFile",
    "RuleSet",
    "Settings",
    "SyncWindow",
    "TemplateError",
    "ZoomConnection",
    "check_template",
    "display_path",
    "find_settings_path",
    "format_duration",
    "load_config",
    "load_rule_files",
    "parse_duration",
    "parse_listen",
    "render",
    "resolve_reference",
    "rule_file_json_schema",
]
