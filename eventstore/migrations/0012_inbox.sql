-- What a platform delivered and the API acknowledged (M12): kept here before the answer, so a
-- message acknowledged while Temporal was down still becomes its inquiry. Each row is handed over
-- at once when it can be, and otherwise by the inbox drain every API process runs, which marks it
-- taken. A record of what came in, so the application role may not delete or empty it.
CREATE TABLE inbox (
    platform      text NOT NULL,
    account       text NOT NULL,
    dedupe_key    text NOT NULL,
    received      jsonb NOT NULL,            -- the inquiry.received the intake read, text made printable
    kept_at       timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    last_failure  text,                      -- the class of the last hand-over's failure, never its text
    taken_at      timestamptz,
    workflow_id   text,
    PRIMARY KEY (platform, account, dedupe_key)
);

CREATE INDEX inbox_waiting ON inbox (kept_at) WHERE taken_at IS NULL;

REVOKE ALL ON inbox FROM mediaops_app;
GRANT SELECT, INSERT, UPDATE ON inbox TO mediaops_app;
