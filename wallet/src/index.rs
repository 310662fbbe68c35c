//! mintwatch's query service over nostr (PROTOCOL.md §5): a mint's report and whether `Y`s are
//! spent, asked of an indexer by key, through relays, from a fresh key per request.

use mintwatch_protocol::kinds::SERVICE_RESPONSE;
use mintwatch_protocol::output::query::{
    build_request, open_response, CheckSpent, CheckSpentResult, MintParam, Query,
};
use mintwatch_protocol::{MintKey, Point};
use nostr_sdk::prelude::{Keys, PublicKey};
use serde_json::Value;

use crate::error::{RpcError, WalletError};
use crate::rpc::{Exchange, Patience, Relays};

/// An indexer's query service.
#[derive(Debug, Clone)]
pub struct IndexClient {
    relays: Relays,
    service: PublicKey,
    patience: Patience,
}

impl IndexClient {
    /// The service signed by `service`, reached through `relays`.
    pub fn new(relays: Relays, service: PublicKey, patience: Patience) -> IndexClient {
        IndexClient {
            relays,
            service,
            patience,
        }
    }

    /// Sends `query` and returns its result (an error answer is an error).
    pub async fn ask(&self, query: &Query) -> Result<Value, WalletError> {
        let keys = Keys::generate();
        let request = build_request(&keys, &self.service, query)
            .map_err(|e| WalletError::Input(format!("query: {e}")))?;
        let answer = self
            .relays
            .exchange(Exchange {
                request: &request,
                answer_kind: SERVICE_RESPONSE,
                responder: self.service,
                publish_to: &[],
                patience: self.patience,
            })
            .await?;
        let opened =
            open_response(&keys, &answer).map_err(|e| RpcError::BadAnswer(e.to_string()))?;
        match (opened.response.result, opened.response.error) {
            (_, Some(e)) => Err(WalletError::Input(format!("the index answered {e}"))),
            (Some(result), None) => Ok(result),
            (None, None) => Err(RpcError::BadAnswer("neither result nor error".into()).into()),
        }
    }

    /// The index's report of `mint` (rank, its components, findings), as the service sends it.
    pub async fn mint_report(&self, mint: &PublicKey) -> Result<Value, WalletError> {
        let mint = MintKey::from_x_only_bytes(mint.to_bytes())
            .map_err(|e| WalletError::Input(e.to_string()))?;
        self.ask(&Query::GetMint(MintParam { mint })).await
    }

    /// Whether each `Y` is burnt in a mint-signed 4919 the index holds.
    pub async fn check_spent(
        &self,
        ys: Vec<Point>,
        mint: Option<&PublicKey>,
    ) -> Result<CheckSpentResult, WalletError> {
        let mint = mint
            .map(|m| MintKey::from_x_only_bytes(m.to_bytes()))
            .transpose()
            .map_err(|e| WalletError::Input(e.to_string()))?;
        let result = self
            .ask(&Query::CheckSpent(CheckSpent { ys, mint }))
            .await?;
        serde_json::from_value(result)
            .map_err(|e| RpcError::BadAnswer(format!("check_spent result: {e}")).into())
    }
}
