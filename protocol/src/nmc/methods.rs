//! The fixed method table of NMC.md §3: each method is one NUT endpoint, its path parameters
//! checked against the patterns NMC.md gives and taken out of the body that is forwarded. The
//! gateway forwards nothing else: it is not an open proxy.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::envelope::NmcError;

/// A method of NMC.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NmcMethod {
    /// GET /v1/info (NUT-06).
    Info,
    /// GET /v1/keys (NUT-01).
    Keys,
    /// GET /v1/keys/{keyset_id} (NUT-01).
    KeysetKeys,
    /// GET /v1/keysets (NUT-02).
    Keysets,
    /// POST /v1/mint/quote/{payment_method} (NUT-04, 23).
    MintQuote,
    /// GET /v1/mint/quote/{payment_method}/{quote_id} (NUT-04).
    MintQuoteState,
    /// POST /v1/mint/{payment_method} (NUT-04, 20).
    Mint,
    /// POST /v1/melt/quote/{payment_method} (NUT-05).
    MeltQuote,
    /// GET /v1/melt/quote/{payment_method}/{quote_id} (NUT-05).
    MeltQuoteState,
    /// POST /v1/melt/{payment_method} (NUT-05, 08).
    Melt,
    /// POST /v1/swap (NUT-03).
    Swap,
    /// POST /v1/checkstate (NUT-07).
    Checkstate,
    /// POST /v1/restore (NUT-09).
    Restore,
}

impl NmcMethod {
    /// Every method, in NMC.md's order.
    pub const ALL: [NmcMethod; 13] = [
        NmcMethod::Info,
        NmcMethod::Keys,
        NmcMethod::KeysetKeys,
        NmcMethod::Keysets,
        NmcMethod::MintQuote,
        NmcMethod::MintQuoteState,
        NmcMethod::Mint,
        NmcMethod::MeltQuote,
        NmcMethod::MeltQuoteState,
        NmcMethod::Melt,
        NmcMethod::Swap,
        NmcMethod::Checkstate,
        NmcMethod::Restore,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            NmcMethod::Info => "info",
            NmcMethod::Keys => "keys",
            NmcMethod::KeysetKeys => "keyset_keys",
            NmcMethod::Keysets => "keysets",
            NmcMethod::MintQuote => "mint_quote",
            NmcMethod::MintQuoteState => "mint_quote_state",
            NmcMethod::Mint => "mint",
            NmcMethod::MeltQuote => "melt_quote",
            NmcMethod::MeltQuoteState => "melt_quote_state",
            NmcMethod::Melt => "melt",
            NmcMethod::Swap => "swap",
            NmcMethod::Checkstate => "checkstate",
            NmcMethod::Restore => "restore",
        }
    }

    /// Whether the call spends or signs ecash (`mint`, `melt`, `swap`: NMC.md §5 executes them
    /// at most once per request id).
    pub fn changes_state(self) -> bool {
        matches!(self, NmcMethod::Mint | NmcMethod::Melt | NmcMethod::Swap)
    }
}

impl fmt::Display for NmcMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NmcMethod {
    type Err = NmcError;
    /// An unknown name is `NOT_IMPLEMENTED` (NMC.md §4).
    fn from_str(s: &str) -> Result<Self, NmcError> {
        NmcMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let shown: String = s.chars().take(64).collect();
                NmcError::not_implemented(format!("method {shown:?} is not served"))
            })
    }
}

/// GET or POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVerb {
    /// GET, no body.
    Get,
    /// POST with a JSON body.
    Post,
}

/// The HTTP call to make at the mint for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCall {
    /// GET or POST.
    pub verb: HttpVerb,
    /// The path, from `/v1/`, with its parameters filled in.
    pub path: String,
    /// The body to POST: the request's `params` without the path parameters.
    pub body: Option<Value>,
}

/// Which characters and how many a path parameter may have (NMC.md §3).
struct Pattern {
    name: &'static str,
    allowed: fn(char) -> bool,
    min: usize,
    max: usize,
    shown: &'static str,
}

const PAYMENT_METHOD: Pattern = Pattern {
    name: "payment_method",
    allowed: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
    min: 1,
    max: 32,
    shown: "[a-z0-9_]{1,32}",
};
const KEYSET_ID: Pattern = Pattern {
    name: "keyset_id",
    allowed: |c| c.is_ascii_hexdigit(),
    min: 16,
    max: 66,
    shown: "[0-9a-fA-F]{16,66}",
};
const QUOTE_ID: Pattern = Pattern {
    name: "quote_id",
    allowed: |c| c.is_ascii_alphanumeric() || c == '_' || c == '-',
    min: 1,
    max: 128,
    shown: "[A-Za-z0-9_-]{1,128}",
};

/// Takes the path parameter `pattern.name` out of `params`, checked.
fn take(params: &mut Map<String, Value>, pattern: &Pattern) -> Result<String, NmcError> {
    let value = params
        .remove(pattern.name)
        .ok_or_else(|| NmcError::bad_request(format!("{} is missing", pattern.name)))?;
    let Value::String(s) = value else {
        return Err(NmcError::bad_request(format!(
            "{} must be a string",
            pattern.name
        )));
    };
    let n = s.chars().count();
    if n < pattern.min || n > pattern.max || !s.chars().all(pattern.allowed) {
        return Err(NmcError::bad_request(format!(
            "{} must match {}",
            pattern.name, pattern.shown
        )));
    }
    Ok(s)
}

