-- R-INQUIRY-12H: a user who writes again joins (or reopens) their latest inquiry, found by who wrote
-- where; the consultation record counts how often an inquiry was reopened.
ALTER TABLE inquiries
    ADD COLUMN kind     text NOT NULL DEFAULT 'message',
    ADD COLUMN reopened integer NOT NULL DEFAULT 0;
CREATE INDEX inquiries_conversation ON inquiries (platform, account, "user", updated_at DESC);
UPDATE inquiries SET kind = state->>'kind' WHERE state ? 'kind';
