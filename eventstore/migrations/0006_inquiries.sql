-- The inquiries read model and consultation record (R-INQUIRY-12H: 咨询数据).
CREATE TABLE inquiries (
    id           text PRIMARY KEY,
    platform     text NOT NULL,
    account      text NOT NULL,
    "user"       text NOT NULL,
    status       text NOT NULL,
    received_at  timestamptz,
    deadline     timestamptz,
    answered_at  timestamptz,
    within_sla   boolean,
    assignee     text,
    state        jsonb NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inquiries_status ON inquiries (status, deadline);
