//! Store: PostgreSQL through sqlx; one transaction per batch, bulk writes, idempotent.
