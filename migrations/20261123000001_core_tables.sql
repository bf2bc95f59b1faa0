-- The core tables of LZStock (ARCHITECTURE.md §5). Constraints keep the data honest even
-- when a writer skips the domain's parsing: the database is the last line of defence.

CREATE TABLE companies (
    ticker      TEXT PRIMARY KEY
                CHECK (ticker ~ '^[A-Z0-9][A-Z0-9.\-]{0,9}$'),
    -- SEC Central Index Key, always stored zero-padded to ten digits.
    cik         CHAR(10) NOT NULL UNIQUE
                CHECK (cik ~ '^[0-9]{10}$'),
    name        TEXT NOT NULL CHECK (length(btrim(name)) > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE company_facts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticker          TEXT NOT NULL REFERENCES companies (ticker) ON DELETE CASCADE,
    -- XBRL concept in its taxonomy, e.g. us-gaap:Revenues.
    concept         TEXT NOT NULL CHECK (concept ~ '^[A-Za-z0-9\-]+:[A-Za-z0-9_]+$'),
    unit            TEXT NOT NULL CHECK (length(unit) > 0),
    period_start    DATE,
    period_end      DATE NOT NULL,
    fiscal_year     INTEGER NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 2200),
    fiscal_period   TEXT NOT NULL CHECK (fiscal_period IN ('FY', 'Q1', 'Q2', 'Q3', 'Q4', 'H1', 'H2')),
    form            TEXT NOT NULL CHECK (length(form) > 0),
    filed           DATE NOT NULL,
    accession       TEXT NOT NULL CHECK (accession ~ '^[0-9]{10}-[0-9]{2}-[0-9]{6}$'),
    value           NUMERIC NOT NULL,
    CHECK (period_start IS NULL OR period_start <= period_end),
    -- One value per concept, unit, period and filing; a re-scrape upserts onto it.
    UNIQUE NULLS NOT DISTINCT (ticker, concept, unit, period_start, period_end, accession)
);

CREATE INDEX company_facts_by_concept ON company_facts (ticker, concept, period_end DESC);

CREATE TABLE dashboards (
    id          UUID PRIMARY KEY,
    -- The JWT `sub` of the owner; identities live outside LZStock.
    owner_id    TEXT NOT NULL CHECK (length(owner_id) BETWEEN 1 AND 255),
    name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    tickers     TEXT[] NOT NULL CHECK (cardinality(tickers) BETWEEN 1 AND 50),
    indicators  TEXT[] NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Listing a user's dashboards newest first, paginated.
CREATE INDEX dashboards_by_owner ON dashboards (owner_id, created_at DESC, id);

CREATE TABLE emails (
    id              UUID PRIMARY KEY,
    from_address    TEXT NOT NULL CHECK (from_address LIKE '%_@_%'),
    to_addresses    TEXT[] NOT NULL CHECK (cardinality(to_addresses) >= 1),
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);

-- The exactly-once record: a handler's writes and this row commit in one transaction, so a
-- redelivered event finds its id here and is acknowledged without a second effect.
CREATE TABLE processed_events (
    handler         TEXT NOT NULL,
    event_id        TEXT NOT NULL CHECK (length(event_id) > 0),
    subject         TEXT NOT NULL,
    processed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (handler, event_id)
);
