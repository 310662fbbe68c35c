//! Fuzz target: NIP-44 v2 payloads and padding; what decrypts round-trips.
//! The harness is `mintwatch_protocol::fuzzing::nip44_payload`, which the stable property tests
//! (`protocol/tests/fuzz_harness.rs`) run as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mintwatch_protocol::fuzzing::nip44_payload(data));
