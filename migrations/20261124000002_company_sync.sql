-- SEC lists one CIK under several tickers (share classes: GOOG and GOOGL, BRK-A and BRK-B),
-- so a CIK identifies the filer, not one company row.
ALTER TABLE companies DROP CONSTRAINT companies_cik_key;
CREATE INDEX companies_by_cik ON companies (cik);

-- Where each company's sync stands: the newest filing whose facts are stored (a company
-- whose submissions show nothing newer is skipped without fetching its facts), the last
-- success, and the last failure with its reason.
CREATE TABLE company_syncs (
    ticker          TEXT PRIMARY KEY REFERENCES companies (ticker) ON DELETE CASCADE,
    last_accession  TEXT CHECK (last_accession ~ '^[0-9]{10}-[0-9]{2}-[0-9]{6}$'),
    last_filed      DATE,
    synced_at       TIMESTAMPTZ,
    last_error      TEXT,
    failed_at       TIMESTAMPTZ
);
