// Decrypts one NIP-44 payload with nostr-tools, as a JavaScript wallet would.
// stdin: {"secret": "<receiver's secret key, hex>", "sender": "<sender's x-only key, hex>",
//         "payload": "<base64>"}; stdout: the plaintext. Exits non-zero if nostr-tools refuses it.
// nostr-tools is found through NODE_PATH (scripts/setup.sh installs it).
const { v2 } = require('nostr-tools/nip44');
const { hexToBytes } = require('nostr-tools/utils');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { secret, sender, payload } = JSON.parse(input);
  const key = v2.utils.getConversationKey(hexToBytes(secret), sender);
  process.stdout.write(v2.decrypt(payload, key));
});
