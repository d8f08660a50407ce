"""`make bench`: calls per invoice stage, backlog scaling, memory, limiter overhead, idle cost, latency
and cold start, measured on the local platform (see `__main__`)."""
