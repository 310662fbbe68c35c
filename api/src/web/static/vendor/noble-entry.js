// What mintwatch's /spent page needs of @noble/curves and @noble/hashes: secp256k1 points
// (decompression of hash_to_curve candidates) and SHA-256.
export { secp256k1 } from '@noble/curves/secp256k1.js';
export { sha256 } from '@noble/hashes/sha2.js';
export { bytesToHex, hexToBytes, utf8ToBytes, concatBytes } from '@noble/hashes/utils.js';
