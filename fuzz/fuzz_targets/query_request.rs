//! Fuzz target: query-service requests: the decrypted body, and whole request events opened with the service key.
//! The harness is `mintwatch_protocol::fuzzing::query_request`, which the stable property tests
//! (`protocol/tests/fuzz_harness.rs`) run as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mintwatch_protocol::fuzzing::query_request(data));
