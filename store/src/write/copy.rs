//! The binary `COPY` format, for the rows that are written in bulk and cannot exist yet.

use sqlx::postgres::PgCopyIn;
use sqlx::PgConnection;

use crate::StoreError;

/// The body of a `COPY ... FROM STDIN (FORMAT binary)`: the hot tables (burns and issued
/// signatures, 100k+ rows a second) are written this way, where COPY's lower per-row cost over
/// `INSERT ... SELECT UNNEST` shows.
pub(super) struct BinaryCopy {
    pub(super) buf: Vec<u8>,
}

impl BinaryCopy {
    pub(super) fn with_capacity(rows: usize, row_bytes: usize) -> Self {
        let mut buf: Vec<u8> = Vec::with_capacity(21 + rows * row_bytes);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        Self { buf }
    }

    /// Starts a row of `fields` fields.
    pub(super) fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    /// One field, in the column type's binary form. Fields are at most one event's JSON, which
    /// the protocol caps far below `i32::MAX` bytes.
    pub(super) fn field(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    /// A field that may be NULL.
    pub(super) fn optional_field(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            Some(bytes) => self.field(bytes),
            None => self.buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// Ends the rows (the binary format's trailer).
    pub(super) fn end(&mut self) {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
    }

    /// Sends the rows with `statement` (a `COPY ... FROM STDIN (FORMAT binary)`).
    pub(super) async fn send(
        mut self,
        conn: &mut PgConnection,
        statement: &str,
    ) -> Result<(), StoreError> {
        self.end();
        let copy = send_piece(conn.copy_in_raw(statement).await?, self.buf).await?;
        copy.finish().await?;
        Ok(())
    }
}

/// Sends one piece of a `COPY`'s data. On failure the `COPY` is aborted, so the connection
/// leaves COPY mode (the transaction rolls back either way).
pub(super) async fn send_piece(
    mut copy: PgCopyIn<&mut PgConnection>,
    piece: Vec<u8>,
) -> Result<PgCopyIn<&mut PgConnection>, StoreError> {
    if let Err(e) = copy.send(piece).await {
        let _ = copy.abort(e.to_string()).await;
        return Err(e.into());
    }
    Ok(copy)
}
