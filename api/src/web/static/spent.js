// The /spent page's token box: derives the Ys of a cashu token (V3 `cashuA…` JSON or V4 `cashuB…`
// CBOR) in the browser, with the vendored @noble libraries, and adds them to the Ys field. The
// token box has no `name`, so the form never sends the token: only the Ys reach the server.
import { secp256k1, sha256, bytesToHex, utf8ToBytes, concatBytes } from './noble.js';

const DOMAIN = utf8ToBytes('Secp256k1_HashToCurve_Cashu_');

/** NUT-00 hash_to_curve of `message` (bytes): the compressed point Y, as hex. */
export function hashToCurve(message) {
  const msgHash = sha256(concatBytes(DOMAIN, message));
  const counter = new Uint8Array(4);
  const view = new DataView(counter.buffer);
  for (let i = 0; i < 65536; i++) {
    view.setUint32(0, i, true);
    const x = sha256(concatBytes(msgHash, counter));
    try {
      return secp256k1.Point.fromHex('02' + bytesToHex(x)).toHex(true);
    } catch (_) {
      // Not an x on the curve: next counter.
    }
  }
  throw new Error('hash_to_curve found no point');
}

function base64UrlBytes(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/').replace(/\s+/g, '');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const bin = atob(padded);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// A CBOR decoder for what V4 tokens hold: integers, byte and text strings, arrays, maps, simple
// values, definite lengths only.
function decodeCbor(bytes) {
  let pos = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  function length(info) {
    if (info < 24) return info;
    if (info === 24) { pos += 1; return view.getUint8(pos - 1); }
    if (info === 25) { pos += 2; return view.getUint16(pos - 2); }
    if (info === 26) { pos += 4; return view.getUint32(pos - 4); }
    if (info === 27) { pos += 8; return Number(view.getBigUint64(pos - 8)); }
    throw new Error('unsupported CBOR length');
  }
  function item(depth) {
    if (depth > 16) throw new Error('CBOR nested too deep');
    if (pos >= bytes.length) throw new Error('CBOR ends early');
    const head = bytes[pos++];
    const major = head >> 5;
    const info = head & 31;
    switch (major) {
      case 0: return length(info);
      case 1: return -1 - length(info);
      case 2: { const n = length(info); pos += n; if (pos > bytes.length) throw new Error('CBOR ends early'); return bytes.slice(pos - n, pos); }
      case 3: { const n = length(info); pos += n; if (pos > bytes.length) throw new Error('CBOR ends early'); return new TextDecoder().decode(bytes.slice(pos - n, pos)); }
      case 4: { const n = length(info); const a = []; for (let i = 0; i < n; i++) a.push(item(depth + 1)); return a; }
      case 5: { const n = length(info); const m = {}; for (let i = 0; i < n; i++) { const k = item(depth + 1); m[String(k)] = item(depth + 1); } return m; }
      case 6: length(info); return item(depth + 1);
      case 7:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22 || info === 23) return null;
        throw new Error('unsupported CBOR simple value');
      default: throw new Error('unsupported CBOR item');
    }
  }
  return item(0);
}

/** The secrets of a serialized cashu token (`cashuA…` or `cashuB…`, optionally `cashu:`-prefixed). */
export function tokenSecrets(token) {
  let t = token.trim();
  if (t.toLowerCase().startsWith('cashu:')) t = t.slice(6);
  if (t.startsWith('cashuA')) {
    const json = JSON.parse(new TextDecoder().decode(base64UrlBytes(t.slice(6))));
    return (json.token || []).flatMap((entry) => (entry.proofs || []).map((p) => p.secret));
  }
  if (t.startsWith('cashuB')) {
    const data = decodeCbor(base64UrlBytes(t.slice(6)));
    return (data.t || []).flatMap((group) => (group.p || []).map((p) => p.s));
  }
  throw new Error('not a cashu token: it should start with cashuA or cashuB');
}

/** The Ys of a token's proofs: hash_to_curve of each secret's UTF-8 bytes. */
export function tokenYs(token) {
  return tokenSecrets(token).map((secret) => {
    if (typeof secret !== 'string') throw new Error('a proof has no secret');
    return hashToCurve(utf8ToBytes(secret));
  });
}

function wire() {
  const button = document.getElementById('derive');
  const tokenBox = document.getElementById('token');
  const ysBox = document.getElementById('ys');
  const status = document.getElementById('derive-status');
  if (!button || !tokenBox || !ysBox || !status) return;
  button.hidden = false;
  tokenBox.disabled = false;
  button.addEventListener('click', () => {
    try {
      const ys = tokenYs(tokenBox.value);
      const kept = ysBox.value.trim();
      ysBox.value = (kept ? kept + '\n' : '') + ys.join('\n');
      tokenBox.value = '';
      status.textContent = `${ys.length} Y${ys.length === 1 ? '' : 's'} derived from the token; the token was cleared and is not sent.`;
    } catch (e) {
      status.textContent = `Could not read the token: ${e.message}`;
    }
  });
}

window.mintwatchSpent = { hashToCurve, tokenSecrets, tokenYs };
wire();
