"""One adaptive rate limiter per (region, project) for every CBR call, shared by all worker processes.

The shared token bucket lives in PostgreSQL (``rate_buckets``); each process leases permits from it in
small batches and hands them out locally, so a CBR call costs a database round trip only once per batch.
A 429 / ``APIG.0308`` halves the shared rate and blocks every process until its ``Retry-After``; quiet
periods raise the rate again step by step (AIMD).
"""

from orchestrator.ratelimit.limiter import RateLimiters, SharedLimiter

__all__ = ["RateLimiters", "SharedLimiter"]
