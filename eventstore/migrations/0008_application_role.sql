-- Least privilege: the worker and the API connect as `mediaops_app`, which can append and read events
-- but never rewrite them. It may not UPDATE, DELETE or TRUNCATE events, and it owns nothing, so it
-- cannot disable or drop the immutability triggers either (that takes the table's owner). The owner,
-- who runs this and every migration, is the embedded server's superuser, or the operator's role
-- (DATABASE_ADMIN_URL).
--
-- The role is cluster-wide and its password is not the schema's business: `mediaops up` creates it
-- with a generated password before migrating, an operator creates it on an external server
-- (CREATE ROLE mediaops_app LOGIN PASSWORD '...'). If it is still missing here it is created
-- NOLOGIN, so these grants hold whenever it is given a password later.
DO $$
BEGIN
    IF current_user = 'mediaops_app' THEN
        RAISE EXCEPTION 'migrations run as the schema''s owner, not as the application role mediaops_app'
            USING HINT = 'run `mediaops migrate` with DATABASE_ADMIN_URL set to the owner''s URL';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mediaops_app') THEN
        BEGIN
            CREATE ROLE mediaops_app NOLOGIN;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'the application role mediaops_app does not exist, and % may not create it',
                current_user
                USING HINT = 'CREATE ROLE mediaops_app LOGIN PASSWORD ''...'' as a role with CREATEROLE, then migrate again';
        END;
    END IF;
    IF (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'mediaops_app') THEN
        RAISE EXCEPTION 'mediaops_app is a superuser or bypasses row security: it must be an ordinary role';
    END IF;
    IF pg_has_role('mediaops_app', current_user, 'USAGE') THEN
        RAISE EXCEPTION 'mediaops_app is a member of the owner %, so it would hold the owner''s rights', current_user;
    END IF;
END
$$;

-- PostgreSQL before 15 lets every role create tables in public, and the creator owns what it creates.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO mediaops_app;

-- Exactly what the code runs (eventstore/, activities/, api/), whatever an operator granted before.
REVOKE ALL ON events, projection_checkpoints, articles, inquiries, platform_calls, inbound_callbacks,
    users, api_tokens, schema_migrations FROM mediaops_app;
REVOKE ALL ON SEQUENCE events_position_seq FROM mediaops_app;

-- The event store: append (one INSERT, or mediaops_append for a batch) and read, nothing else.
GRANT SELECT, INSERT ON events TO mediaops_app;
GRANT USAGE ON SEQUENCE events_position_seq TO mediaops_app;
GRANT EXECUTE ON FUNCTION
    mediaops_append(text, bigint, uuid[], text[], integer[], jsonb[], jsonb[]),
    mediaops_event_hash(bytea, text, bigint, uuid, text, integer, jsonb, jsonb, timestamptz)
    TO mediaops_app;

-- Projections: a checkpoint row per projection, moved forward under a row lock (FOR UPDATE needs
-- UPDATE); read models upserted, and emptied by TRUNCATE for a rebuild.
GRANT SELECT, INSERT, UPDATE ON projection_checkpoints TO mediaops_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON articles, inquiries TO mediaops_app;

-- At most once: a claim is inserted, finished, or released (deleted) while it is unfinished.
GRANT SELECT, INSERT, UPDATE, DELETE ON platform_calls TO mediaops_app;
GRANT SELECT, INSERT ON inbound_callbacks TO mediaops_app;

-- People and tokens: upserted users (`mediaops users add`, demo users), tokens issued and revoked.
GRANT SELECT, INSERT, UPDATE ON users, api_tokens TO mediaops_app;

-- The worker checks that the schema is the code's before it starts (eventstore/migrate.py).
GRANT SELECT ON schema_migrations TO mediaops_app;

-- Tables and sequences later migrations create (as this same owner) are read-model-like by default:
-- rows are written, changed and removed, and a rebuild empties the table. A later append-only table
-- says so itself: REVOKE UPDATE, DELETE, TRUNCATE ON that_table FROM mediaops_app.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO mediaops_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO mediaops_app;
