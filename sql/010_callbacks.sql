-- Callbacks: the final event of a workflow whose command named a callback_url, to be POSTed there.
--
-- A row is written by a trigger on the outbox, so it is in the transaction that writes the final event
-- whichever statement writes it (a run's finishing write, or the bulk finish of cancelled or expired
-- workflows): no event with a callback can be committed without its delivery row. The deliverer claims
-- due rows by pushing next_attempt_at past its request's timeout (a lease: a crash mid-delivery only
-- delays the next attempt), then records the answer.
CREATE TABLE callbacks (
    id              bigserial PRIMARY KEY,
    event_id        text NOT NULL UNIQUE REFERENCES outbox (event_id) ON DELETE CASCADE,
    workflow_id     uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    url             text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,      -- requests tried so far
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,                            -- why the last attempt failed (never a secret)
    delivered_at    timestamptz,                     -- the receiver answered 2xx
    given_up_at     timestamptz                      -- expired, or its host is no longer allowed
);

-- The rows the deliverer still has work on; its claim query names this predicate word for word.
CREATE INDEX callbacks_pending ON callbacks (next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;

CREATE FUNCTION cbr_callback_of_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callbacks (event_id, workflow_id, url)
    SELECT NEW.event_id, w.id, w.input ->> 'callback_url'
      FROM workflows w
     WHERE w.id = NEW.workflow_id
       AND w.input ->> 'callback_url' IS NOT NULL
       AND NEW.routing_key NOT LIKE '%.progress';
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_callback AFTER INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION cbr_callback_of_event();
