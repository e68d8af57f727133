-- The history archive (audit/archive.py): every closed workflow's full history, kept here after the
-- namespace's retention (R-ACCOUNTABLE.history_retention) lets Temporal delete it, so an audit can
-- replay any run against the code of the day. The history is exactly what Temporal returned, its
-- payloads still sealed by the codec, as the text WorkflowHistory.to_json() wrote: text, not jsonb,
-- because jsonb rewrites the text and the digest is of these very bytes. Beside it, the same history
-- serialised as protobuf, which a replay reads ten times faster than it parses the JSON; the audit
-- check compares the two (audit/report.py), so neither can be edited alone.
CREATE TABLE history_archive (
    workflow_id    text NOT NULL,
    run_id         text NOT NULL,
    workflow_type  text NOT NULL,
    status         text NOT NULL,               -- COMPLETED, FAILED, CANCELED, TERMINATED, CONTINUED_AS_NEW, TIMED_OUT
    started_at     timestamptz NOT NULL,
    closed_at      timestamptz NOT NULL,
    history        text NOT NULL,
    history_pb     bytea NOT NULL,              -- the same history in protobuf's own encoding: what a replay reads
    digest         bytea NOT NULL CHECK (length(digest) = 32),
    archived_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, run_id),
    CONSTRAINT history_archive_digest CHECK (digest = sha256(convert_to(history, 'UTF8')))
);
CREATE INDEX history_archive_closed_at ON history_archive (closed_at, workflow_id, run_id);

-- Kept once, then never changed: UPDATE, DELETE and TRUNCATE are rejected as on the events table
-- (0002), so even the owner must disable the triggers to tamper, and the application role, which
-- owns nothing, cannot.
CREATE FUNCTION mediaops_archive_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'archived histories are immutable: % is not allowed on the history archive', TG_OP
        USING ERRCODE = 'MOA01';
END
$$;

CREATE TRIGGER history_archive_immutable BEFORE UPDATE OR DELETE ON history_archive
    FOR EACH ROW EXECUTE FUNCTION mediaops_archive_immutable();
CREATE TRIGGER history_archive_no_truncate BEFORE TRUNCATE ON history_archive
    FOR EACH STATEMENT EXECUTE FUNCTION mediaops_archive_immutable();

-- How far the sweeps have got, per namespace: the latest close time seen. A sweep looks again a
-- little before it (visibility is eventually consistent), so a restart misses nothing.
CREATE TABLE archive_cursors (
    namespace    text PRIMARY KEY,
    closed_since timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Said here, not left to 0008's default privileges: the archive is appended to and read, never
-- rewritten; only the cursor moves.
REVOKE ALL ON history_archive, archive_cursors FROM mediaops_app;
GRANT SELECT ON history_archive TO mediaops_app;
GRANT INSERT (workflow_id, run_id, workflow_type, status, started_at, closed_at, history, history_pb, digest)
    ON history_archive TO mediaops_app;  -- not archived_at: the database's own time
GRANT SELECT, INSERT, UPDATE ON archive_cursors TO mediaops_app;
