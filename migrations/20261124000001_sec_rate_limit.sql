-- One request budget for every scraper process and Lambda instance at once: SEC's fair
-- access policy counts requests per caller, however many machines it uses. Each request
-- reserves the next free slot (next_slot advances by one interval per request, on the
-- database's clock), so requests are spaced evenly across the fleet, never in bursts. A
-- block reported by SEC sets paused_until, and no slot is handed out before it.
CREATE TABLE request_budgets (
    name          TEXT PRIMARY KEY CHECK (length(name) > 0),
    next_slot     TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    paused_until  TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    pause_reason  TEXT
);
