-- Emails as the notifications context keeps them: owned by a user, claimed for sending
-- under a lease (`sending`), searchable by full text. Nothing wrote this table before.
ALTER TABLE emails
    ADD COLUMN owner_id TEXT NOT NULL CHECK (length(owner_id) BETWEEN 1 AND 255),
    ADD COLUMN claimed_until TIMESTAMPTZ,
    DROP CONSTRAINT emails_status_check,
    ADD CONSTRAINT emails_status_check
        CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    ADD CONSTRAINT emails_recipients_count CHECK (cardinality(to_addresses) BETWEEN 1 AND 50),
    ADD CONSTRAINT emails_subject_length CHECK (char_length(subject) BETWEEN 1 AND 998),
    ADD CONSTRAINT emails_body_size CHECK (octet_length(body) <= 1048576),
    ADD CONSTRAINT emails_claim CHECK ((status = 'sending') = (claimed_until IS NOT NULL));

-- `array_to_string` is only STABLE (in general it formats values by settings); for text
-- it depends on nothing, which this wrapper declares so a generated column may use it.
CREATE FUNCTION email_recipients_text(addresses TEXT[]) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN array_to_string(addresses, ' ');

-- Subject first, then recipients, then the body (its first 64 KiB: a tsvector is capped at
-- 1 MB, and a body of 1 MiB could exceed it).
ALTER TABLE emails ADD COLUMN search TSVECTOR GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, subject), 'A')
    || setweight(to_tsvector('simple'::regconfig, email_recipients_text(to_addresses)), 'B')
    || setweight(to_tsvector('english'::regconfig, left(body, 65536)), 'C')
) STORED;

CREATE INDEX emails_search ON emails USING GIN (search);
CREATE INDEX emails_by_owner ON emails (owner_id, created_at DESC, id DESC);
