-- Seals of the hash chains' heads (audit/seals.py, issue 12): each stream's last version and hash,
-- and the global order's last transaction, position and event count, taken periodically by the
-- workers and on demand (`mediaops events seal`). A chain alone cannot tell that a whole stream or
-- the last events of one were deleted; `mediaops events verify --against` compares the store with
-- a seal and can. `heads` maps each stream id to [version, hash hex]; `digest` is the SHA-256 of the
-- seal's canonical JSON (see chain_digest), the value reports print. A seal with the same content
-- as one already kept is not stored again: the digest is unique.
CREATE TABLE chain_seals (
    id              bigserial PRIMARY KEY,
    sealed_at       timestamptz NOT NULL DEFAULT now(),
    position        bigint NOT NULL CHECK (position >= 0),
    transaction_id  xid8 NOT NULL,              -- the seal covers every event written by this one or earlier
    events          bigint NOT NULL CHECK (events >= 0),
    streams         bigint NOT NULL CHECK (streams >= 0),
    heads           jsonb NOT NULL CHECK (jsonb_typeof(heads) = 'object'),
    digest          text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    CONSTRAINT chain_seals_digest_key UNIQUE (digest)
);

-- Kept once, then never changed: UPDATE, DELETE and TRUNCATE are rejected as on the events table
-- (0002), so even the owner must disable the triggers to tamper, and the application role, which
-- owns nothing, cannot. The stronger anchor is a copy outside the database (`--out`).
CREATE FUNCTION mediaops_seals_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'seals are immutable: % is not allowed on chain_seals', TG_OP
        USING ERRCODE = 'MOS01';
END
$$;

CREATE TRIGGER chain_seals_immutable BEFORE UPDATE OR DELETE ON chain_seals
    FOR EACH ROW EXECUTE FUNCTION mediaops_seals_immutable();
CREATE TRIGGER chain_seals_no_truncate BEFORE TRUNCATE ON chain_seals
    FOR EACH STATEMENT EXECUTE FUNCTION mediaops_seals_immutable();

-- Said here, not left to 0008's default privileges: seals are added and read, nothing else.
REVOKE ALL ON chain_seals FROM mediaops_app;
REVOKE ALL ON SEQUENCE chain_seals_id_seq FROM mediaops_app;
-- Every column but the id and the time, which the database gives: a seal cannot be backdated into a
-- past period's report by whoever writes it.
GRANT SELECT ON chain_seals TO mediaops_app;
GRANT INSERT (position, transaction_id, events, streams, heads, digest) ON chain_seals TO mediaops_app;
GRANT USAGE ON SEQUENCE chain_seals_id_seq TO mediaops_app;
