-- The console's sign-in (R-SECRETS): a password per person, stored only as an argon2id hash; the
-- failed sign-ins per username that lock it for a while; and sessions, stored only as the SHA-256
-- of their cookie, each with the CSRF token its forms must carry.
ALTER TABLE users
    ADD COLUMN password_hash text,            -- argon2id (PHC string); NULL: no console sign-in
    ADD COLUMN password_changed_at timestamptz;

-- Keyed by the username typed, known or not, so the answer never tells whether a user exists.
CREATE TABLE login_throttle (
    username          text PRIMARY KEY CHECK (length(username) <= 64),
    failures          integer NOT NULL CHECK (failures >= 0),
    first_failure_at  timestamptz NOT NULL,
    locked_until      timestamptz
);

CREATE TABLE console_sessions (
    token_sha256  bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id       text NOT NULL REFERENCES users (id),
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,           -- created_at + R-SECRETS.session_at_most
    ended_at      timestamptz
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle, console_sessions TO mediaops_app;
