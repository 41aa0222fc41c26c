//! Regional failover and failback: readiness, scale-up, traffic shift, verification, report.
