-- The HTTP API's keys and idempotency records (sql/008_api.sql).

-- name: insert_api_key
INSERT INTO api_keys (key_id, name, secret_hash, projects, scopes) VALUES ($1, $2, $3, $4, $5);

-- name: api_key
SELECT key_id, name, secret_hash, projects, scopes, created_at, revoked_at FROM api_keys WHERE key_id = $1;

-- name: api_keys
SELECT key_id, name, secret_hash, projects, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id;

-- name: revoke_api_key
UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL RETURNING key_id;

-- name: ping
SELECT 1;

-- name: begin_idempotent
-- Record that (key, Idempotency-Key) is being accepted now; no row when a record is there already.
INSERT INTO idempotency_keys (key_id, idempotency_key, request_hash) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
RETURNING 1;

-- name: take_over_idempotent
-- A record still pending after $4 seconds was left by a request that never finished (its process died):
-- the request now presenting the key takes it over.
UPDATE idempotency_keys SET request_hash = $3, created_at = now()
 WHERE key_id = $1 AND idempotency_key = $2 AND status IS NULL AND created_at < now() - make_interval(secs => $4)
RETURNING 1;

-- name: idempotent_record
SELECT request_hash, status, response, location FROM idempotency_keys WHERE key_id = $1 AND idempotency_key = $2;

-- name: complete_idempotent
UPDATE idempotency_keys SET status = $3, response = $4, location = $5
 WHERE key_id = $1 AND idempotency_key = $2 AND status IS NULL;

-- name: abandon_idempotent
DELETE FROM idempotency_keys WHERE key_id = $1 AND idempotency_key = $2 AND status IS NULL;
