-- Kill switches (a row per switch that is on) and the daily token ledger per end user,
-- the record of what counters are rebuilt from.
-- The global switch's target is the nil UUID.
CREATE TABLE kill_switches (
    scope      TEXT NOT NULL,
    target     BLOB NOT NULL,
    enabled_at TEXT NOT NULL,
    PRIMARY KEY (scope, target)
);

CREATE TABLE token_ledger (
    project_id BLOB NOT NULL,
    uid        TEXT NOT NULL,
    day        TEXT NOT NULL,
    tokens     BIGINT NOT NULL,
    PRIMARY KEY (project_id, uid, day)
);
CREATE INDEX token_ledger_day ON token_ledger (day);
