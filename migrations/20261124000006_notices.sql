-- Users' addresses, recorded at sign-up with their first dashboard; and the emails LZStock
-- sends on its own, one per key ever (`welcome:<user>`, `filing:<owner>:<ticker>:<filing>`).
CREATE TABLE user_contacts (
    user_id     TEXT PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 255),
    address     TEXT NOT NULL CHECK (address LIKE '%_@_%' AND length(address) <= 254),
    name        TEXT NOT NULL DEFAULT '' CHECK (char_length(name) <= 200),
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE notices (
    key         TEXT PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 600),
    email_id    UUID NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- When a sender last claimed an email: a queued email whose attempts stopped (its event
-- dead-lettered after an outage) is announced again once this is old.
ALTER TABLE emails ADD COLUMN attempted_at TIMESTAMPTZ;
CREATE INDEX emails_stalled ON emails (attempted_at) WHERE status = 'queued';

CREATE INDEX dashboards_by_ticker ON dashboards USING GIN (tickers);
