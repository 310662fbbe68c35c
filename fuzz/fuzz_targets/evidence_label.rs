//! Fuzz target: NIP-32 evidence labels verified on their own, embedded events and re-check included.
//! The harness is `mintwatch_protocol::fuzzing::evidence_label`, which the stable property tests
//! (`protocol/tests/fuzz_harness.rs`) run as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mintwatch_protocol::fuzzing::evidence_label(data));
