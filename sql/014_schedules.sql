-- Scheduled fleets (orchestrator/schedules): a fleet_backup command template submitted at each occurrence
-- of an RRULE, under a command id derived from the schedule's id and the occurrence.
-- last_occurrence: the newest occurrence dealt with (run, or left as beyond the catch-up window); the next
-- tick looks only after it (after created_at before any). last_skipped: occurrences passed over then.
CREATE TABLE schedules (
    id               uuid PRIMARY KEY,
    name             text NOT NULL UNIQUE,
    rrule            text NOT NULL,
    time_zone        text NOT NULL,
    dtstart          timestamptz NOT NULL,
    template         jsonb NOT NULL,
    enabled          boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_occurrence  timestamptz,
    last_command_id  text,
    last_skipped     integer NOT NULL DEFAULT 0,
    last_refusal     text,
    last_run_at      timestamptz
);
