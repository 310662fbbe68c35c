//! `/v1/spent`: is a `Y` burnt, by which mint, in which signed events.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use mintwatch_protocol::{Point, Reason};

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::ApiState;
use crate::read::{SpentEntry, MAX_SPENT_YS};

/// The batch lookup's body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SpentRequest {
    /// 1..=1,000 `Y`s, 66-hex compressed points.
    #[serde(rename = "Ys")]
    #[schema(value_type = Vec<YHex>, min_items = 1, max_items = 1000)]
    pub ys: Vec<String>,
}

/// A `Y` as text: 66 hex, a compressed point (`02` or `03`, then x). Well-formed text that is
/// not a point on the curve is no secret's `Y`: a 404.
#[derive(Debug, ToSchema)]
#[schema(pattern = "^0[23][0-9a-fA-F]{64}$")]
pub struct YHex(pub String);

/// The batch lookup's answer.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SpentResponse {
    /// One entry per `Y` asked, in order.
    pub results: Vec<SpentEntry>,
}

/// A `Y` from a request. Well-formed text that is not a point on the curve is a 404: no
/// secret hashes to it (the document's pattern cannot state the curve).
fn parse_y(s: &str, field: &str) -> Result<Point, ApiError> {
    Point::parse(s).map_err(|e| match e.reason {
        Reason::NotOnCurve if super::extract::hex_key_shape(s, false) => {
            ApiError::NotFound(format!("{field}: not a point on the curve, so never burnt"))
        }
        _ => ApiError::BadRequest(format!("{field}: {e}")),
    })
}

/// Whether one `Y` is burnt.
#[utoipa::path(
    get, path = "/v1/spent/{Y}", tag = "spent",
    params(("Y" = String, Path, description = "hash_to_curve(secret), 66-hex compressed", pattern = "^0[23][0-9a-fA-F]{64}$")),
    responses(
        (status = 200, description = "Its burns (an empty `burnt` when no stored 4919 burns it)", body = SpentEntry),
        (status = 400, description = "Not 66 hex of a compressed point", body = ErrorBody),
        (status = 404, description = "Well-formed, but not a point on the curve: never burnt", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
    )
)]
pub async fn one(
    State(state): State<ApiState>,
    ApiPath(y): ApiPath,
) -> Result<Json<SpentEntry>, ApiError> {
    let y = parse_y(&y, "Y")?;
    let mut entries = state.spent.check(vec![y]).await?;
    entries
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::Internal("check_spent answered nothing for one Y".into()))
}

/// Whether each of up to 1,000 `Y`s is burnt (one database query, shared with concurrent lookups).
#[utoipa::path(
    post, path = "/v1/spent", tag = "spent",
    request_body = SpentRequest,
    responses(
        (status = 200, description = "One entry per `Y`, in order", body = SpentResponse),
        (status = 400, description = "Malformed JSON or a malformed `Y` (the message names its index)", body = ErrorBody),
        (status = 404, description = "A well-formed `Y` that is not a point on the curve (the message names its index)", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 415, description = "Body is not application/json", body = ErrorBody),
        (status = 422, description = "No `Ys`, more than 1,000, or a wrong JSON shape", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
    )
)]
pub async fn batch(
    State(state): State<ApiState>,
    ApiJson(req): ApiJson<SpentRequest>,
) -> Result<Json<SpentResponse>, ApiError> {
    if req.ys.is_empty() || req.ys.len() > MAX_SPENT_YS {
        return Err(ApiError::Unprocessable(format!(
            "Ys: {} given, expected 1..={MAX_SPENT_YS}",
            req.ys.len()
        )));
    }
    let ys = req
        .ys
        .iter()
        .enumerate()
        .map(|(i, s)| parse_y(s, &format!("Ys[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(SpentResponse {
        results: state.spent.check(ys).await?,
    }))
}
