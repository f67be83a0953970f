// The accounts kept on this device, in IndexedDB: CryptoKey objects are stored as they are (structured clone),
// so the non-extractable device and TOTP keys are never turned into bytes.
const DB_NAME = "twofold-authenticator";
const DB_VERSION = 1;
const STORE = "accounts";

/**
 * An account: { id, origin, deviceId, username, organization, deviceName, signingKey (ECDSA private CryptoKey),
 * totpKey (HMAC CryptoKey), totp: { algorithm, digits, period, issuer, account }, pushEnabled, createdAt }.
 * id is origin + " " + deviceId: one server may hold several activations, and several servers the same user.
 */
export function accountId(origin, deviceId) {
  return `${origin} ${deviceId}`;
}

let opening;

function openDatabase() {
  opening ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: "id" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("the account database is in use by an older version"));
  });
  return opening;
}

async function run(mode, operation) {
  const db = await openDatabase();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = operation(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

export async function listAccounts() {
  const accounts = await run("readonly", (store) => store.getAll());
  return accounts.sort((a, b) => a.createdAt - b.createdAt);
}

export function saveAccount(account) {
  return run("readwrite", (store) => store.put(account));
}

export function deleteAccount(id) {
  return run("readwrite", (store) => store.delete(id));
}
