// The server's VAPID key pair (RFC 8292): made once, sealed in the database, the same on every node.
import { deriveP256PublicKey, generateP256KeyPair } from "../core/crypto/index.ts";
import type { Keyring } from "../core/crypto/keyring.ts";
import type { Store } from "../core/ports.ts";
import { Secret } from "../core/secret.ts";
import { metaSealContext } from "../core/use-cases/key-rotation.ts";

const META_KEY = "push.vapid.private";
const SEAL = metaSealContext(META_KEY);

export interface VAPIDKeyPair {
  publicKeyRaw: Uint8Array;
  privateKey: Secret<Uint8Array>;
}

/**
 * Read the VAPID key, creating it on first use. Nodes racing at first start all insert-if-absent and then
 * read back, so they end up with the one key that won. Devices' subscriptions are bound to it, so it is
 * never rotated implicitly (key rotation re-seals it like every other secret).
 */
export async function loadVAPIDKeys(store: Store, keyring: Keyring): Promise<VAPIDKeyPair> {
  let sealed = await store.getMeta(META_KEY);
  if (sealed === undefined) {
    const fresh = generateP256KeyPair();
    await store.insertMetaIfAbsent(META_KEY, keyring.seal(fresh.privateKey, SEAL));
    sealed = await store.getMeta(META_KEY);
  }
  const privateKey = keyring.open(sealed!, SEAL);
  return { privateKey: new Secret(privateKey), publicKeyRaw: deriveP256PublicKey(privateKey) };
}
