//! `/`: the directory. A search form (text, unit, NUT, network, identity, minimum rank, findings,
//! sort) over [`read::search_mints`], one card per mint with its findings by type
//! ([`read::mint_cores`] of the page's mints), and keyset paging by the API's cursor.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use mintwatch_protocol::output::query::{DirectoryQuery, Sort};
use mintwatch_protocol::{IdentityLevel, MintKey, Network, Unit};

use super::layout::{page as frame, rank_bar, Nav};
use super::{format, html as respond, WebError};
use crate::http::ApiState;
use crate::read::{self, MintSummary};

/// The form's fields as the browser sends them (empty strings for untouched fields).
#[derive(Debug, Default, Deserialize)]
pub struct DirectoryForm {
    q: Option<String>,
    unit: Option<String>,
    nut: Option<String>,
    network: Option<String>,
    identity: Option<String>,
    min_rank: Option<String>,
    findings: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

const SORTS: [(Sort, &str, &str); 4] = [
    (Sort::Rank, "rank", "Rank"),
    (Sort::Reviews, "reviews", "Reviews"),
    (Sort::Activity, "activity", "Latest activity"),
    (Sort::Name, "name", "Name"),
];
const NETWORKS: [&str; 5] = ["mainnet", "testnet", "signet", "regtest", "unknown"];
const IDENTITIES: [&str; 4] = ["self-signed", "operator", "mismatch", "unbound"];

impl DirectoryForm {
    /// The directory query, or a message naming the field at fault.
    fn query(&self) -> Result<DirectoryQuery, WebError> {
        let bad =
            |field: &str, e: &dyn std::fmt::Display| WebError::BadRequest(format!("{field}: {e}"));
        Ok(DirectoryQuery {
            q: given(&self.q).map(str::to_string),
            unit: given(&self.unit)
                .map(Unit::parse)
                .transpose()
                .map_err(|e| bad("unit", &e))?,
            nut: given(&self.nut)
                .map(str::parse::<u16>)
                .transpose()
                .map_err(|e| bad("NUT", &e))?,
            network: match given(&self.network) {
                None => None,
                Some(n) if NETWORKS.contains(&n) || n == "bitcoin" => Some(Network::from_tag(n)),
                Some(n) => return Err(bad("network", &format!("{n:?} is not a network"))),
            },
            identity: given(&self.identity)
                .map(str::parse::<IdentityLevel>)
                .transpose()
                .map_err(|e| bad("identity", &e))?,
            min_rank: given(&self.min_rank)
                .map(str::parse::<u8>)
                .transpose()
                .map_err(|e| bad("minimum rank", &e))?,
            has_findings: match given(&self.findings) {
                None => None,
                Some("with") => Some(true),
                Some("without") => Some(false),
                Some(f) => return Err(bad("findings", &format!("{f:?} is not with or without"))),
            },
            sort: match given(&self.sort) {
                None => Sort::Rank,
                Some(s) => SORTS
                    .iter()
                    .find(|(_, v, _)| *v == s)
                    .map(|(sort, _, _)| *sort)
                    .ok_or_else(|| bad("sort", &format!("{s:?} is not a sort order")))?,
            },
            limit: None,
            cursor: given(&self.cursor).map(str::to_string),
        })
    }

    /// The query string of this search with another cursor (or none).
    fn with_cursor(&self, cursor: Option<&str>) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        let fields = [
            ("q", &self.q),
            ("unit", &self.unit),
            ("nut", &self.nut),
            ("network", &self.network),
            ("identity", &self.identity),
            ("min_rank", &self.min_rank),
            ("findings", &self.findings),
            ("sort", &self.sort),
        ];
        for (name, value) in fields {
            if let Some(v) = given(value) {
                s.append_pair(name, v);
            }
        }
        if let Some(c) = cursor {
            s.append_pair("cursor", c);
        }
        s.finish()
    }
}

