-- Workflows, their step history, the events outbox and per-resource exclusive locks.

CREATE TABLE workflows (
    id               uuid PRIMARY KEY,
    command_id       text NOT NULL UNIQUE,
    kind             text NOT NULL CHECK (kind IN ('backup', 'restore', 'replicate')),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'succeeded', 'partially_succeeded', 'failed', 'expired')),
    project_id       text NOT NULL,
    region           text NOT NULL,
    input            jsonb NOT NULL,
    state            jsonb NOT NULL DEFAULT '{}'::jsonb,
    result           jsonb,
    error_code       text,
    error_message    text,
    attempts         integer NOT NULL DEFAULT 0,
    lease_owner      text,
    lease_expires_at timestamptz,
    next_run_at      timestamptz NOT NULL DEFAULT now(),
    deadline         timestamptz,
    reply_to         text,
    correlation_id   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CHECK ((finished_at IS NULL) = (status IN ('pending', 'running')))
);

CREATE INDEX workflows_due ON workflows (next_run_at) WHERE finished_at IS NULL;
CREATE INDEX workflows_created ON workflows (created_at DESC);

CREATE TABLE steps (
    id            bigserial PRIMARY KEY,
    workflow_id   uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    worker        text NOT NULL,
    operation     text NOT NULL,
    request       jsonb,
    outcome       text NOT NULL
                  CHECK (outcome IN ('ok', 'retry_later', 'already_done', 'terminal', 'unknown')),
    response      jsonb,
    error_code    text,
    error_message text,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL
);

CREATE INDEX steps_workflow ON steps (workflow_id, id);

CREATE TABLE outbox (
    id             bigserial PRIMARY KEY,
    event_id       text NOT NULL UNIQUE,
    workflow_id    uuid REFERENCES workflows (id) ON DELETE CASCADE,
    routing_key    text NOT NULL,
    body           jsonb NOT NULL,
    reply_to       text,
    correlation_id text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz
);

CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- One active restore per target resource: the row exists while a workflow holds the resource.
CREATE TABLE resource_locks (
    project_id  text NOT NULL,
    region      text NOT NULL,
    resource_id text NOT NULL,
    workflow_id uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    locked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, region, resource_id)
);

CREATE FUNCTION cbr_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cbr_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION cbr_notify_outbox();

CREATE FUNCTION cbr_notify_workflows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cbr_workflows', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER workflows_notify AFTER INSERT ON workflows
    FOR EACH STATEMENT EXECUTE FUNCTION cbr_notify_workflows();
