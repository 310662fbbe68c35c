//! mintwatch binary
fn main() {}
