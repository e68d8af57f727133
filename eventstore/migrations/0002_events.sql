-- The event store: the long-term record of truth (Temporal deletes closed histories; this does not).
--
-- Order for readers: a bigserial position becomes visible at COMMIT, not at INSERT, so readers
-- follow (transaction_id, position) and only read transactions below the oldest one still running
-- (pg_snapshot_xmin); no committed event is ever skipped.
-- Integrity: each stream is a SHA-256 hash chain; UPDATE, DELETE and TRUNCATE are rejected.
CREATE TABLE events (
    position        bigserial PRIMARY KEY,
    transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text NOT NULL CHECK (length(stream_id) BETWEEN 1 AND 200),
    stream_version  bigint NOT NULL CHECK (stream_version >= 1),
    event_id        uuid NOT NULL,
    type            text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1),
    data            jsonb NOT NULL,
    metadata        jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL,
    prev_hash       bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash            bytea NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

CREATE INDEX events_global_order ON events (transaction_id, position);

-- The hash of an event: its predecessor's hash, then its fields joined by '|'. The verifier
-- (eventstore/verify.py) recomputes exactly this in Python; mediaops_append spells the same text
-- out set-based for a whole batch.
CREATE FUNCTION mediaops_event_hash(
    prev bytea, stream text, version bigint, id uuid, kind text, schema integer,
    body jsonb, meta jsonb, at timestamptz
) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(prev || convert_to(concat_ws('|',
        stream, version::text, id::text, kind, schema::text, body::text, meta::text,
        (extract(epoch FROM at) * 1000000)::bigint::text), 'UTF8'))
$$;

-- Append a batch to one stream in a single round trip (a single event is appended by one plain
-- statement instead, see eventstore/store.py: cheaper than a function call). p_expected is the stream's current
-- version (0: the stream must not exist yet), or -1 for "any". A stale expectation raises
-- SQLSTATE MOC01; two writers racing for the same version meet at the unique constraint and
-- exactly one wins. Idempotent retries are recognised by the caller (see eventstore/store.py).
CREATE FUNCTION mediaops_append(
    p_stream text, p_expected bigint, p_ids uuid[], p_types text[], p_schemas integer[],
    p_data jsonb[], p_metadata jsonb[]
) RETURNS TABLE (out_position bigint, out_version bigint, out_transaction text)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(p_ids), 0);
    head bigint;
    last bytea;
    at timestamptz := now();
    contents bytea[];
    hashes bytea[];
    i integer;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    SELECT e.stream_version, e.hash INTO head, last
      FROM events e WHERE e.stream_id = p_stream ORDER BY e.stream_version DESC LIMIT 1;
    IF NOT FOUND THEN
        head := 0;
        last := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    END IF;
    IF p_expected >= 0 AND p_expected <> head THEN
        RAISE EXCEPTION 'stream % is at version %, not the expected %', p_stream, head, p_expected
            USING ERRCODE = 'MOC01';
    END IF;
    -- The hashed text of every event at once (set-based), then only the chain itself in the loop.
    SELECT array_agg(convert_to(concat_ws('|', p_stream, (head + u.ord)::text, u.id::text, u.kind,
                                          u.schema::text, u.body::text, u.meta::text,
                                          (extract(epoch FROM at) * 1000000)::bigint::text), 'UTF8')
                     ORDER BY u.ord)
      INTO contents
      FROM unnest(p_ids, p_types, p_schemas, p_data, p_metadata) WITH ORDINALITY AS u(id, kind, schema, body, meta, ord);
    hashes := array_fill(NULL::bytea, ARRAY[n + 1]);
    hashes[1] := last;
    FOR i IN 1..n LOOP
        hashes[i + 1] := sha256(hashes[i] || contents[i]);
    END LOOP;
    RETURN QUERY
    INSERT INTO events AS e (stream_id, stream_version, event_id, type, schema_version, data, metadata,
                             recorded_at, prev_hash, hash)
    SELECT p_stream, head + u.ord, u.id, u.kind, u.schema, u.body, u.meta, at, hashes[u.ord], hashes[u.ord + 1]
      FROM unnest(p_ids, p_types, p_schemas, p_data, p_metadata)
           WITH ORDINALITY AS u(id, kind, schema, body, meta, ord)
     ORDER BY u.ord
    RETURNING e.position, e.stream_version, e.transaction_id::text;
END
$$;

CREATE FUNCTION mediaops_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: % is not allowed on the event store', TG_OP
        USING ERRCODE = 'MOE01';
END
$$;

CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION mediaops_events_immutable();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION mediaops_events_immutable();

-- Projections keep their checkpoint here, updated in the same transaction as their read model.
CREATE TABLE projection_checkpoints (
    name            text PRIMARY KEY,
    transaction_id  xid8 NOT NULL DEFAULT '0'::xid8,
    position        bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A checkpoint only moves forward; the one way back is an explicit reset to 0 (a rebuild).
CREATE FUNCTION mediaops_checkpoint_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.transaction_id, NEW.position) < (OLD.transaction_id, OLD.position)
       AND NOT (NEW.transaction_id = '0'::xid8 AND NEW.position = 0) THEN
        RAISE EXCEPTION 'projection % checkpoint may not move backwards', OLD.name USING ERRCODE = 'MOP01';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER projection_checkpoint_forward BEFORE UPDATE ON projection_checkpoints
    FOR EACH ROW EXECUTE FUNCTION mediaops_checkpoint_forward();
