//! The OpenAPI 3.1 document, generated from the handlers' annotations and the answer types.

use axum::Json;
use utoipa::OpenApi;

use super::error::{ErrorBody, ErrorCode, ErrorDetail};
use super::{events, health, mints, spent, stats};
use crate::read;

/// The API's OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mintwatch",
        description = "A public transparency index for Cashu ecash mints on Nostr: the mint \
            directory, per-mint reports backed by signed evidence, spent lookups, statistics. \
            Every error is `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        mints::list, mints::report, mints::findings, mints::reviews,
        spent::one, spent::batch,
        events::get,
        stats::get,
        health::healthz, health::readyz, health::metrics,
        openapi_json,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, ErrorCode,
        read::DirectoryPage, read::MintSummary, read::MintReport,
        read::report::Outstanding, read::report::GroupTotals, read::report::ReviewSummary,
        read::report::ChainStatus, read::report::MintInfo, read::report::Announcement,
        read::FindingsPage, read::FindingItem, read::ReviewsPage, read::ReviewItem,
        read::SpentEntry, read::spent::Burn, read::spent::YFinding,
        spent::SpentRequest, spent::SpentResponse,
        read::GlobalStats, read::stats::StoreCounts, read::stats::FindingCounts,
        read::stats::RelayStats, read::stats::RelayCursor, read::stats::RelayRefusal,
        read::stats::LiveRelay, read::stats::IngestRates,
        health::Health,
    )),
    tags(
        (name = "mints", description = "The directory and mint reports"),
        (name = "spent", description = "Spent lookups by Y"),
        (name = "events", description = "Stored signed events (evidence)"),
        (name = "stats", description = "Global statistics"),
        (name = "health", description = "Liveness, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "health",
    responses((status = 200, description = "OpenAPI 3.1", body = Object))
)]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
