-- Each signed callback's (timestamp, nonce), so one signature is accepted once: a query string that
-- leaks (a proxy's access log, an APM trace, a Referer) cannot carry a forged body while it is
-- still fresh. In PostgreSQL, not in memory, so every API process refuses what any of them took.
-- The API deletes the pairs too old to pass its freshness check as it inserts new ones (it needs
-- INSERT, SELECT and DELETE here, nothing else).
CREATE TABLE callback_nonces (
    platform   text NOT NULL,
    account    text NOT NULL,
    signed_at  bigint NOT NULL,  -- the callback's `timestamp`, seconds since the epoch
    nonce      text NOT NULL CHECK (length(nonce) BETWEEN 1 AND 64),
    PRIMARY KEY (platform, account, signed_at, nonce)
);

CREATE INDEX callback_nonces_signed_at ON callback_nonces (signed_at);
