//! cdk's `MintConnector` over Nostr Mint Connect (`docs/NMC.md`): every call a wallet makes to
//! its mint is a 27338 request from a fresh key, answered by the mint's 27339, through the
//! relays of the mint's 17338. No URL is ever dialled: the wallet names the mint `nmc://<key>`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use cdk::mint_url::MintUrl;
use cdk::nuts::nut00::KnownMethod;
use cdk::nuts::{
    BatchCheckMintQuoteRequest, BatchMintRequest, CheckStateRequest, CheckStateResponse, Id,
    KeySet, KeysResponse, KeysetResponse, MeltRequest, MintInfo, MintRequest, MintResponse,
    PaymentMethod, RestoreRequest, RestoreResponse, SwapRequest, SwapResponse,
};
use cdk::wallet::{AuthWallet, LnurlPayInvoiceResponse, LnurlPayResponse, MintConnector};
use cdk::Error;
use cdk_common::error::ErrorResponse;
use cdk_common::{
    MeltQuoteCreateResponse, MeltQuoteRequest, MeltQuoteResponse, MintQuoteRequest,
    MintQuoteResponse,
};
use mintwatch_protocol::kinds::NMC_RESPONSE;
use mintwatch_protocol::nmc::{
    build_request, open_response, NmcError, NmcErrorCode, NmcMethod, NmcRequest,
};
use nostr_sdk::prelude::{Keys, PublicKey};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::error::RpcError;
use crate::rpc::{Exchange, Patience, Relays};

/// The scheme of the name a wallet's database gives a mint reached over NMC.
pub const NMC_SCHEME: &str = "nmc";

/// The name cdk's wallet keeps for the mint: `nmc://<x-only hex>`. Never dialled.
pub fn mint_url_of(mint: &PublicKey) -> MintUrl {
    // A scheme, a host of 64 hex digits, no path: MintUrl's parser takes it as it is.
    MintUrl::from_str(&format!("{NMC_SCHEME}://{}", mint.to_hex()))
        .unwrap_or_else(|_| unreachable!("nmc://<hex> is a well-formed mint URL"))
}

/// The mint key in an `nmc://<x-only hex>` name, if it is one.
pub fn mint_of_url(url: &MintUrl) -> Option<PublicKey> {
    let text = url.to_string();
    let hex = text.strip_prefix(&format!("{NMC_SCHEME}://"))?;
    PublicKey::from_hex(hex).ok()
}

/// A mint reached over NMC. Cheap to clone; clones share the relays.
#[derive(Clone)]
pub struct NostrMintConnector {
    inner: Arc<Inner>,
}

struct Inner {
    relays: Relays,
    mint: PublicKey,
    /// The relays of the mint's 17338: every request is published to all of them.
    publish_to: Vec<String>,
    patience: Patience,
    auth_wallet: RwLock<Option<AuthWallet>>,
}

impl fmt::Debug for NostrMintConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NostrMintConnector")
            .field("mint", &self.inner.mint.to_hex())
            .field("relays", &self.inner.publish_to)
            .finish()
    }
}

/// What an NMC call can end in, before it becomes a cdk error.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The relays gave no answer, or an unreadable one.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The gateway answered with an error.
    #[error("{0}")]
    Nmc(NmcError),
}

impl From<CallError> for Error {
    /// The mint's own NUT error (`MINT_ERROR` with `cashu`) becomes cdk's error for its code, as
    /// cdk's HTTP client maps a 4xx body; no answer is a timeout; the rest keep their NMC code.
    fn from(e: CallError) -> Error {
        match e {
            CallError::Nmc(NmcError {
                code: NmcErrorCode::MintError,
                cashu,
                http_status,
                message,
            }) => match cashu.map(ErrorResponse::from_value) {
                Some(Ok(body)) => body.into(),
                _ => Error::HttpError(http_status, message),
            },
            CallError::Nmc(other) => Error::Custom(format!("mint over nostr: {other}")),
            CallError::Rpc(RpcError::NoAnswer(_)) => Error::Timeout,
            CallError::Rpc(other) => Error::Custom(format!("mint over nostr: {other}")),
        }
    }
}

