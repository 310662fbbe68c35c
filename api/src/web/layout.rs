//! The frame of every page: head, navigation, footer; and the error page.

use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

use super::assets;

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/` and mint pages.
    Directory,
    /// `/findings`.
    Findings,
    /// `/spent`.
    Spent,
    /// `/about`.
    About,
    /// None (error pages).
    None,
}

const ENTRIES: [(Nav, &str, &str); 4] = [
    (Nav::Directory, "/", "Directory"),
    (Nav::Findings, "/findings", "Findings"),
    (Nav::Spent, "/spent", "Spent lookup"),
    (Nav::About, "/about", "About"),
];

/// A whole page titled `title`, with `body` as its main content and `scripts` (names under
/// `/static/`) loaded as modules at the end.
pub fn page(title: &str, nav: Nav, body: Markup, scripts: &[&str]) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · mintwatch" }
                link rel="stylesheet" href=(assets::url("site.css"));
                link rel="icon" href="data:,";
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header.site {
                    a.brand href="/" { "mintwatch" }
                    nav aria-label="Site" {
                        ul {
                            @for (entry, href, label) in ENTRIES {
                                li {
                                    @if entry == nav {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #main {
                    (body)
                }
                footer.site {
                    p {
                        "mintwatch indexes what Cashu mints publish on nostr and shows the signed "
                        "events behind every figure. The same data as JSON: "
                        a href="/v1/mints" { "/v1/mints" } " ("
                        a href="/openapi.json" { "OpenAPI" } ")."
                    }
                }
                @for script in scripts {
                    script type="module" src=(assets::url(script)) {}
                }
            }
        }
    }
}

/// The page shown for an error status.
pub fn error_page(status: StatusCode, message: &str) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    page(
        title,
        Nav::None,
        html! {
            h1 { (status.as_u16()) " " (title) }
            p.error-message { (message) }
            p { a href="/" { "Back to the directory" } }
        },
        &[],
    )
}

/// A small horizontal bar for a rank 0..=100 (decorative: the number is written beside it).
pub fn rank_bar(rank: Option<f32>) -> Markup {
    let width = rank.map_or(0.0, |r| f64::from(r).clamp(0.0, 100.0));
    html! {
        svg.bar viewBox="0 0 100 8" width="100" height="8" aria-hidden="true" focusable="false" {
            rect.bar-track x="0" y="0" width="100" height="8" rx="2" {}
            rect.bar-fill x="0" y="0" width=(format!("{width:.0}")) height="8" rx="2" {}
        }
    }
}
