"""The state database schema, as a list of migrations applied in order.

Each entry upgrades the schema by one version; a database is never downgraded. Add a new
migration at the end — never edit one that has shipped. Statements are split on ``;``,
so comments must not contain one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: rules, cursors, what each side holds, synced pairs, conflicts, item errors.
    """
    CREATE TABLE rule (
        rule         TEXT PRIMARY KEY,
        config_hash  TEXT NOT NULL DEFAULT '',
        held_reason  TEXT,
        held_at      REAL,
        last_attempt REAL,
        last_success REAL,
        last_error   TEXT,
        created      INTEGER NOT NULL DEFAULT 0,
        updated      INTEGER NOT NULL DEFAULT 0,
        deleted      INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE cursor (
        rule   TEXT NOT NULL,
        side   TEXT NOT NULL CHECK (side IN ('source', 'target')),
        cursor TEXT,
        PRIMARY KEY (rule, side)
    );
    -- Everything a side held at its last listing (metadata only), so incremental listings
    -- can be completed into a full view: adoption by UID or marker, window entry.
    CREATE TABLE seen (
        rule       TEXT NOT NULL,
        side       TEXT NOT NULL CHECK (side IN ('source', 'target')),
        id         TEXT NOT NULL,
        etag       TEXT NOT NULL,
        uid        TEXT NOT NULL,
        hash       TEXT NOT NULL,
        marker_rule TEXT,
        marker_key TEXT,
        selected   INTEGER NOT NULL DEFAULT 0,
        span_start REAL,
        span_end   REAL,
        PRIMARY KEY (rule, side, id)
    );
    CREATE INDEX seen_uid ON seen (rule, side, uid);
    CREATE INDEX seen_marker ON seen (rule, side, marker_key);
    -- One row per synced pair: the original on one side, its copy on the other.
    CREATE TABLE pair (
        rule         TEXT NOT NULL,
        key          TEXT NOT NULL,
        origin       TEXT NOT NULL CHECK (origin IN ('source', 'target')),
        origin_uid   TEXT NOT NULL,
        source_id    TEXT,
        source_etag  TEXT,
        source_hash  TEXT,
        source_base  TEXT,
        target_id    TEXT,
        target_etag  TEXT,
        target_hash  TEXT,
        target_base  TEXT,
        written_hash TEXT,
        dismissed    INTEGER NOT NULL DEFAULT 0,
        synced_at    REAL NOT NULL,
        PRIMARY KEY (rule, key)
    );
    CREATE UNIQUE INDEX pair_source ON pair (rule, source_id) WHERE source_id IS NOT NULL;
    CREATE UNIQUE INDEX pair_target ON pair (rule, target_id) WHERE target_id IS NOT NULL;
    -- Pairs held by the manual conflict policy until `calsyncd resolve`.
    CREATE TABLE conflict (
        rule         TEXT NOT NULL,
        key          TEXT NOT NULL,
        title        TEXT NOT NULL,
        source_body  TEXT,
        target_body  TEXT,
        source_hash  TEXT,
        target_hash  TEXT,
        detected_at  REAL NOT NULL,
        resolution   TEXT CHECK (resolution IN ('source', 'target')),
        PRIMARY KEY (rule, key)
    );
    -- Objects that failed (malformed, rejected write), read again next cycle.
    CREATE TABLE item_error (
        rule    TEXT NOT NULL,
        side    TEXT NOT NULL CHECK (side IN ('source', 'target')),
        id      TEXT NOT NULL,
        message TEXT NOT NULL,
        at      REAL NOT NULL,
        PRIMARY KEY (rule, side, id)
    );
    """,
    # 2: what a step's writes will leave on each side, recorded before them, so that after a
    # cycle killed between a write and its row's commit calsyncd knows its own write.
    """
    ALTER TABLE pair ADD COLUMN source_pending TEXT;
    ALTER TABLE pair ADD COLUMN target_pending TEXT
    """,
    # 3: the end of the sync window of the rule's last quiet cycle (nothing listed, read
    # again or written, no original waiting to enter the window), so that the next quiet
    # cycle need only look at what entered the window since, through the span index. The
    # live-pair index makes the count the deletion guard needs cheap at any size.
    """
    ALTER TABLE rule ADD COLUMN quiet_until REAL;
    CREATE INDEX seen_span ON seen (rule, side, span_start);
    CREATE INDEX pair_live ON pair (rule) WHERE dismissed = 0
    """,
)
