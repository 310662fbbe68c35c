//! Fuzz target: Nostr Mint Connect requests (kind 27338) opened with the mint's key, their
//! plaintext, and the HTTP call of what opens. The harness is
//! `mintwatch_protocol::fuzzing::nmc_request`, which the stable property tests
//! (`protocol/tests/fuzz_harness.rs`) run as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mintwatch_protocol::fuzzing::nmc_request(data));
