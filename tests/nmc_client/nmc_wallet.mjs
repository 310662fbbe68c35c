// An independent Cashu wallet that reaches a mint through nostr relays only, following Nostr Mint
// Connect (docs/NMC.md). It shares no code with the Rust wallet on purpose: if both interoperate
// with the gateway, the contract in NMC.md (not one implementation's reading of it) is what works.
//
//   node --experimental-websocket tests/nmc_client/nmc_wallet.mjs <relay ws url> <mint x-only hex>
//   node tests/nmc_client/nmc_wallet.mjs --selftest protocol/tests/vectors/nut00-hash-to-curve.json
//
// Needs NODE_PATH=$HOME/.cache/mintwatch-node/node_modules. ES modules ignore NODE_PATH, so the
// packages are loaded through createRequire (Node 20.19+ can require() the ESM-only @noble v2).
// No HTTP anywhere: nothing here imports http/https or calls fetch.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const { secp256k1 } = require('@noble/curves/secp256k1.js');
const { sha256 } = require('@noble/hashes/sha2.js');
const { bytesToHex, hexToBytes, utf8ToBytes, concatBytes, randomBytes } = require('@noble/hashes/utils.js');
const { generateSecretKey, getPublicKey, finalizeEvent, verifyEvent } = require('nostr-tools/pure');
const nip44 = require('nostr-tools/nip44');

const Point = secp256k1.Point;
const N = Point.Fn.ORDER;
const KIND_REQUEST = 27338;
const KIND_RESPONSE = 27339;
const WAIT_MS = 15000; // per attempt; one re-publish, then give up (brief / NMC.md §5 retries)

// ---------------------------------------------------------------- NUT-00 crypto
const DOMAIN_SEPARATOR = utf8ToBytes('Secp256k1_HashToCurve_Cashu_');

// Y = hash_to_curve(x). The counter is little-endian u32; the first 2^16 tries that give no valid
// x coordinate are (with overwhelming probability) never exhausted, but a bound keeps it total.
function hashToCurve(x) {
  const msgHash = sha256(concatBytes(DOMAIN_SEPARATOR, x));
  const counter = new Uint8Array(4);
  for (let i = 0; i < 65536; i++) {
    new DataView(counter.buffer).setUint32(0, i, true);
    const candidate = sha256(concatBytes(msgHash, counter));
    try {
      return Point.fromHex('02' + bytesToHex(candidate));
    } catch {
      // not on the curve: next counter
    }
  }
  throw new Error('hash_to_curve: no point found');
}

// The secret is the 64-char hex string, and Y hashes its UTF-8 bytes (not the decoded 32 bytes):
// that is what the mint hashes for NUT-07 Ys and when it verifies a proof.
const yOfSecret = (secret) => hashToCurve(utf8ToBytes(secret));
const scalar = (bytes) => BigInt('0x' + bytesToHex(bytes));
const randomScalar = () => scalar(secp256k1.utils.randomSecretKey()); // uniform in [1, n-1]

// B_ = Y + r·G. r stays with the wallet; the mint sees only B_, so it cannot link C_ to the Y it
// later sees at swap/checkstate time.
function blind(secret, r) {
  return yOfSecret(secret).add(Point.BASE.multiply(r));
}

// C = C_ − r·K: since C_ = k·B_ = k·Y + r·K, this leaves k·Y, the signature on Y alone.
function unblind(C_hex, r, K_hex) {
  return Point.fromHex(C_hex).subtract(Point.fromHex(K_hex).multiply(r));
}

// Greedy binary decomposition: every piece is a power of two, which the keyset must hold a key for.
function splitAmount(total) {
  const parts = [];
  for (let bit = 2 ** 30; bit >= 1; bit /= 2) if (total >= bit) { parts.push(bit); total -= bit; }
  return parts;
}

// Fresh secrets and blinding factors per output, remembered so the signatures can be unblinded.
function makeOutputs(amounts, keyset) {
  return amounts.map((amount) => {
    if (!keyset.keys[String(amount)]) throw new Error(`keyset ${keyset.id} has no key for ${amount}`);
    const secret = bytesToHex(randomBytes(32));
    const r = randomScalar();
    return { amount, secret, r, B_: blind(secret, r).toHex(true) };
  });
}

function unblindAll(outputs, signatures, keyset) {
  if (!Array.isArray(signatures) || signatures.length !== outputs.length) {
    throw new Error(`expected ${outputs.length} signatures, got ${JSON.stringify(signatures)}`);
  }
  // NUT-03/04 return signatures in the order of the outputs; check rather than assume.
  return outputs.map((o, i) => {
    const s = signatures[i];
    if (s.amount !== o.amount || s.id !== keyset.id) throw new Error(`signature ${i} mismatch: ${JSON.stringify(s)}`);
    const C = unblind(s.C_, o.r, keyset.keys[String(o.amount)]);
    return { amount: o.amount, id: keyset.id, secret: o.secret, C: C.toHex(true) };
  });
}

const blindedMessages = (outputs, keyset) => outputs.map((o) => ({ amount: o.amount, id: keyset.id, B_: o.B_ }));

