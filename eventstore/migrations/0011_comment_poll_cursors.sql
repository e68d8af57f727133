-- How far each account's comment poll has read (H10): the next poll starts from the last one that
-- succeeded, so a worker outage longer than the interval loses no comment.
CREATE TABLE comment_poll_cursors (
    platform   text NOT NULL,
    account    text NOT NULL,
    polled_to  timestamptz NOT NULL,
    PRIMARY KEY (platform, account)
);
