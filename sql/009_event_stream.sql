-- The event stream of the HTTP API (GET /v1/events): each outbox row gets a stream position once committed.
--
-- The outbox id is taken when a row is inserted, not when it commits: a transaction holding id 7 open while
-- id 8 commits would let a reader past 8 miss 7 for good. A sequencer (orchestrator/store/event_stream.py)
-- numbers the committed rows that have no position yet, in id order, inside a transaction holding
-- a transaction-level advisory lock: sequencers run one at a time, each one's numbers become visible
-- at once, and each takes greater numbers than the one before. So a reader that sees position N sees
-- every position below N, and resuming after N (Last-Event-ID) misses nothing.
CREATE SEQUENCE outbox_stream_seq AS bigint;

ALTER TABLE outbox ADD COLUMN stream_seq bigint UNIQUE;  -- the unique index is the readers' index

-- The rows the sequencer still has to number.
CREATE INDEX outbox_unsequenced ON outbox (id) WHERE stream_seq IS NULL;
