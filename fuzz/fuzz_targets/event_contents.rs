//! Fuzz target: every kind's content and tag parser (NIP-87, 11467, 4919, 1337, NIP-85, 18172).
//! The harness is `mintwatch_protocol::fuzzing::event_contents`, which the stable property tests
//! (`protocol/tests/fuzz_harness.rs`) run as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mintwatch_protocol::fuzzing::event_contents(data));