impl NostrMintConnector {
    /// A connector to `mint` through `relays`, publishing each request to `publish_to` (the
    /// relays of its 17338, already in the pool).
    pub fn new(
        relays: Relays,
        mint: PublicKey,
        publish_to: Vec<String>,
        patience: Patience,
    ) -> NostrMintConnector {
        NostrMintConnector {
            inner: Arc::new(Inner {
                relays,
                mint,
                publish_to,
                patience,
                auth_wallet: RwLock::new(None),
            }),
        }
    }

    /// The mint's key.
    pub fn mint(&self) -> PublicKey {
        self.inner.mint
    }

    /// The name cdk's wallet keeps for this mint (`nmc://<key>`).
    pub fn mint_url(&self) -> MintUrl {
        mint_url_of(&self.inner.mint)
    }

    /// Calls `method` with `params` (the NUT body plus path parameters) from a fresh key and
    /// returns the mint's result.
    pub async fn call(&self, method: NmcMethod, params: Value) -> Result<Value, CallError> {
        let keys = Keys::generate();
        let request = NmcRequest {
            method: method.as_str().to_string(),
            params,
        };
        // The request stays valid through both publications and no longer: a copy a relay
        // holds back cannot be executed later.
        let expiration = nostr::Timestamp::now().as_secs()
            + self.inner.patience.total().as_secs()
            + EXPIRATION_MARGIN_SECS;
        let event =
            build_request(&keys, &self.inner.mint, &request, Some(expiration)).map_err(|e| {
                CallError::Nmc(NmcError::new(NmcErrorCode::PayloadTooLarge, e.to_string()))
            })?;
        let answer = self
            .inner
            .relays
            .exchange(Exchange {
                request: &event,
                answer_kind: NMC_RESPONSE,
                responder: self.inner.mint,
                publish_to: &self.inner.publish_to,
                patience: self.inner.patience,
            })
            .await?;
        let opened =
            open_response(&keys, &answer).map_err(|e| RpcError::BadAnswer(e.to_string()))?;
        match (opened.response.result, opened.response.error) {
            (_, Some(error)) => Err(CallError::Nmc(error)),
            (Some(result), None) => Ok(result),
            (None, None) => Err(RpcError::BadAnswer("neither result nor error".into()).into()),
        }
    }

    /// [`call`](Self::call) with a NUT body and path parameters, read as `T`.
    async fn call_as<T: DeserializeOwned>(
        &self,
        method: NmcMethod,
        body: &impl Serialize,
        path: &[(&str, &str)],
    ) -> Result<T, Error> {
        let mut params =
            match serde_json::to_value(body).map_err(|e| Error::Custom(e.to_string()))? {
                Value::Object(map) => map,
                Value::Null => Map::new(),
                other => {
                    return Err(Error::Custom(format!(
                        "{method} body is not an object: {other}"
                    )))
                }
            };
        for (name, value) in path {
            params.insert((*name).to_string(), Value::String((*value).to_string()));
        }
        let result = self.call(method, Value::Object(params)).await?;
        serde_json::from_value(result)
            .map_err(|e| Error::Custom(format!("{method}: the mint's answer does not parse: {e}")))
    }
}

/// Seconds a request stays valid beyond the wallet's whole wait.
const EXPIRATION_MARGIN_SECS: u64 = 30;

/// A GET's empty body.
const NO_BODY: Value = Value::Null;

/// The `payment_method` path segment: the known methods only (NMC.md §3 checks the pattern;
/// cdk's custom methods are not served over nostr).
fn method_segment(method: &PaymentMethod) -> Result<&'static str, Error> {
    match method {
        PaymentMethod::Known(KnownMethod::Bolt11) => Ok("bolt11"),
        PaymentMethod::Known(KnownMethod::Bolt12) => Ok("bolt12"),
        _ => Err(Error::UnsupportedPaymentMethod),
    }
}

fn not_over_nostr(what: &str) -> Error {
    Error::Custom(format!("{what} is not served over nostr (NMC.md §3)"))
}

#[async_trait]
impl MintConnector for NostrMintConnector {
    /// Never a socket: cdk's wallet falls back to asking for quote states over NMC.
    async fn connect_websocket(
        &self,
        _url: &str,
        _headers: &[(&str, &str)],
    ) -> Result<
        (
            cdk_common::ws_client::WsSender,
            cdk_common::ws_client::WsReceiver,
        ),
        cdk_common::ws_client::WsError,
    > {
        Err(cdk_common::ws_client::WsError::NotSupported(
            "a mint over nostr has no WebSocket".into(),
        ))
    }

