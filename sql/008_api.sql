-- The HTTP API's own state: its keys and the answers it gave under an Idempotency-Key.

-- A key is shown once when created; only its id and a SHA-256 of its secret are kept.
CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    name        text NOT NULL,
    secret_hash bytea NOT NULL,
    projects    text[] NOT NULL,              -- empty: every project
    scopes      text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- The first answer to a (key, Idempotency-Key): a repeat with the same body gets it again, one with
-- another body a 422, one while the first is still being accepted a 409.
CREATE TABLE idempotency_keys (
    key_id          text NOT NULL REFERENCES api_keys (key_id),
    idempotency_key text NOT NULL,
    request_hash    bytea NOT NULL,
    status          integer,                  -- NULL while the first request is being accepted
    response        jsonb,
    location        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, idempotency_key)
);

CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
