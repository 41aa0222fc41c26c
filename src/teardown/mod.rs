//! Teardown: everything the app created, removed in dependency order, then verified gone.
