-- The obligations' read models, one row per process, rebuilt from the events: the promotion calendar
-- (R-PROMO-3D: announced on every required platform by `announce_by`) and the major events' write-ups
-- (R-NEWS-3WD: published everywhere by `due`). `state` is the whole folded state, each platform's
-- announcement or publication in it; the times are NULL while the state does not know them yet.
CREATE TABLE promotions (
    id           text PRIMARY KEY,          -- the stream `promotion-<id>` without its prefix
    name         text NOT NULL,
    status       text NOT NULL,             -- planned, announced, met, breached, cancelled
    compliance   text NOT NULL,             -- on_track, cannot_meet, met, breached, not_required, cancelled
    major        boolean NOT NULL,
    owner        text NOT NULL,
    starts_at    timestamptz,
    ends_at      timestamptz,
    announce_by  timestamptz,               -- the start less R-PROMO-3D's lead
    state        jsonb NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX promotions_starts_at ON promotions (starts_at);
CREATE INDEX promotions_status ON promotions (status);

CREATE TABLE writeups (
    id           text PRIMARY KEY,          -- the stream `writeup-<id>` without its prefix
    name         text NOT NULL,
    status       text NOT NULL,             -- open, published, met, breached
    owner        text NOT NULL,
    ends_at      timestamptz,
    due          timestamptz,               -- NULL until the calendar answers (again, after a corrected end)
    due_flagged  boolean NOT NULL,          -- the due time is a guess: a year China's calendar is not known for
    state        jsonb NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX writeups_ends_at ON writeups (ends_at);
CREATE INDEX writeups_status ON writeups (status);

-- What articles and inquiries get (0008): upserted by their projections, emptied by TRUNCATE for a
-- rebuild. Said here too, not left to 0008's default privileges, which hold only for tables the
-- role that ran 0008 creates.
REVOKE ALL ON promotions, writeups FROM mediaops_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON promotions, writeups TO mediaops_app;
