//! Feeds arbitrary bytes to the 4919 content decoder, both as text (UTF-8, lossy) and as base64
//! of the raw bytes, so the fuzzer reaches the CBOR walk as well as the base64 step. Any panic,
//! stack overflow or runaway allocation is a bug: the decoder must only ever return an error.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use mintwatch_protocol::broadcast::CashuData;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = CashuData::decode_content(&text);
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(groups) = CashuData::decode_content(&encoded) {
        // What decodes must re-encode to content that decodes to the same groups.
        let again = CashuData { groups, prev: None };
        assert_eq!(
            CashuData::decode_content(&again.encode_content()).as_ref(),
            Ok(&again.groups)
        );
    }
});
