//! Serving nostr-relay-builder's `LocalRelay` on a listener of our own, with `TCP_NODELAY`.

use std::sync::{Arc, Mutex};

use nostr_relay_builder::LocalRelay;
use tokio::task::AbortHandle;

/// The connections being served, so a shutdown can close them. nostr-relay-builder's own
/// shutdown (`Notify::notify_waiters`) reaches only a connection waiting at that instant: one
/// busy sending a backfill misses it and stays open.
pub(crate) type Connections = Arc<Mutex<Vec<AbortHandle>>>;

/// Accepts the relay's connections with `TCP_NODELAY` set, then hands them to it.
///
/// nostr-relay-builder's own listener leaves Nagle's algorithm on. A request/answer exchange then
/// waits ≈ 40 ms per answer: the relay writes its `OK` to the requester, the requester delays its
/// ACK (it has nothing to send), and the answer written next sits in the relay's socket until
/// that ACK comes (docs/PERFORMANCE.md §5). Public relays set `TCP_NODELAY`; so do we.
pub(crate) async fn accept_nodelay(
    listener: tokio::net::TcpListener,
    relay: LocalRelay,
    connections: Connections,
) {
    while let Ok((mut stream, addr)) = listener.accept().await {
        let relay = relay.clone();
        let served = tokio::spawn(async move {
            if stream.set_nodelay(true).is_err() {
                return;
            }
            if websocket_handshake(&mut stream).await.is_ok() {
                let _ = relay.take_connection(stream, addr).await;
            }
        });
        if let Ok(mut open) = connections.lock() {
            open.retain(|c| !c.is_finished());
            open.push(served.abort_handle());
        }
    }
}

/// The server side of the WebSocket opening handshake (RFC 6455 §4.2): reads the client's
/// request (at most 16 KiB) and answers `101` with the accept key of its `Sec-WebSocket-Key`.
/// Clients send nothing more until they have the `101`, so nothing is read past the request.
async fn websocket_handshake(stream: &mut tokio::net::TcpStream) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
    let mut request = Vec::with_capacity(1_024);
    let mut chunk = [0u8; 1_024];
    while !request.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || request.len() + n > 16 * 1_024 {
            return Err(bad("no complete handshake request"));
        }
        request.extend_from_slice(&chunk[..n]);
    }
    let text = std::str::from_utf8(&request).map_err(|_| bad("handshake is not text"))?;
    let key = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, value)| value.trim())
        .ok_or_else(|| bad("no Sec-WebSocket-Key"))?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    stream.write_all(response.as_bytes()).await
}
