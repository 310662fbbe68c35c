//! Event kinds mintwatch reads and publishes, and the limits it enforces on input.

/// NIP-87 Cashu mint announcement (addressable).
pub const MINT_ANNOUNCEMENT: u16 = 38172;
/// NIP-87 Fedimint announcement (addressable).
pub const FEDIMINT_ANNOUNCEMENT: u16 = 38173;
/// NIP-87 recommendation (review) of a mint or federation.
pub const RECOMMENDATION: u16 = 38000;
/// NIP-09 deletion request.
pub const DELETION: u16 = 5;
/// Nostr Broadcast: the mint's identity (`GetInfoResponse`), replaceable.
pub const MINT_INFO: u16 = 11467;
/// Nostr Broadcast: `CASHU_DATA` batches of burnt `Y`s and issued signatures.
pub const CASHU_DATA: u16 = 4919;
/// Nostr Broadcast: `CASHU_FIN_EPOCH`, the outstanding balance of a closed epoch.
pub const FIN_EPOCH: u16 = 1337;

/// NIP-85 assertion about a mint (published by mintwatch).
pub const ASSERTION: u16 = 30382;
/// NIP-32 label carrying the evidence of a finding (published by mintwatch).
pub const LABEL: u16 = 1985;
/// Query service information (replaceable, published by mintwatch).
pub const SERVICE_INFO: u16 = 18172;
/// Query service request (ephemeral, sent by wallets).
pub const SERVICE_REQUEST: u16 = 28172;
/// Query service response (ephemeral, published by mintwatch).
pub const SERVICE_RESPONSE: u16 = 28173;

/// Nostr Mint Connect service info (replaceable, signed by the mint key; docs/NMC.md).
pub const NMC_INFO: u16 = 17338;
/// Nostr Mint Connect request (ephemeral, signed by a fresh key of the wallet).
pub const NMC_REQUEST: u16 = 27338;
/// Nostr Mint Connect response (ephemeral, signed by the mint key).
pub const NMC_RESPONSE: u16 = 27339;

/// Largest event accepted, as JSON bytes.
pub const MAX_EVENT_JSON_BYTES: usize = 512 * 1024;
/// Largest number of entries accepted in one 4919 event, summed over its groups.
pub const MAX_BATCH_ENTRIES: usize = 20_000;

/// Kinds that mintwatch reads from everyone.
pub const READ_FROM_ANYONE: [u16; 6] = [
    MINT_ANNOUNCEMENT,
    FEDIMINT_ANNOUNCEMENT,
    RECOMMENDATION,
    DELETION,
    MINT_INFO,
    CASHU_DATA,
];
