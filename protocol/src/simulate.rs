//! Deterministic simulated mints, honest and misbehaving, with real keys and real BDHKE.
