-- Protection posture (orchestrator/engine/posture.py): the state each protectable was last seen in, so that
-- a change of state is told once (a posture.* event in the outbox, written in the same transaction) even
-- across restarts and with several workers; and the staleness episode whose backup command was submitted,
-- so that a resource gets one backup command per episode whoever refreshes.

-- the tags of the vault a protectable is bound to, as the protectable listing shows them ({key: value}):
-- RPO selectors may name them
ALTER TABLE coverage_resources ADD COLUMN vault_tags jsonb;

CREATE TABLE posture_states (
    project_id    text NOT NULL,
    resource_id   text NOT NULL,
    state         text NOT NULL CHECK (state IN ('ok', 'stale', 'never', 'unprotected')),
    episode       integer NOT NULL DEFAULT 0,  -- staleness episodes begun: each entry into stale or never from ok, unprotected or unseen
    acted_episode integer NOT NULL DEFAULT 0,  -- the last episode a backup command was submitted for
    changed_at    timestamptz NOT NULL,
    PRIMARY KEY (project_id, resource_id)
);

-- the resources still waiting for their episode's backup command (stale → act)
CREATE INDEX posture_to_act ON posture_states (project_id) WHERE acted_episode < episode;
