-- The coverage ledger (orchestrator/store/coverage.py, sql/013_coverage.sql).

-- name: coverage_cursor
SELECT newest_backup_at, full_pass_at FROM coverage_cursors WHERE project_id = $1;

-- name: coverage_save_cursor
INSERT INTO coverage_cursors (project_id, newest_backup_at, full_pass_at, refreshed_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (project_id) DO UPDATE
   SET newest_backup_at = excluded.newest_backup_at,
       full_pass_at = coalesce(excluded.full_pass_at, coverage_cursors.full_pass_at),
       refreshed_at = now();

-- name: coverage_forget_resources
DELETE FROM coverage_resources WHERE project_id = $1;

-- name: coverage_insert_resources
-- $2..$7: one array per column, one element per protectable ($7: the vault's tags as JSON text)
INSERT INTO coverage_resources (project_id, resource_id, resource_type, name, vault_id, vault_name, vault_tags)
SELECT $1, r.id, r.kind, r.name, r.vault_id, r.vault_name, r.tags::jsonb
  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
       AS r(id, kind, name, vault_id, vault_name, tags)
ON CONFLICT (project_id, resource_id) DO NOTHING;

-- name: coverage_forget_backups
DELETE FROM coverage_backups WHERE project_id = $1;

-- name: coverage_upsert_backups
-- keeps a resource's newest good backup: an older one listed again changes nothing
INSERT INTO coverage_backups (project_id, resource_id, backup_id, vault_id, created_at)
SELECT $1, b.resource_id, b.backup_id, b.vault_id, b.created_at
  FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS b(resource_id, backup_id, vault_id, created_at)
ON CONFLICT (project_id, resource_id) DO UPDATE
   SET backup_id = excluded.backup_id, vault_id = excluded.vault_id, created_at = excluded.created_at
 WHERE excluded.created_at > coverage_backups.created_at;

-- name: coverage_has_rows
SELECT EXISTS (SELECT 1 FROM coverage_resources);

-- name: coverage_entries
-- per protectable of the projects $1 (NULL: every project): its vault, the last good backup CBR listed and
-- the last one our workflows made (a "succeeded" resource of a finished backup, dated by its end); ages at
-- $2 (NULL: now)
WITH ours AS (
    SELECT w.project_id, e ->> 'resource_id' AS resource_id, max(w.finished_at) AS at
      FROM workflows w
     CROSS JOIN LATERAL jsonb_array_elements(coalesce(w.result -> 'resources', '[]'::jsonb)) AS e
     WHERE w.kind = 'backup' AND w.finished_at IS NOT NULL AND e ->> 'status' = 'succeeded'
       AND ($1::text[] IS NULL OR w.project_id = ANY($1::text[]))
     GROUP BY 1, 2)
SELECT r.project_id, r.resource_id, r.resource_type, r.name, r.vault_id, r.vault_name, r.vault_tags,
       b.backup_id, greatest(b.created_at, o.at) AS last_backup_at,
       extract(epoch FROM coalesce($2::timestamptz, now()) - greatest(b.created_at, o.at))::float8 AS age
  FROM coverage_resources r
  LEFT JOIN coverage_backups b ON b.project_id = r.project_id AND b.resource_id = r.resource_id
  LEFT JOIN ours o ON o.project_id = r.project_id AND o.resource_id = r.resource_id
 WHERE $1::text[] IS NULL OR r.project_id = ANY($1::text[])
 ORDER BY r.project_id, r.resource_id;

-- name: coverage_refresh_turn
-- the worker whose turn it is to refresh (orchestrator/engine/posture_loop.py), for the transaction
SELECT pg_try_advisory_xact_lock(1667396211);  -- "cbrs"

-- name: coverage_refreshed_since
SELECT EXISTS (SELECT 1 FROM coverage_cursors WHERE project_id = $1 AND refreshed_at > now() - make_interval(secs => $2));
