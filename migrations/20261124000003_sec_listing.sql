-- When SEC's ticker map was last fetched: it is refreshed at most daily.
CREATE TABLE sec_listing (
    id          BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    fetched_at  TIMESTAMPTZ NOT NULL
);
