-- The transactional outbox: an event is written in the same transaction as the change it
-- announces, and a relay publishes it to JetStream afterwards (with the row's id as
-- Nats-Msg-Id, so a relay that crashes after publishing and publishes again is deduplicated
-- by the stream). An event is therefore never lost when NATS is down at commit time.
CREATE TABLE outbox (
    id              UUID PRIMARY KEY,
    subject         TEXT NOT NULL CHECK (length(subject) > 0),
    payload         JSONB NOT NULL,
    traceparent     TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at    TIMESTAMPTZ,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);

-- The relay reads the oldest unpublished events.
CREATE INDEX outbox_unpublished ON outbox (created_at, id) WHERE published_at IS NULL;