    async fn fetch_lnurl_pay_request(&self, _url: &str) -> Result<LnurlPayResponse, Error> {
        Err(not_over_nostr("a Lightning address (LNURL over HTTP)"))
    }

    async fn fetch_lnurl_invoice(&self, _url: &str) -> Result<LnurlPayInvoiceResponse, Error> {
        Err(not_over_nostr("a Lightning address (LNURL over HTTP)"))
    }

    async fn get_mint_keys(&self) -> Result<Vec<KeySet>, Error> {
        let keys: KeysResponse = self.call_as(NmcMethod::Keys, &NO_BODY, &[]).await?;
        Ok(keys.keysets)
    }

    async fn get_mint_keyset(&self, keyset_id: Id) -> Result<KeySet, Error> {
        let id = keyset_id.to_string();
        let keys: KeysResponse = self
            .call_as(NmcMethod::KeysetKeys, &NO_BODY, &[("keyset_id", &id)])
            .await?;
        keys.keysets.into_iter().next().ok_or(Error::UnknownKeySet)
    }

    async fn get_mint_keysets(&self) -> Result<KeysetResponse, Error> {
        self.call_as(NmcMethod::Keysets, &NO_BODY, &[]).await
    }

    async fn post_mint_quote(
        &self,
        request: MintQuoteRequest,
    ) -> Result<MintQuoteResponse<String>, Error> {
        let method = request.method();
        let segment = [("payment_method", method_segment(&method)?)];
        match &request {
            MintQuoteRequest::Bolt11(body) => Ok(MintQuoteResponse::Bolt11(
                self.call_as(NmcMethod::MintQuote, body, &segment).await?,
            )),
            MintQuoteRequest::Bolt12(body) => Ok(MintQuoteResponse::Bolt12(
                self.call_as(NmcMethod::MintQuote, body, &segment).await?,
            )),
            _ => Err(Error::UnsupportedPaymentMethod),
        }
    }

    async fn post_mint(
        &self,
        method: &PaymentMethod,
        request: MintRequest<String>,
    ) -> Result<MintResponse, Error> {
        let segment = [("payment_method", method_segment(method)?)];
        self.call_as(NmcMethod::Mint, &request, &segment).await
    }

    async fn post_batch_check_mint_quote_status(
        &self,
        _method: &PaymentMethod,
        _request: BatchCheckMintQuoteRequest<String>,
    ) -> Result<Vec<MintQuoteResponse<String>>, Error> {
        Err(not_over_nostr("NUT-29 batch quote checks"))
    }

    async fn post_batch_mint(
        &self,
        _method: &PaymentMethod,
        _request: BatchMintRequest<String>,
    ) -> Result<MintResponse, Error> {
        Err(not_over_nostr("NUT-29 batch minting"))
    }

    async fn post_melt_quote(
        &self,
        request: MeltQuoteRequest,
    ) -> Result<MeltQuoteCreateResponse<String>, Error> {
        let method = request.method();
        let segment = [("payment_method", method_segment(&method)?)];
        match &request {
            MeltQuoteRequest::Bolt11(body) => Ok(MeltQuoteCreateResponse::Bolt11(
                self.call_as(NmcMethod::MeltQuote, body, &segment).await?,
            )),
            MeltQuoteRequest::Bolt12(body) => Ok(MeltQuoteCreateResponse::Bolt12(
                self.call_as(NmcMethod::MeltQuote, body, &segment).await?,
            )),
            _ => Err(Error::UnsupportedPaymentMethod),
        }
    }

    async fn get_mint_quote_status(
        &self,
        method: PaymentMethod,
        quote_id: &str,
    ) -> Result<MintQuoteResponse<String>, Error> {
        let path = [
            ("payment_method", method_segment(&method)?),
            ("quote_id", quote_id),
        ];
        match method {
            PaymentMethod::Known(KnownMethod::Bolt11) => Ok(MintQuoteResponse::Bolt11(
                self.call_as(NmcMethod::MintQuoteState, &NO_BODY, &path)
                    .await?,
            )),
            _ => Ok(MintQuoteResponse::Bolt12(
                self.call_as(NmcMethod::MintQuoteState, &NO_BODY, &path)
                    .await?,
            )),
        }
    }

