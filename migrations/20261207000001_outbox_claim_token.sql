-- Several relays on one outbox: each claim writes a token of its own, and a relay settles
-- (marks published, charges an attempt, releases) only rows that still carry its token, so
-- a relay whose claim lapsed and was taken over changes nothing of the new holder's.
ALTER TABLE outbox ADD COLUMN claim_token uuid;
