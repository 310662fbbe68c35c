//! mintwatch api
