//! Fuzz target: relay → client messages (NIP-01) as any relay may send them.
//! The harness is `mintwatch_protocol::fuzzing::relay_message`, which the stable property tests
//! (`protocol/tests/fuzz_harness.rs`) run as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mintwatch_protocol::fuzzing::relay_message(data));
