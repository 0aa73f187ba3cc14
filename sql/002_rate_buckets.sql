-- One shared token bucket per (region, project): every worker process leases CBR call permits from it.
-- Times are the database's clock, the one clock every process agrees on.
CREATE TABLE rate_buckets (
    region            text             NOT NULL,
    project_id        text             NOT NULL,
    rate              double precision NOT NULL CHECK (rate > 0),   -- current adaptive rate, calls/s
    tokens            double precision NOT NULL,                    -- permits in the bucket at refilled_at
    refilled_at       timestamptz      NOT NULL,                    -- refill runs from here (never before blocked_until)
    blocked_until     timestamptz      NOT NULL DEFAULT 'epoch',     -- Retry-After of the last throttled answer
    last_decrease_at  timestamptz      NOT NULL DEFAULT 'epoch',     -- last multiplicative decrease (a 429)
    calm_since        timestamptz      NOT NULL DEFAULT 'epoch',     -- start of the current quiet period (last 429 or increase)
    throttled_count   bigint           NOT NULL DEFAULT 0,           -- 429 / APIG.0308 answers reported
    PRIMARY KEY (region, project_id)
);
