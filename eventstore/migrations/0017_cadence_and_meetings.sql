-- Cadence, the department's register, approvals, and the meeting reports: read models rebuilt from
-- the events (R-CADENCE-*, R-FIXED-MONTHLY, R-KPI, R-WEEKLY, R-MONTHLY).

-- Each article's publications, found by platform: a cadence period counts the posts published
-- on its platform in it (activities/cadence.py); the time is in the event's body.
CREATE INDEX events_publications ON events ((data->>'platform'), position)
    WHERE type = 'article.publication_recorded' AND data->'outcome'->>'state' = 'published';

-- One row per cadence period (`cadence-<subject>-<period>`), its state folded as the workflow does.
CREATE TABLE cadence_periods (
    id          text PRIMARY KEY,             -- the stream id without `cadence-`
    rule        text NOT NULL,
    subject     text NOT NULL,
    platform    text NOT NULL,
    kind        text NOT NULL,                -- day, week, month
    period      text NOT NULL,                -- 2026-11-30, 2026-W48, 2026-11
    first_day   date NOT NULL,
    status      text NOT NULL,                -- open, at_risk, met, missed, not_owed
    count       integer NOT NULL,
    target      integer NOT NULL,
    owner       text,
    closes_at   timestamptz NOT NULL,
    state       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cadence_periods_first_day ON cadence_periods (first_day);

-- The register (stream `department`): who owns each subject from which day, the fixed columns,
-- the meetings' action items. Each row names the event it comes from (`position`).
CREATE TABLE owner_assignments (
    position    bigint PRIMARY KEY,
    subject     text NOT NULL,
    "user"      text NOT NULL,
    starts_on   date NOT NULL,
    assigned_by text NOT NULL,
    assigned_at timestamptz NOT NULL
);
CREATE INDEX owner_assignments_subject ON owner_assignments (subject, starts_on);

CREATE TABLE columns (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    platform    text NOT NULL,
    declared_at timestamptz NOT NULL,
    retired_at  timestamptz
);

CREATE TABLE action_items (
    id          text PRIMARY KEY,
    report_id   text NOT NULL,
    text        text NOT NULL,
    owner       text NOT NULL,
    due         date NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL,
    done_at     timestamptz,
    done_by     text,
    position    bigint NOT NULL
);
CREATE INDEX action_items_report ON action_items (report_id);

-- Each approval an article asked for: of which role, when, who decided, how, and whether it had
-- to be escalated (P-APPROVAL-REMIND): what R-KPI counts for the approvers.
CREATE TABLE approvals (
    article_id   text NOT NULL,
    version      integer NOT NULL,
    role         text NOT NULL,
    requested_at timestamptz NOT NULL,
    requested_position bigint NOT NULL,
    decided_by   text,
    decided_at   timestamptz,
    outcome      text,                        -- approved, changes_requested, rejected
    escalated    boolean NOT NULL DEFAULT false,
    decided_position bigint,
    PRIMARY KEY (article_id, version, role)
);
CREATE INDEX approvals_requested_at ON approvals (requested_at);

-- The meeting reports made, each edition with its whole canonical body and digest.
CREATE TABLE meeting_reports (
    id          text PRIMARY KEY,
    kind        text NOT NULL,                -- weekly, monthly, quarterly
    period      text NOT NULL,
    as_of       timestamptz NOT NULL,
    partial     boolean NOT NULL,
    digest      text NOT NULL,
    stream_id   text NOT NULL,
    position    bigint NOT NULL,
    body        jsonb NOT NULL
);
CREATE INDEX meeting_reports_period ON meeting_reports (kind, period, as_of);

REVOKE ALL ON cadence_periods, owner_assignments, columns, action_items, approvals, meeting_reports
    FROM mediaops_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
    ON cadence_periods, owner_assignments, columns, action_items, approvals, meeting_reports TO mediaops_app;
