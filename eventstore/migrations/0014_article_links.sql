-- Which articles announce a promotion or write up an event (R-PROMO-3D, R-NEWS-3WD): the link is
-- on each article's `article.submitted` event, and an obligation's workflow finds its articles by
-- it (activities/announcements.py), also those submitted before the obligation existed.
CREATE INDEX events_promotion_links ON events ((data->>'promotion_id'), position)
    WHERE type = 'article.submitted' AND data->>'promotion_id' IS NOT NULL;
CREATE INDEX events_writeup_links ON events ((data->>'writeup_id'), position)
    WHERE type = 'article.submitted' AND data->>'writeup_id' IS NOT NULL;