    async fn get_melt_quote_status(
        &self,
        method: PaymentMethod,
        quote_id: &str,
    ) -> Result<MeltQuoteResponse<String>, Error> {
        let path = [
            ("payment_method", method_segment(&method)?),
            ("quote_id", quote_id),
        ];
        match method {
            PaymentMethod::Known(KnownMethod::Bolt11) => Ok(MeltQuoteResponse::Bolt11(
                self.call_as(NmcMethod::MeltQuoteState, &NO_BODY, &path)
                    .await?,
            )),
            _ => Ok(MeltQuoteResponse::Bolt12(
                self.call_as(NmcMethod::MeltQuoteState, &NO_BODY, &path)
                    .await?,
            )),
        }
    }

    async fn post_melt(
        &self,
        method: &PaymentMethod,
        request: MeltRequest<String>,
    ) -> Result<MeltQuoteResponse<String>, Error> {
        let segment = [("payment_method", method_segment(method)?)];
        match method {
            PaymentMethod::Known(KnownMethod::Bolt11) => Ok(MeltQuoteResponse::Bolt11(
                self.call_as(NmcMethod::Melt, &request, &segment).await?,
            )),
            _ => Ok(MeltQuoteResponse::Bolt12(
                self.call_as(NmcMethod::Melt, &request, &segment).await?,
            )),
        }
    }

    async fn post_swap(&self, request: SwapRequest) -> Result<SwapResponse, Error> {
        self.call_as(NmcMethod::Swap, &request, &[]).await
    }

    async fn get_mint_info(&self) -> Result<MintInfo, Error> {
        self.call_as(NmcMethod::Info, &NO_BODY, &[]).await
    }

    async fn post_check_state(
        &self,
        request: CheckStateRequest,
    ) -> Result<CheckStateResponse, Error> {
        self.call_as(NmcMethod::Checkstate, &request, &[]).await
    }

    async fn post_restore(&self, request: RestoreRequest) -> Result<RestoreResponse, Error> {
        self.call_as(NmcMethod::Restore, &request, &[]).await
    }

    async fn get_auth_wallet(&self) -> Option<AuthWallet> {
        self.inner.auth_wallet.read().await.clone()
    }

    async fn set_auth_wallet(&self, wallet: Option<AuthWallet>) {
        *self.inner.auth_wallet.write().await = wallet;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mint_is_named_by_its_key_and_the_name_gives_the_key_back() {
        let key = Keys::generate().public_key();
        let url = mint_url_of(&key);
        assert_eq!(url.to_string(), format!("nmc://{}", key.to_hex()));
        assert_eq!(mint_of_url(&url), Some(key));
        let https = MintUrl::from_str("https://mint.example.com").expect("url");
        assert_eq!(mint_of_url(&https), None);
        let not_a_key = MintUrl::from_str("nmc://abc").expect("url");
        assert_eq!(mint_of_url(&not_a_key), None);
    }

    #[test]
    fn the_mints_own_error_becomes_cdks_error_for_its_code() {
        let spent = NmcError::mint_error(400, r#"{"detail":"Token already spent.","code":11001}"#);
        assert!(matches!(
            Error::from(CallError::Nmc(spent)),
            Error::TokenAlreadySpent
        ));
        let html = NmcError::mint_error(502, "<html>bad gateway</html>");
        match Error::from(CallError::Nmc(html)) {
            Error::HttpError(status, message) => {
                assert_eq!(status, Some(502));
                assert!(message.contains("502"), "{message}");
            }
            other => panic!("an HTTP error: {other:?}"),
        }
        assert!(matches!(
            Error::from(CallError::Rpc(RpcError::NoAnswer(
                Patience::default().total()
            ))),
            Error::Timeout
        ));
        let limited = NmcError::new(NmcErrorCode::RateLimited, "slow down");
        match Error::from(CallError::Nmc(limited)) {
            Error::Custom(m) => assert!(m.contains("RATE_LIMITED"), "{m}"),
            other => panic!("custom: {other:?}"),
        }
    }

    #[test]
    fn only_lightning_methods_have_a_path_segment() {
        assert_eq!(method_segment(&PaymentMethod::BOLT11).ok(), Some("bolt11"));
        assert_eq!(method_segment(&PaymentMethod::BOLT12).ok(), Some("bolt12"));
        assert!(method_segment(&PaymentMethod::Custom("paypal".into())).is_err());
    }
}
