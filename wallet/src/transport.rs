//! nostr-sdk's WebSocket transport with Nagle's algorithm off.
//!
//! An NMC call writes three small frames in a row (the answer's REQ, the request, then CLOSE),
//! and the next call's REQ follows the last CLOSE at once. With Nagle on, that REQ waits for the
//! relay to acknowledge the CLOSE, which a relay with nothing to send back delays by its delayed
//! ACK (40 ms on Linux): `docs/PERFORMANCE.md` §9 measured 35 ms of every `checkstate` round
//! trip spent there. Proxied and Tor connections keep nostr-sdk's own transport.

use std::time::Duration;

use async_wsocket::Message;
use futures::{future, SinkExt, StreamExt};
use nostr_sdk::pool::transport::error::TransportError;
use nostr_sdk::pool::transport::websocket::{
    DefaultWebsocketTransport, WebSocketSink, WebSocketStream, WebSocketTransport,
};
use nostr_sdk::pool::ConnectionMode;
use nostr_sdk::util::BoxedFuture;
use nostr_sdk::Url;
use tokio_tungstenite::tungstenite::Message as Frame;

/// Direct connections with `TCP_NODELAY`; anything else through nostr-sdk's default.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDelayTransport;

impl WebSocketTransport for NoDelayTransport {
    fn support_ping(&self) -> bool {
        true
    }

    fn connect<'a>(
        &'a self,
        url: &'a Url,
        mode: &'a ConnectionMode,
        timeout: Duration,
    ) -> BoxedFuture<'a, Result<(WebSocketSink, WebSocketStream), TransportError>> {
        Box::pin(async move {
            if !matches!(mode, ConnectionMode::Direct) {
                return DefaultWebsocketTransport.connect(url, mode, timeout).await;
            }
            let connecting = tokio_tungstenite::connect_async_with_config(url.as_str(), None, true);
            let (socket, _) = tokio::time::timeout(timeout, connecting)
                .await
                .map_err(|_| {
                    TransportError::backend(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no connection to {url} within {timeout:?}"),
                    ))
                })?
                .map_err(TransportError::backend)?;
            let (tx, rx) = socket.split();
            let sink = tx
                .sink_map_err(TransportError::backend)
                .with(|m: Message| future::ready(Ok::<Frame, TransportError>(Frame::from(m))));
            let stream = rx.filter_map(|frame| {
                future::ready(match frame {
                    Ok(frame) => to_message(frame).map(Ok),
                    Err(e) => Some(Err(TransportError::backend(e))),
                })
            });
            Ok((
                Box::new(sink) as WebSocketSink,
                Box::pin(stream) as WebSocketStream,
            ))
        })
    }
}

/// A frame read from the socket as nostr-sdk's message (raw frames never come from a read).
fn to_message(frame: Frame) -> Option<Message> {
    Some(match frame {
        Frame::Text(text) => Message::Text(text.to_string()),
        Frame::Binary(data) => Message::Binary(data.to_vec()),
        Frame::Ping(data) => Message::Ping(data.to_vec()),
        Frame::Pong(data) => Message::Pong(data.to_vec()),
        Frame::Close(frame) => Message::Close(frame.map(Into::into)),
        Frame::Frame(_) => return None,
    })
}
