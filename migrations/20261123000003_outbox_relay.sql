-- The relay marks each row as soon as its own publish is acknowledged, so it needs no lock
-- across a publish: a short claim (claimed_until) keeps two relays from taking the same row
-- at once. A row that keeps failing while the broker answers waits between attempts
-- (next_attempt_at) and is parked after a bounded number of attempts, so it cannot hold
-- back the rows behind it. Published rows are pruned after a retention period.
ALTER TABLE outbox
    ADD COLUMN next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN claimed_until   TIMESTAMPTZ,
    ADD COLUMN parked_at       TIMESTAMPTZ,
    ADD COLUMN status          TEXT GENERATED ALWAYS AS (
        CASE
            WHEN published_at IS NOT NULL THEN 'published'
            WHEN parked_at IS NOT NULL THEN 'parked'
            ELSE 'pending'
        END
    ) STORED;

DROP INDEX outbox_unpublished;

-- The relay reads the oldest rows that are neither published nor parked.
CREATE INDEX outbox_pending ON outbox (created_at, id)
    WHERE published_at IS NULL AND parked_at IS NULL;

-- Pruning finds published rows by age.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
