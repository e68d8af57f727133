-- People who use MediaOps and the API tokens they authenticate with (R-ACCOUNTS, R-SECRETS).
-- Tokens are stored only as SHA-256 digests: a leaked table does not leak a usable token.
CREATE TABLE users (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9_.-]{2,64}$'),
    display_name  text NOT NULL,
    roles         text[] NOT NULL CHECK (cardinality(roles) > 0),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    token_sha256  bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id       text NOT NULL REFERENCES users (id),
    label         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz
);

CREATE INDEX api_tokens_user ON api_tokens (user_id);