/// `GET /`.
pub async fn page(
    State(state): State<ApiState>,
    Query(form): Query<DirectoryForm>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let query = form.query()?;
    let found = read::search_mints(state.store.pool(), &query).await?;
    let keys: Vec<MintKey> = found
        .mints
        .iter()
        .filter_map(|m| MintKey::parse(&m.key).ok())
        .collect();
    let findings: HashMap<String, BTreeMap<String, u64>> = if keys.is_empty() {
        HashMap::new()
    } else {
        read::mint_cores(&state.store, Some(&keys))
            .await?
            .into_iter()
            .map(|c| (hex::encode(&c.key), c.findings))
            .collect()
    };
    let body = html! {
        h1 { "Cashu mint directory" }
        p.muted {
            "Every mint that publishes on nostr, ranked by what it proves: its signed burns, "
            "its identity and its reviews. Findings link to the signed events behind them."
        }
        (search_form(&form))
        @if found.mints.is_empty() {
            p.card { "No mint matches this search." }
        } @else {
            ol.mints aria-label="Mints" {
                @for m in &found.mints {
                    li { (card(m, findings.get(&m.key))) }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if form.cursor.is_some() {
                a href={ "/?" (form.with_cursor(None)) } { "First page" }
            }
            @if let Some(next) = &found.next_cursor {
                a href={ "/?" (form.with_cursor(Some(next))) } rel="next" { "Next page" }
            }
        }
    };
    Ok(respond(
        &headers,
        StatusCode::OK,
        frame("Directory", Nav::Directory, body, &[]),
    ))
}

fn selected_if(current: Option<&str>, value: &str) -> bool {
    current == Some(value)
}

fn search_form(f: &DirectoryForm) -> Markup {
    let sort = given(&f.sort).unwrap_or("rank");
    html! {
        form.search.card method="get" action="/" role="search" aria-label="Search the directory" {
            div.wide {
                label for="q" { "Name, URL or description" }
                input #q type="search" name="q" value=(given(&f.q).unwrap_or("")) maxlength="256" placeholder="e.g. minibits";
            }
            div {
                label for="unit" { "Unit" }
                input #unit type="text" name="unit" value=(given(&f.unit).unwrap_or("")) maxlength="32" placeholder="sat";
            }
            div {
                label for="nut" { "Supports NUT" }
                input #nut type="number" name="nut" min="0" max="65535" value=(given(&f.nut).unwrap_or(""));
            }
            div {
                label for="network" { "Network" }
                select #network name="network" {
                    option value="" { "Any" }
                    @for n in NETWORKS {
                        option value=(n) selected[selected_if(given(&f.network), n)] { (n) }
                    }
                }
            }
            div {
                label for="identity" { "Identity" }
                select #identity name="identity" {
                    option value="" { "Any" }
                    @for i in IDENTITIES {
                        option value=(i) selected[selected_if(given(&f.identity), i)] { (i) }
                    }
                }
            }
            div {
                label for="min_rank" { "Minimum rank" }
                input #min_rank type="number" name="min_rank" min="0" max="100" value=(given(&f.min_rank).unwrap_or(""));
            }
            div {
                label for="findings" { "Findings" }
                select #findings name="findings" {
                    option value="" { "Any" }
                    option value="with" selected[selected_if(given(&f.findings), "with")] { "Has findings" }
                    option value="without" selected[selected_if(given(&f.findings), "without")] { "No findings" }
                }
            }
            div {
                label for="sort" { "Sort by" }
                select #sort name="sort" {
                    @for (_, value, label) in SORTS {
                        option value=(value) selected[sort == value] { (label) }
                    }
                }
            }
            div { button type="submit" { "Search" } }
        }
    }
}

/// The badge class of an identity level.
pub fn identity_class(identity: &str) -> &'static str {
    match identity {
        "self-signed" => "badge ok",
        "operator" => "badge",
        "mismatch" => "badge bad",
        _ => "badge warn",
    }
}

fn card(m: &MintSummary, findings: Option<&BTreeMap<String, u64>>) -> Markup {
    let name = m.name.as_deref().filter(|n| !n.trim().is_empty());
    html! {
        article.card.mint-row {
            div {
                h2 {
                    a href={ "/mints/" (m.key) } {
                        @match name { Some(n) => (n), None => { "Unnamed mint " span.mono { (format::short(&m.key)) } } }
                    }
                }
                span class=(identity_class(&m.identity)) title="Identity level" { (m.identity) }
                @if !m.urls.is_empty() {
                    p.urls {
                        @for (i, u) in m.urls.iter().enumerate() {
                            @if i > 0 { ", " }
                            span.mono { (u) }
                        }
                    }
                }
                @if let Some(f) = findings {
                    @for (kind, n) in f.iter().filter(|(_, n)| **n > 0) {
                        span.badge.bad { (n) " " (format::finding_name(kind).to_lowercase()) }
                    }
                }
                p.facts {
                    (format::thousands(m.burns)) " burns · "
                    (format::thousands(m.mints)) " issued · "
                    (m.reviews) " reviews · last activity "
                    time datetime=(format::iso(m.last_seen as i64)) { (format::time(m.last_seen as i64)) }
                }
            }
            div.rank {
                span.muted { "rank " } strong { (format::rank(m.rank)) }
                (rank_bar(m.rank))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_are_escaped() {
        let m = MintSummary {
            key: "ab".repeat(32),
            name: Some("<script>alert(1)</script>".into()),
            description: None,
            urls: vec!["https://x.invalid/\"><img src=x onerror=alert(1)>".into()],
            identity: "self-signed".into(),
            rank: Some(42.0),
            units: vec![],
            nuts: vec![],
            network: None,
            reviews: 1,
            findings: 0,
            burns: 1_234,
            mints: 0,
            first_seen: 0,
            last_seen: 1_790_000_000,
        };
        let html = card(&m, None).into_string();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("1,234 burns"));
    }

    #[test]
    fn the_form_becomes_a_query_and_keeps_its_fields_across_pages() {
        let form = DirectoryForm {
            q: Some("bank".into()),
            network: Some("mainnet".into()),
            findings: Some("with".into()),
            sort: Some("activity".into()),
            unit: Some(String::new()),
            ..DirectoryForm::default()
        };
        let q = form.query().expect("valid");
        assert_eq!(q.q.as_deref(), Some("bank"));
        assert_eq!(q.network, Some(Network::Mainnet));
        assert_eq!(q.has_findings, Some(true));
        assert_eq!(q.sort, Sort::Activity);
        assert_eq!(q.unit, None, "an empty field is no filter");
        assert_eq!(
            form.with_cursor(Some("c1")),
            "q=bank&network=mainnet&findings=with&sort=activity&cursor=c1"
        );
        let bad = DirectoryForm {
            min_rank: Some("lots".into()),
            ..DirectoryForm::default()
        };
        assert!(
            matches!(bad.query(), Err(WebError::BadRequest(m)) if m.starts_with("minimum rank"))
        );
    }
}