// ---------------------------------------------------------------- selftest
// Reads the NUT-00 vectors at run time (never pasted here), then a random round trip of the
// blind-sign-unblind algebra with a mint key we hold ourselves.
function selftest(path) {
  const v = JSON.parse(readFileSync(path, 'utf8'));
  const fail = (what) => { console.error(`selftest FAILED: ${what}`); process.exit(1); };
  if (v.domain_separator !== 'Secp256k1_HashToCurve_Cashu_') fail('domain separator');
  if (!v.hash_to_curve?.length || !v.blinded_messages?.length || !v.blinded_signatures?.length) fail('vector file incomplete');
  for (const t of v.hash_to_curve) {
    if (hashToCurve(hexToBytes(t.message_hex)).toHex(true) !== t.point) fail(`hash_to_curve ${t.message_hex}`);
  }
  for (const t of v.blinded_messages) {
    const B_ = hashToCurve(hexToBytes(t.x_hex)).add(Point.BASE.multiply(BigInt('0x' + t.r)));
    if (B_.toHex(true) !== t.B_) fail(`blinded_message ${t.x_hex}`);
  }
  for (const t of v.blinded_signatures) {
    if (Point.fromHex(t.B_).multiply(BigInt('0x' + t.k)).toHex(true) !== t.C_) fail(`blinded_signature k=${t.k}`);
  }
  for (let i = 0; i < 8; i++) {
    const k = randomScalar();
    const K = Point.BASE.multiply(k).toHex(true);
    const secret = bytesToHex(randomBytes(32));
    const r = randomScalar();
    const C_ = Point.fromHex(blind(secret, r).toHex(true)).multiply(k).toHex(true);
    if (!unblind(C_, r, K).equals(yOfSecret(secret).multiply(k))) fail('unblind round trip');
  }
  if (splitAmount(64).join() !== '64' || splitAmount(63).join() !== '32,16,8,4,2,1') fail('splitAmount');
  console.log('selftest ok');
  process.exit(0);
}

// ---------------------------------------------------------------- NMC transport
class NmcError extends Error {
  constructor(method, error) {
    super(`${method}: ${error?.code}: ${error?.message}${error?.cashu ? ' ' + JSON.stringify(error.cashu) : ''}`);
    this.nmc = error; // {code, message, cashu?, http_status?}
  }
}

let relay; // one connection; the mint's 17338 relay list is not consulted (we are told the relay)
let MINT;  // the mint's x-only key, hex

async function call(method, params) {
  // A fresh key per request (NMC.md §5 "Keys"), so nothing links our calls together.
  const sk = generateSecretKey();
  const pk = getPublicKey(sk);
  const ck = nip44.v2.utils.getConversationKey(sk, MINT);
  const now = Math.floor(Date.now() / 1000);
  const request = finalizeEvent({
    kind: KIND_REQUEST,
    created_at: now,
    tags: [['p', MINT], ['encryption', 'nip44_v2'], ['expiration', String(now + 120)]],
    content: nip44.v2.encrypt(JSON.stringify({ method, params }), ck),
  }, sk);

  let gotResponse, lostSub, subReady;
  const answered = new Promise((resolve, reject) => { gotResponse = resolve; lostSub = reject; });
  answered.catch(() => {}); // a close after we stopped listening must not be an unhandled rejection
  const ready = new Promise((resolve) => { subReady = resolve; });
  // Subscribe first and wait for EOSE: the response is ephemeral, so a relay that has not yet
  // registered our REQ when it arrives would never deliver it.
  const sub = relay.subscribe([{ kinds: [KIND_RESPONSE], authors: [MINT], '#p': [pk], '#e': [request.id] }], {
    onevent: (ev) => {
      const eTag = ev.tags.find((t) => t[0] === 'e')?.[1];
      const pTag = ev.tags.find((t) => t[0] === 'p')?.[1];
      // nostr-tools already verified it; checked again so this client's guarantees don't depend
      // on library internals or on the relay honouring the filter.
      if (!verifyEvent(ev) || ev.kind !== KIND_RESPONSE || ev.pubkey !== MINT || eTag !== request.id || pTag !== pk) {
        console.error(`warning: ignoring a response event that fails the checks: ${ev.id}`);
        return;
      }
      gotResponse(ev);
    },
    oneose: () => subReady(),
    onclose: (reason) => lostSub(new Error(`${method}: subscription closed: ${reason}`)),
  });

  let response = null;
  try {
    await ready;
    // Re-publishing the same event (same id) is safe: the gateway answers a repeated request
    // from its cache and never runs a swap or mint twice (NMC.md §5 "Replay and retries").
    for (let attempt = 0; attempt < 2 && !response; attempt++) {
      relay.publish(request).catch((e) => console.error(`warning: relay did not acknowledge ${method}: ${e.message}`));
      let timer;
      response = await Promise.race([answered, new Promise((r) => { timer = setTimeout(() => r(null), WAIT_MS); })]);
      clearTimeout(timer);
    }
  } finally {
    sub.close();
  }
  if (!response) throw new Error(`${method}: no response from the mint after 2 attempts`);

  const body = JSON.parse(nip44.v2.decrypt(response.content, ck));
  if (body.error) throw new NmcError(method, body.error);
  if (body.result_type !== method) throw new Error(`${method}: response has result_type ${body.result_type}`);
  return body.result;
}

