//! The multi-region CloudWatch dashboard: body built from typed structs, created, shown, deleted.
