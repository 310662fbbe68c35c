//! What the relay sends: each websocket message read, size- and rate-checked, parsed, and
//! dispatched (EVENT to its subscription, EOSE to its walk, CLOSED to a retry, NOTICE and AUTH
//! counted); anything unreadable or out of place is a rejection.

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::session::Session;
use super::subscriptions::Role;
use super::End;
use crate::crawl::paging::Offer;
use crate::crawl::reason;
use crate::crawl::stats::RelayStats;
use crate::crawl::throttle::Take;
use crate::pipeline::Delivery;
use mintwatch_protocol::relay_message::{EventHead, RelayMessage, Unreadable};

impl Session<'_> {
    pub(super) async fn on_ws_message(&mut self, msg: Message) -> Result<(), End> {
        self.last_rx = Instant::now();
        RelayStats::bump(&self.task.stats.messages);
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(_) => return self.task.reject(reason::GARBAGE).await,
            Message::Close(_) => return Err(End::Error("closed by relay".into())),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Ok(()),
        };
        self.task
            .stats
            .bytes
            .fetch_add(text.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if let Take::Throttled {
            episode_start: true,
        } = self.task.throttle.take().await
        {
            tracing::warn!(relay = %self.task.url, "relay floods; throttling");
            self.task.reject(reason::FLOOD).await?;
        }
        let oversized = text.len() > self.cfg().max_message_bytes;
        let parsed = RelayMessage::parse(text.as_str());
        if oversized {
            // Still let the pager count it, so a refused event cannot end a walk early.
            if let Ok(RelayMessage::Event { sub, event }) = &parsed {
                if let (Some(s), Some(h)) = (self.subs.get(sub), EventHead::parse(event)) {
                    if let Role::Walk(wid) = s.role {
                        if s.matches(&h) {
                            if let Some(w) = self.walks.get_mut(&wid) {
                                w.pager.offer(h.id, h.created_at);
                            }
                        }
                    }
                }
            }
            return self.task.reject(reason::OVERSIZED).await;
        }
        match parsed {
            Err(Unreadable::Malformed | Unreadable::UnknownType) => {
                self.task.reject(reason::GARBAGE).await
            }
            Ok(RelayMessage::Event { sub, event }) => {
                let json: Box<str> = event.get().into();
                match EventHead::parse(event) {
                    Some(head) => self.on_event(&sub, head, json).await,
                    None => self.task.reject(reason::GARBAGE).await,
                }
            }
            Ok(RelayMessage::Eose(sub)) => self.on_eose(&sub).await,
            Ok(RelayMessage::Closed(sub, why)) => self.on_closed(sub, &why).await,
            Ok(RelayMessage::Notice(n)) => {
                RelayStats::bump(&self.task.stats.notices);
                tracing::info!(relay = %self.task.url, notice = %n, "NOTICE");
                Ok(())
            }
            Ok(RelayMessage::Auth) => {
                RelayStats::bump(&self.task.stats.auth_challenges);
                tracing::debug!(relay = %self.task.url, "AUTH challenge ignored (NIP-42 not used)");
                Ok(())
            }
            Ok(RelayMessage::Ignored) => Ok(()),
        }
    }

    pub(super) async fn on_event(
        &mut self,
        sub_id: &str,
        head: EventHead,
        json: Box<str>,
    ) -> Result<(), End> {
        let Some(sub) = self.subs.get_mut(sub_id) else {
            if self.closed_set.contains(sub_id) {
                // A late event of a subscription just closed: not the relay's fault.
                return Ok(());
            }
            return self.task.reject(reason::UNKNOWN_SUBSCRIPTION).await;
        };
        if !sub.matches(&head) {
            return self.task.reject(reason::FILTER_MISMATCH).await;
        }
        if let Some(d) = sub.deadline.as_mut() {
            *d = Instant::now() + self.task.cfg.page_timeout;
        }
        let filter = match sub.role {
            Role::Live(f) => f,
            Role::Walk(wid) => {
                let Some(walk) = self.walks.get_mut(&wid) else {
                    return Ok(());
                };
                match walk.pager.offer(head.id, head.created_at) {
                    Offer::Deliver => {
                        walk.delivered += 1;
                        walk.filter
                    }
                    Offer::Duplicate => {
                        RelayStats::bump(&self.task.stats.duplicates);
                        return Ok(());
                    }
                    Offer::OutOfRange => return self.task.reject(reason::FILTER_MISMATCH).await,
                }
            }
        };
        self.task.progress(filter).saw(head.created_at);
        RelayStats::bump(&self.task.stats.events);
        let relay = self.task.url.clone();
        self.task.emit(Delivery::Event { relay, json }).await
    }

    pub(super) async fn on_closed(&mut self, sub_id: String, why: &str) -> Result<(), End> {
        let Some(mut sub) = self.subs.remove(&sub_id) else {
            return Ok(());
        };
        self.live_mint_subs.retain(|id| *id != sub_id);
        self.remember_closed(sub_id);
        RelayStats::bump(&self.task.stats.closed);
        if why.starts_with("auth-required") {
            tracing::info!(relay = %self.task.url, "subscription needs NIP-42 AUTH, which crawl does not do");
        } else {
            tracing::warn!(relay = %self.task.url, reason = why, "subscription CLOSED by relay");
        }
        sub.closed_count += 1;
        let authors = sub.authors.is_some();
        if authors && !self.mint_authors_refused {
            // A relay that caps subscriptions refuses the author filters first: widening them
            // further would only be refused again, so this connection stops widening.
            self.mint_authors_refused = true;
            tracing::warn!(relay = %self.task.url, reason = why,
                "a mint-authors subscription was CLOSED; not widening mint-authors on this \
                 connection");
        }
        if sub.closed_count > self.cfg().closed_retries {
            if authors {
                // Refused for good: this relay is not asked for kind 1337 by these authors on
                // this connection, but the public filter and the connection stay.
                RelayStats::bump(&self.task.stats.author_filters_refused);
                if let Role::Walk(wid) = sub.role {
                    self.walks.remove(&wid);
                }
                self.update_state();
                return Ok(());
            }
            return Err(End::Error(format!("subscription refused: {why}")));
        }
        if let Role::Walk(wid) = sub.role {
            if let Some(w) = self.walks.get_mut(&wid) {
                w.pager.restart_request();
            }
        }
        let at = Instant::now() + self.cfg().closed_retry_delay * sub.closed_count;
        self.retries.push((at, sub));
        Ok(())
    }
}
