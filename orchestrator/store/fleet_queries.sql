-- Fleet and admission SQL, each under a "-- name: <name>" header (tables: sql/003_fleet.sql).

-- name: lock_resources
INSERT INTO resource_locks (project_id, region, resource_id, workflow_id)
SELECT $1, $2, rid, $4 FROM unnest($3::text[]) AS rid ORDER BY rid
ON CONFLICT (project_id, region, resource_id) DO NOTHING;

-- name: locked_by_others
SELECT count(*) FROM resource_locks
 WHERE project_id = $1 AND region = $2 AND resource_id = ANY($3::text[]) AND workflow_id <> $4;

-- name: take_slot
WITH held AS (SELECT slot FROM admission_slots WHERE scope = $1 AND workflow_id = $2),
     taken AS (
        INSERT INTO admission_slots (scope, slot, workflow_id)
        SELECT $1, s, $2 FROM generate_series(0, $3 - 1) AS s
         WHERE NOT EXISTS (SELECT 1 FROM held)
           AND NOT EXISTS (SELECT 1 FROM admission_slots a WHERE a.scope = $1 AND a.slot = s)
         ORDER BY s
         LIMIT 1
        ON CONFLICT DO NOTHING
        RETURNING slot)
SELECT slot FROM held UNION ALL SELECT slot FROM taken;

-- name: insert_child
INSERT INTO workflows (id, command_id, kind, project_id, region, input, parent_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (command_id) DO NOTHING;

-- name: children_taken
-- Of the given child ids, those that are not this parent's children (another workflow holds the id).
SELECT c.command_id
  FROM unnest($2::uuid[], $3::text[]) AS c(id, command_id)
  LEFT JOIN workflows w ON w.command_id = c.command_id AND w.id = c.id AND w.parent_id = $1
 WHERE w.id IS NULL
 ORDER BY c.command_id;

-- name: children_counts
SELECT w.finished_at IS NOT NULL AS final,
       coalesce((w.state ->> 'admitted')::boolean, false) AS admitted,
       jsonb_array_length(w.input -> 'resources') AS resources,
       coalesce(r.by_status, '{}'::jsonb) AS by_status,
       coalesce(r.succeeded_gb, 0) AS succeeded_gb
  FROM workflows w
  LEFT JOIN LATERAL (
        SELECT jsonb_object_agg(status, n) AS by_status, sum(gb) FILTER (WHERE status = 'succeeded') AS succeeded_gb
          FROM (SELECT e ->> 'status' AS status, count(*) AS n, sum(coalesce((e ->> 'size_gb')::bigint, 0)) AS gb
                  FROM jsonb_array_elements(coalesce(w.result -> 'resources', '[]'::jsonb)) AS e
                 GROUP BY 1) per_status) r ON w.finished_at IS NOT NULL
 WHERE w.parent_id = $1;

-- name: children_results
SELECT input -> 'resources' AS wanted, coalesce(result -> 'resources', '[]'::jsonb) AS results,
       status, error_code, error_message
  FROM workflows
 WHERE parent_id = $1 AND finished_at IS NOT NULL
 ORDER BY command_id;

-- name: admission_holders
SELECT scope, count(*) AS n FROM admission_slots GROUP BY scope;

-- name: children_of
SELECT * FROM workflows WHERE parent_id = $1 ORDER BY command_id;
