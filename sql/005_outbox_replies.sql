-- The relay tracks an event's two publications apart: to the events exchange (published_at) and to its
-- reply_to queue (the reply_* columns), so a reply that fails can neither block nor repeat the event.
-- A reply is retried a bounded number of times, then parked with its error: it is no longer pending.

ALTER TABLE outbox
    ADD COLUMN replied_at      timestamptz,                -- the broker confirmed the routed reply
    ADD COLUMN reply_attempts  integer NOT NULL DEFAULT 0, -- publications of the reply tried so far
    ADD COLUMN reply_error     text,                       -- why the last attempt failed
    ADD COLUMN reply_retry_at  timestamptz,                -- not tried again before this
    ADD COLUMN reply_parked_at timestamptz;                -- given up: no more attempts

-- Until now the relay published an event and its reply together, marking the row once both were confirmed.
UPDATE outbox SET replied_at = published_at WHERE reply_to IS NOT NULL AND published_at IS NOT NULL;

-- The rows the relay still has work on; its claim query names this predicate word for word.
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_pending ON outbox (id)
    WHERE published_at IS NULL OR (reply_to IS NOT NULL AND replied_at IS NULL AND reply_parked_at IS NULL);
