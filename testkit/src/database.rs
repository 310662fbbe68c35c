//! PostgreSQL for tests, benches and the demo: the server to use, a fresh migrated database per
//! test ([`TestDb`]), and creating or dropping a named database on the server of a URL.

use anyhow::Context;
use sqlx::Connection;

use mintwatch_store::Store;

/// The PostgreSQL server for tests, without a database name: `MINTWATCH_TEST_PG`, or the local
/// server with trust auth.
pub fn server_url() -> String {
    std::env::var("MINTWATCH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// The database `url` names, and a connection to the `postgres` database of the same server
/// (where databases are created and dropped). The name must be letters, digits and `_`, since it
/// is written into the SQL.
async fn admin_for(url: &str) -> anyhow::Result<(String, sqlx::PgConnection)> {
    let parsed = url::Url::parse(url).context("the database URL is not a URL")?;
    let name = parsed.path().trim_start_matches('/').to_string();
    anyhow::ensure!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database name {name:?} must be letters, digits and '_'"
    );
    let mut admin_url = parsed;
    admin_url.set_path("/postgres");
    let admin = sqlx::PgConnection::connect(admin_url.as_str())
        .await
        .context("cannot connect to the server's postgres database (is PostgreSQL running?)")?;
    Ok((name, admin))
}

/// Creates the database named in `url` if it does not exist; true if it was created.
pub async fn ensure_database(url: &str) -> anyhow::Result<bool> {
    let (name, mut admin) = admin_for(url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("cannot create database {name}"))?;
    }
    admin.close().await?;
    Ok(!exists)
}

/// Drops the database named in `url`, closing its connections; nothing if it does not exist.
pub async fn drop_database(url: &str) -> anyhow::Result<()> {
    let (name, mut admin) = admin_for(url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .with_context(|| format!("cannot drop database {name}"))?;
    admin.close().await?;
    Ok(())
}

/// A database created for one test and migrated; [`TestDb::drop`] removes it.
pub struct TestDb {
    /// The database name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// A migrated store on it.
    pub store: Store,
}

impl TestDb {
    /// Creates `mw_test_<random>` on [`server_url`] and migrates it.
    pub async fn new() -> TestDb {
        let name = format!("mw_test_{}", uuid::Uuid::new_v4().simple());
        let url = format!("{}/{name}", server_url());
        ensure_database(&url)
            .await
            .expect("create test database (is PostgreSQL running?)");
        let store = Store::connect(&url)
            .await
            .expect("connect to test database");
        store.migrate().await.expect("migrate");
        TestDb { name, url, store }
    }

    /// `SELECT count(*) FROM <table>`.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(self.store.pool())
            .await
            .expect("count")
    }

    /// Burn entries stored more than once (same event and position): 0 unless ingest duplicated.
    pub async fn duplicate_burns(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT event_id, pos FROM burns
                                    GROUP BY event_id, pos HAVING count(*) > 1) d",
        )
        .fetch_one(self.store.pool())
        .await
        .expect("duplicate burns")
    }

    /// Closes the store and drops the database.
    pub async fn drop(self) {
        self.store.close().await;
        drop_database(&self.url).await.expect("drop test database");
    }
}
