// The accounts kept on this device, in IndexedDB: CryptoKey objects are stored as they are (structured clone),
// so the non-extractable device and TOTP keys are never turned into bytes.
const DB_NAME = "twofold-authenticator";
const DB_VERSION = 1;
const STORE = "accounts";

export interface AccountTOTP {
  algorithm: string;
  digits: number;
  period: number;
  issuer?: string;
  account?: string;
}

/**
 * One activation. id is origin + " " + deviceId: one server may hold several activations, and several servers
 * the same user.
 */
export interface Account {
  id: string;
  origin: string;
  deviceId: string;
  username: string;
  organization: string;
  deviceName: string;
  /** ECDSA P-256 private key, not extractable. */
  signingKey: CryptoKey;
  /** HMAC key holding the TOTP seed, not extractable. */
  totpKey: CryptoKey;
  totp: AccountTOTP;
  pushEnabled: boolean;
  createdAt: number;
}

export function accountId(origin: string, deviceId: string): string {
  return `${origin} ${deviceId}`;
}

let opening: Promise<IDBDatabase> | undefined;

function openDatabase(): Promise<IDBDatabase> {
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

async function run<T>(
  mode: IDBTransactionMode,
  operation: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await openDatabase();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = operation(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

export async function listAccounts(): Promise<Account[]> {
  const accounts = (await run("readonly", (store) => store.getAll())) as Account[];
  return accounts.sort((a, b) => a.createdAt - b.createdAt);
}

export async function saveAccount(account: Account): Promise<void> {
  await run("readwrite", (store) => store.put(account));
}

export async function deleteAccount(id: string): Promise<void> {
  await run("readwrite", (store) => store.delete(id));
}
