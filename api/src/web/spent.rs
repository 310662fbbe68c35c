//! `/spent`: is a `Y` burnt, by which mint, in which signed 4919 events. `Y`s come pasted (one a
//! line, or separated by spaces or commas), by `GET /spent?ys=…` or the form's `POST`. A cashu
//! token pasted in the page is turned into its `Y`s by `static/spent.js` in the browser: the token
//! box has no name, so the token itself is never sent.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use mintwatch_protocol::Point;

use super::layout::{page as frame, Nav};
use super::{format, html as respond, WebError};
use crate::http::ApiState;
use crate::read::{SpentEntry, MAX_SPENT_YS};

/// The form: `Y`s separated by whitespace or commas.
#[derive(Debug, Default, Deserialize)]
pub struct SpentForm {
    ys: Option<String>,
}

/// One line of the answer.
enum Answer {
    Known(SpentEntry),
    Malformed { text: String, why: String },
}

/// `GET /spent`: the form, and the answer when `ys` is given.
pub async fn page(
    State(state): State<ApiState>,
    Query(form): Query<SpentForm>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    answer(&state, &headers, form).await
}

/// `POST /spent`: the same, for more `Y`s than a URL holds.
pub async fn lookup(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Form(form): Form<SpentForm>,
) -> Result<Response, WebError> {
    answer(&state, &headers, form).await
}

async fn answer(
    state: &ApiState,
    headers: &HeaderMap,
    form: SpentForm,
) -> Result<Response, WebError> {
    let text = form.ys.unwrap_or_default();
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() > MAX_SPENT_YS {
        return Err(WebError::BadRequest(format!(
            "{} Ys given, at most {MAX_SPENT_YS} at once",
            words.len()
        )));
    }
    let parsed: Vec<Result<Point, String>> = words
        .iter()
        .map(|w| Point::parse(w).map_err(|e| e.to_string()))
        .collect();
    let valid: Vec<Point> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let mut found = if valid.is_empty() {
        Vec::new()
    } else {
        state.spent.check(valid).await?
    }
    .into_iter();
    let answers: Vec<Answer> = words
        .iter()
        .zip(parsed)
        .map(|(w, p)| match p {
            Ok(_) => found.next().map_or_else(
                || Answer::Malformed {
                    text: (*w).to_string(),
                    why: "no answer".into(),
                },
                Answer::Known,
            ),
            Err(why) => Answer::Malformed {
                text: (*w).to_string(),
                why,
            },
        })
        .collect();
    let body = html! {
        h1 { "Spent lookup" }
        p {
            "Is a secret spent? Paste the Ys (hash_to_curve of each proof's secret, 66 hex characters), "
            "or a cashu token: your browser derives its Ys and only the Ys are sent."
        }
        form.card method="post" action="/spent" {
            div {
                label for="token" { "Cashu token (read in your browser, never sent)" }
                textarea #token rows="3" placeholder="cashuB…" aria-describedby="derive-status" disabled {}
                p { button.secondary #derive type="button" hidden { "Derive the Ys from the token" } }
                p #derive-status.muted role="status" aria-live="polite" {
                    noscript { "Deriving Ys from a token needs JavaScript; pasting Ys works without it." }
                }
            }
            div {
                label for="ys" { "Ys, one a line (at most " (MAX_SPENT_YS) ")" }
                textarea #ys name="ys" rows="6" spellcheck="false" { (text) }
            }
            p { button type="submit" { "Look up" } }
        }
        @if !answers.is_empty() {
            section aria-labelledby="answers" {
                h2 #answers { "Answers" }
                @for a in &answers { (answer_card(a)) }
            }
        }
    };
    Ok(respond(
        headers,
        StatusCode::OK,
        frame("Spent lookup", Nav::Spent, body, &["spent.js"]),
    ))
}

fn answer_card(a: &Answer) -> Markup {
    match a {
        Answer::Malformed { text, why } => html! {
            article.card.spent-answer {
                p.mono { (text) }
                p { strong { "Not a Y: " } (why) }
            }
        },
        Answer::Known(e) => html! {
            article.card.spent-answer {
                p.mono { (e.y) }
                @if e.burnt.is_empty() {
                    p.unknown { "Not known to be spent." }
                    p.muted { "No 4919 event that mintwatch holds burns it. A mint that does not publish its burns would not show here." }
                } @else {
                    p.burnt { "Spent." }
                    ul {
                        @for b in &e.burnt {
                            li {
                                "Burnt by " a href={ "/mints/" (b.mint) } class="mono" { (format::short(&b.mint)) }
                                ": " (format::thousands(b.amount)) " " (b.unit) ", epoch " (b.epoch)
                                @if b.entries > 1 { ", " strong { (b.entries) " times" } }
                                ", in the signed event"
                                @if b.events.len() > 1 { "s" }
                                " "
                                @for (i, id) in b.events.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    a.mono href={ "/v1/events/" (id) } title=(id) { (format::short(id)) }
                                }
                            }
                        }
                    }
                    @for f in &e.findings {
                        p { span.badge.bad { (format::finding_name(&f.kind)) } " against " a.mono href={ "/mints/" (f.mint) } { (format::short(&f.mint)) } }
                    }
                }
            }
        },
    }
}
