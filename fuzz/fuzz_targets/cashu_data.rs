//! Fuzz target: 4919 content as text and as base64 of the bytes (the CBOR walk); what decodes round-trips.
//! The harness is `mintwatch_protocol::fuzzing::cashu_data`, which the stable property tests
//! (`protocol/tests/fuzz_harness.rs`) run as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mintwatch_protocol::fuzzing::cashu_data(data));
