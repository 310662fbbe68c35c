//! Fuzz target: an event's JSON: parse, id and signature checks, round trip.
//! The harness is `mintwatch_protocol::fuzzing::event_json`, which the stable property tests
//! (`protocol/tests/fuzz_harness.rs`) run as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mintwatch_protocol::fuzzing::event_json(data));
