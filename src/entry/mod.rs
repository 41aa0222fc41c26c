//! The global traffic entry point: AWS Global Accelerator (default) or Route 53 failover records.
