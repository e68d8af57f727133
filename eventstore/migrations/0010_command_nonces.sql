-- A person's signed command is used once (R-ACCOUNTABLE): the nonce of each accepted command is
-- kept while a command could still be presented (R-ACCOUNTABLE.commands_valid_for), then pruned.
-- `claimed_by` is the activity that used it, so that activity's own retry is not taken for a replay.
CREATE TABLE command_nonces (
    nonce       text PRIMARY KEY CHECK (length(nonce) BETWEEN 16 AND 64),
    process     text NOT NULL,
    claimed_by  text NOT NULL,
    used_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX command_nonces_used_at ON command_nonces (used_at);