/// The HTTP call of `method` with `params` (a JSON object, or null for none). A missing or
/// malformed path parameter, or params that are not an object, is `BAD_REQUEST`.
pub fn http_call(method: NmcMethod, params: &Value) -> Result<HttpCall, NmcError> {
    let mut params = match params {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        _ => return Err(NmcError::bad_request("params must be a JSON object")),
    };
    let get = |path: String| HttpCall {
        verb: HttpVerb::Get,
        path,
        body: None,
    };
    let post = |path: String, body: Map<String, Value>| HttpCall {
        verb: HttpVerb::Post,
        path,
        body: Some(Value::Object(body)),
    };
    Ok(match method {
        NmcMethod::Info => get("/v1/info".into()),
        NmcMethod::Keys => get("/v1/keys".into()),
        NmcMethod::KeysetKeys => get(format!("/v1/keys/{}", take(&mut params, &KEYSET_ID)?)),
        NmcMethod::Keysets => get("/v1/keysets".into()),
        NmcMethod::MintQuote => {
            let pm = take(&mut params, &PAYMENT_METHOD)?;
            post(format!("/v1/mint/quote/{pm}"), params)
        }
        NmcMethod::MintQuoteState => {
            let pm = take(&mut params, &PAYMENT_METHOD)?;
            let q = take(&mut params, &QUOTE_ID)?;
            get(format!("/v1/mint/quote/{pm}/{q}"))
        }
        NmcMethod::Mint => {
            let pm = take(&mut params, &PAYMENT_METHOD)?;
            post(format!("/v1/mint/{pm}"), params)
        }
        NmcMethod::MeltQuote => {
            let pm = take(&mut params, &PAYMENT_METHOD)?;
            post(format!("/v1/melt/quote/{pm}"), params)
        }
        NmcMethod::MeltQuoteState => {
            let pm = take(&mut params, &PAYMENT_METHOD)?;
            let q = take(&mut params, &QUOTE_ID)?;
            get(format!("/v1/melt/quote/{pm}/{q}"))
        }
        NmcMethod::Melt => {
            let pm = take(&mut params, &PAYMENT_METHOD)?;
            post(format!("/v1/melt/{pm}"), params)
        }
        NmcMethod::Swap => post("/v1/swap".into(), params),
        NmcMethod::Checkstate => post("/v1/checkstate".into(), params),
        NmcMethod::Restore => post("/v1/restore".into(), params),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::nmc::NmcErrorCode;
    use serde_json::json;

    #[test]
    fn every_method_maps_to_its_nut_endpoint_and_its_name_round_trips() {
        for m in NmcMethod::ALL {
            assert_eq!(m.as_str().parse::<NmcMethod>().unwrap(), m);
        }
        let call = http_call(
            NmcMethod::MintQuoteState,
            &json!({"payment_method": "bolt11", "quote_id": "q-1_A"}),
        )
        .unwrap();
        assert_eq!(call.verb, HttpVerb::Get);
        assert_eq!(call.path, "/v1/mint/quote/bolt11/q-1_A");
        assert_eq!(call.body, None);
        let call = http_call(
            NmcMethod::Mint,
            &json!({"payment_method": "bolt11", "quote": "q", "outputs": []}),
        )
        .unwrap();
        assert_eq!(call.verb, HttpVerb::Post);
        assert_eq!(call.path, "/v1/mint/bolt11");
        assert_eq!(call.body, Some(json!({"quote": "q", "outputs": []})));
        let call = http_call(NmcMethod::Keysets, &Value::Null).unwrap();
        assert_eq!(call.path, "/v1/keysets");
        let call = http_call(
            NmcMethod::KeysetKeys,
            &json!({"keyset_id": "009a1f293253e41e"}),
        )
        .unwrap();
        assert_eq!(call.path, "/v1/keys/009a1f293253e41e");
    }

    #[test]
    fn path_parameters_outside_their_patterns_are_bad_requests() {
        for (method, params) in [
            (NmcMethod::Mint, json!({"quote": "q"})),
            (NmcMethod::Mint, json!({"payment_method": "../swap"})),
            (NmcMethod::Mint, json!({"payment_method": "BOLT11"})),
            (NmcMethod::Mint, json!({"payment_method": 11})),
            (NmcMethod::KeysetKeys, json!({"keyset_id": "00ab"})),
            (
                NmcMethod::KeysetKeys,
                json!({"keyset_id": "zz9a1f293253e41e"}),
            ),
            (
                NmcMethod::MeltQuoteState,
                json!({"payment_method": "bolt11", "quote_id": "a/b"}),
            ),
            (
                NmcMethod::MeltQuoteState,
                json!({"payment_method": "bolt11", "quote_id": "x".repeat(129)}),
            ),
            (NmcMethod::Swap, json!(["not", "an", "object"])),
        ] {
            let e = http_call(method, &params).expect_err("refused");
            assert_eq!(e.code, NmcErrorCode::BadRequest, "{method} {params}");
        }
        let e = "transfer"
            .parse::<NmcMethod>()
            .expect_err("not in the table");
        assert_eq!(e.code, NmcErrorCode::NotImplemented);
    }
}
