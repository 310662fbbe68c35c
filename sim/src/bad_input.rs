//! Events that mintwatch must refuse: forged 4919s under a mint's key (a broken signature, a
//! content changed after signing) and validly signed 4919s whose content does not parse.

use base64::Engine;

use mintwatch_protocol::broadcast::CashuData;
use mintwatch_protocol::{kinds, Epoch, EventId, SignedEvent};

use crate::simulator::{e_tags, Simulator};
use crate::truth::{Reject, RejectReason};
use crate::wallet::Token;

impl Simulator {
    /// Two 4919 events under mint `m`'s key that must fail verification. Both name the mint's
    /// head, so accepting either would fake a fork.
    pub(crate) fn forged_events(
        &mut self,
        m: usize,
        prev: Option<EventId>,
        t: u64,
    ) -> Vec<SignedEvent> {
        let mint = &self.mints[m];
        let (sat, ep) = (mint.lanes[0].unit.clone(), mint.current_epoch(0));
        let content = |n| {
            let token = Token::special(&self.seed, &format!("forged-{m}"), n);
            CashuData {
                groups: vec![mint.special_mint_group(&sat, ep, &[token])],
                prev,
            }
            .encode_content()
        };
        let mut bad_sig = self.sign(&mint.keys, kinds::CASHU_DATA, content(0), e_tags(prev), t);
        bad_sig.sig[63] ^= 0x01;
        let mut changed = self.sign(&mint.keys, kinds::CASHU_DATA, content(1), e_tags(prev), t);
        changed.content = content(2);
        let key = mint.key;
        self.rejects.push(Reject {
            id: bad_sig.id,
            mint: key,
            reason: RejectReason::BadSignature,
        });
        self.rejects.push(Reject {
            id: changed.id,
            mint: key,
            reason: RejectReason::ContentChangedAfterSigning,
        });
        vec![bad_sig, changed]
    }

    /// Two validly signed 4919 events of mint `m` whose content must be refused. They carry no
    /// `e`, so they touch no chain.
    pub(crate) fn malformed_events(&mut self, m: usize, ep: Epoch, t: u64) -> Vec<SignedEvent> {
        use ciborium::Value;
        let mint = &self.mints[m];
        let bad_base64 = self.sign(
            &mint.keys,
            kinds::CASHU_DATA,
            "%%% this is not base64 %%%".into(),
            Vec::new(),
            t,
        );
        // x = 5 is not the x coordinate of any secp256k1 point (5^3 + 7 is not a square).
        let off_curve = format!("02{:064x}", 5);
        let text = |s: &str| Value::Text(s.into());
        let cbor = Value::Array(vec![Value::Map(vec![
            (text("epoch"), Value::Integer(ep.get().into())),
            (text("event"), text("BURN")),
            (text("unit"), text("sat")),
            (
                text("contents"),
                Value::Array(vec![Value::Map(vec![
                    (text("Y"), Value::Text(off_curve)),
                    (text("amount"), Value::Integer(8.into())),
                ])]),
            ),
        ])]);
        let mut bytes = Vec::new();
        // Writing CBOR into a Vec cannot fail for plain maps, arrays and scalars.
        let _ = ciborium::into_writer(&cbor, &mut bytes);
        let content = base64::engine::general_purpose::STANDARD.encode(bytes);
        let off = self.sign(&mint.keys, kinds::CASHU_DATA, content, Vec::new(), t);
        let key = mint.key;
        self.rejects.push(Reject {
            id: bad_base64.id,
            mint: key,
            reason: RejectReason::BadBase64,
        });
        self.rejects.push(Reject {
            id: off.id,
            mint: key,
            reason: RejectReason::OffCurvePoint,
        });
        vec![bad_base64, off]
    }
}
