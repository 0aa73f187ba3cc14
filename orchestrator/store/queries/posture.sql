-- Protection posture (orchestrator/store/posture.py, sql/016_posture.sql).

-- name: posture_lock
-- one recorder per project at a time (the worker's loop, a `coverage --refresh`), for the transaction
SELECT pg_advisory_xact_lock(hashtextextended('posture:' || $1, 0));

-- name: posture_known
SELECT resource_id, state, episode, acted_episode FROM posture_states WHERE project_id = $1;

-- name: posture_save_changes
-- $2..$4: one array per column, one element per resource whose state changed; $5: when
INSERT INTO posture_states (project_id, resource_id, state, episode, changed_at)
SELECT $1, c.resource_id, c.state, c.episode, $5
  FROM unnest($2::text[], $3::text[], $4::int[]) AS c(resource_id, state, episode)
ON CONFLICT (project_id, resource_id) DO UPDATE
   SET state = excluded.state, episode = excluded.episode, changed_at = excluded.changed_at;

-- name: posture_forget_gone
-- the resources CBR no longer lists ($2: those it lists)
DELETE FROM posture_states
 WHERE project_id = $1 AND resource_id NOT IN (SELECT unnest($2::text[]));

-- name: posture_insert_events
-- $1..$3: one array per column; bodies as JSON text
INSERT INTO outbox (event_id, routing_key, body)
SELECT e.event_id, e.routing_key, e.body::jsonb
  FROM unnest($1::text[], $2::text[], $3::text[]) AS e(event_id, routing_key, body)
ON CONFLICT (event_id) DO NOTHING;

-- name: posture_to_act
-- the resources out of their RPO in a vault whose episode has no backup command yet, never backed up first
SELECT p.resource_id, p.episode, p.state, r.resource_type, r.vault_id
  FROM posture_states p
  JOIN coverage_resources r ON r.project_id = p.project_id AND r.resource_id = p.resource_id
 WHERE p.project_id = $1 AND p.acted_episode < p.episode AND p.state IN ('stale', 'never')
   AND r.vault_id IS NOT NULL
 ORDER BY p.state = 'never' DESC, p.changed_at, p.resource_id
 LIMIT $2;

-- name: posture_mark_acted
UPDATE posture_states SET acted_episode = greatest(acted_episode, $3)
 WHERE project_id = $1 AND resource_id = $2;

-- name: posture_states_of
SELECT resource_id, state, episode, acted_episode FROM posture_states WHERE project_id = $1 ORDER BY resource_id;
