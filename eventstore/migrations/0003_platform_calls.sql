-- At most once: every call that may publish or send something is claimed here before it is made.
-- A second attempt finds the claim: the recorded outcome if the call finished, "unknown" (for a
-- person to resolve) if it was interrupted after it may have reached the platform.
CREATE TABLE platform_calls (
    key           text PRIMARY KEY,
    platform      text NOT NULL,
    account       text NOT NULL,
    operation     text NOT NULL CHECK (operation IN ('publish', 'reply')),
    workflow_id   text,
    run_id        text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    outcome       jsonb,
    handle        text
);

-- Platform callbacks (WeChat's PUBLISHJOBFINISH) find the workflow waiting on a publication.
CREATE INDEX platform_calls_handle ON platform_calls (platform, handle) WHERE handle IS NOT NULL;
