// What a login reads about its user and keeps for the next one, per store (per node): the user found by a canonical
// name, the user's usable OTP credentials (sealed secrets, as stored), the logins with a key begun here and the keys
// they used (public keys and counters).
//
// Nothing here is trusted on its own. A login decided on cached state commits through Store.commitOTPAllow (or
// commitWebAuthnAllow), whose one statement applies only if the user, the counter, the application and the
// credential (and the ceremony) are still as cached; otherwise nothing is written, the entries are dropped, and the
// login takes the ordinary path. A change made on another node (a credential removed or used, a user disabled,
// renamed or deleted) is therefore honoured at once.

import { Bounded } from "../bounded-map.ts";
import type { OTPCredential, User, WebAuthnCeremony, WebAuthnCredential } from "../model.ts";
import type { Store } from "../ports.ts";
import { OTPCodeMemo } from "./otp-credentials.ts";

/** Users kept per node: the least recently used go first. */
const LIMIT = 10_000;

export class LoginCache {
  /** By canonical name: only users found under their own name (not an alias or an e-mail). */
  readonly users = new Bounded<User>(LIMIT);
  /** By user id: the credentials listUsableOTPCredentials returned, updated by this node's own allows. */
  readonly credentials = new Bounded<OTPCredential[]>(LIMIT);
  /** The codes of those credentials, computed once each (a look-ahead that moves by one computes one code). */
  readonly codes = new OTPCodeMemo();
  /**
   * Logins with a key begun on this node while the user's `webauthn` class was clear, by ceremony id: the ceremony
   * as stored and its user as found then.
   */
  readonly ceremonies = new Bounded<{ ceremony: WebAuthnCeremony; user: User }>(LIMIT);
  /** WebAuthn credentials by their credential ID, as last read or as this node's own allows left them. */
  readonly keys = new Bounded<WebAuthnCredential>(LIMIT);

  forget(user: User): void {
    this.users.delete(user.usernameCanonical);
    for (const c of this.credentials.get(user.id) ?? []) this.codes.forget(c.id);
    this.credentials.delete(user.id);
  }
}

const caches = new WeakMap<Store, LoginCache>();

/** The cache of a store (the runtime's own, not a transaction's). */
export function loginCacheOf(store: Store): LoginCache {
  let cache = caches.get(store);
  if (!cache) {
    cache = new LoginCache();
    caches.set(store, cache);
  }
  return cache;
}
