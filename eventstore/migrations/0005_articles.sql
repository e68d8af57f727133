-- The articles read model (lists, dashboards): one row per article, rebuilt from the events.
CREATE TABLE articles (
    id               text PRIMARY KEY,
    status           text NOT NULL,
    version          integer NOT NULL,
    waiting_on_role  text,
    author           text NOT NULL,
    title            text NOT NULL,
    platforms        text[] NOT NULL,
    state            jsonb NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX articles_status ON articles (status);
