-- Scraper runs, so one schedule fire delivered twice is done once and a run cut off is
-- resumed: one row per run (held by one invocation at a time through a lease), each
-- company's outcome as it finishes, and the companies runs left undone, which the next
-- run does first.
CREATE TABLE scrape_runs (
    id          TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    held_until  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    report      JSONB,
    CHECK ((finished_at IS NULL) = (report IS NULL))
);

CREATE INDEX scrape_runs_finished_at ON scrape_runs (finished_at)
    WHERE finished_at IS NOT NULL;

CREATE TABLE scrape_run_companies (
    run_id      TEXT NOT NULL REFERENCES scrape_runs (id) ON DELETE CASCADE,
    ticker      TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('synced', 'unchanged', 'skipped', 'failed')),
    reason      TEXT CHECK ((outcome = 'failed') = (reason IS NOT NULL)),
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, ticker)
);

CREATE TABLE scrape_owed (
    ticker      TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL,
    since       TIMESTAMPTZ NOT NULL DEFAULT now()
);
