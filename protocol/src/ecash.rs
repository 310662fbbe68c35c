//! Cashu crypto: `hash_to_curve` (NUT-00), keyset ids (NUT-02) and DLEQ proofs (NUT-12).
