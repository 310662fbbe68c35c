//! mintwatch indexer
