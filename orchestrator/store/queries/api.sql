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
