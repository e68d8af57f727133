-- Platform callbacks seen, so a delivery WeChat repeats (it retries 3 times) starts nothing new.
CREATE TABLE inbound_callbacks (
    platform     text NOT NULL,
    account      text NOT NULL,
    dedupe_key   text NOT NULL,
    workflow_id  text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, account, dedupe_key)
);