// ---------------------------------------------------------------- the Cashu flow
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run() {
  const info = await call('info', {});
  console.log(`info ${info.name}`);
  // NMC.md §1: the mint's nostr key is the x coordinate of its NUT-06 pubkey.
  if (typeof info.pubkey !== 'string' || info.pubkey.length !== 66 || info.pubkey.slice(2).toLowerCase() !== MINT) {
    throw new Error(`info pubkey ${info.pubkey} does not match the mint key ${MINT}`);
  }

  const quote = await call('mint_quote', { payment_method: 'bolt11', amount: 64, unit: 'sat' });
  const deadline = Date.now() + 60000;
  for (;;) {
    const st = await call('mint_quote_state', { payment_method: 'bolt11', quote_id: quote.quote });
    if (st.state === 'PAID') break;
    if (Date.now() > deadline) throw new Error(`quote ${quote.quote} still ${st.state} after 60 s`);
    await sleep(300);
  }

  const { keysets } = await call('keysets', {});
  const active = keysets.find((k) => k.active === true && k.unit === 'sat');
  if (!active) throw new Error('no active sat keyset');
  const keyed = (await call('keyset_keys', { keyset_id: active.id })).keysets[0];
  if (keyed.id !== active.id) throw new Error(`asked keys of ${active.id}, got ${keyed.id}`);
  const keyset = { id: active.id, keys: keyed.keys, feePpk: active.input_fee_ppk ?? 0 };

  // Seven outputs rather than [64]: more signatures to unblind, checkstate over many Ys.
  const mintOutputs = makeOutputs([32, 16, 8, 4, 2, 1, 1], keyset);
  const minted = await call('mint', { payment_method: 'bolt11', quote: quote.quote, outputs: blindedMessages(mintOutputs, keyset) });
  const proofs = unblindAll(mintOutputs, minted.signatures, keyset);
  console.log(`minted ${proofs.reduce((s, p) => s + p.amount, 0)}`);

  // NUT-02 fees: ceil(sum of per-input ppk / 1000) comes off the outputs.
  const fee = Math.ceil((keyset.feePpk * proofs.length) / 1000);
  const swapTotal = 64 - fee;
  const swapAmounts = fee === 0 ? [32, 32] : splitAmount(swapTotal);
  const swapOutputs = makeOutputs(swapAmounts, keyset);
  const swapped = await call('swap', { inputs: proofs, outputs: blindedMessages(swapOutputs, keyset) });
  const newProofs = unblindAll(swapOutputs, swapped.signatures, keyset);
  console.log(`swapped ${newProofs.reduce((s, p) => s + p.amount, 0)}`);

  const stateOf = async (ps) => {
    const Ys = ps.map((p) => yOfSecret(p.secret).toHex(true));
    const { states } = await call('checkstate', { Ys });
    // NUT-07 answers in request order; match by Y anyway.
    return Ys.map((Y) => states.find((s) => s.Y === Y)?.state);
  };
  const oldStates = await stateOf(proofs);
  const newStates = await stateOf(newProofs);
  if (!oldStates.every((s) => s === 'SPENT')) throw new Error(`old proofs not all SPENT: ${oldStates}`);
  if (!newStates.every((s) => s === 'UNSPENT')) throw new Error(`new proofs not all UNSPENT: ${newStates}`);
  console.log(`checkstate spent ${oldStates.length} unspent ${newStates.length}`);

  // The double spend, with fresh outputs so that only the spent inputs can be the reason.
  try {
    const again = makeOutputs(swapAmounts, keyset);
    await call('swap', { inputs: proofs, outputs: blindedMessages(again, keyset) });
    throw new Error('double spend was accepted');
  } catch (e) {
    if (!(e instanceof NmcError) || e.nmc.code !== 'MINT_ERROR' || e.nmc.cashu?.code !== 11001) throw e;
    console.log(`double spend refused ${e.nmc.cashu.code}`);
  }
  console.log('ok');
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--selftest' && args.length === 2) return selftest(args[1]);
  if (args.length !== 2 || !/^wss?:\/\//.test(args[0]) || !/^[0-9a-fA-F]{64}$/.test(args[1])) {
    console.error('usage: nmc_wallet.mjs <relay ws url> <mint x-only pubkey hex> | --selftest <nut00 vectors json>');
    process.exit(2);
  }
  if (typeof WebSocket === 'undefined') {
    console.error('no global WebSocket: run node with --experimental-websocket');
    process.exit(2);
  }
  MINT = args[1].toLowerCase();
  // Loaded only now, because nostr-tools/relay captures the global WebSocket when it loads.
  const { Relay } = require('nostr-tools/relay');
  let code = 0;
  try {
    relay = await Relay.connect(args[0], { timeout: 10000 });
    await run();
  } catch (e) {
    console.error(`error: ${e?.stack || e}`);
    code = 1;
  } finally {
    relay?.close();
  }
  process.exit(code);
}

main();
