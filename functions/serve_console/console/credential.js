// Keeping the operator signed in across reloads of one tab, without ever storing the
// credential in clear.
//
// The credential is encrypted (AES-GCM) with a key WebCrypto generates as non-extractable:
// no script, this one included, can read the key's bytes; it can only ask the browser to
// use it. The key is kept in IndexedDB (which stores the opaque CryptoKey object), the
// ciphertext in sessionStorage (this tab only, gone when it closes). Someone who copies
// the storage gets ciphertext and no key material. Signing out deletes both.
// Where WebCrypto is missing (a page not served over HTTPS), nothing is kept: the
// operator signs in again after a reload.

const SEALED = "meshline-console-sealed-credential";
const DATABASE = "meshline-console";
const STORE = "keys";
const KEY_NAME = "credential-key";

const available = () => Boolean(globalThis.crypto && crypto.subtle && globalThis.indexedDB);

function request(operation) {
  return new Promise((resolve, reject) => {
    operation.onsuccess = () => resolve(operation.result);
    operation.onerror = () => reject(operation.error);
  });
}

async function database() {
  const opening = indexedDB.open(DATABASE, 1);
  opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
  return request(opening);
}

async function withStore(mode, work) {
  const db = await database();
  try {
    return await request(work(db.transaction(STORE, mode).objectStore(STORE)));
  } finally {
    db.close();
  }
}

async function key(create) {
  const found = await withStore("readonly", (store) => store.get(KEY_NAME));
  if (found || !create) return found || null;
  const fresh = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  await withStore("readwrite", (store) => store.put(fresh, KEY_NAME));
  return fresh;
}

const toBase64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** Keep `token` for reloads of this tab, encrypted. */
export async function seal(token) {
  if (!available()) return false;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await key(true), new TextEncoder().encode(token));
  sessionStorage.setItem(SEALED, JSON.stringify({ iv: toBase64(iv), sealed: toBase64(sealed) }));
  return true;
}

/** The credential kept by `seal` in this tab, or null. */
export async function unseal() {
  const kept = available() && sessionStorage.getItem(SEALED);
  if (!kept) return null;
  try {
    const { iv, sealed } = JSON.parse(kept);
    const secret = await key(false);
    if (!secret) throw new Error("no key");
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64(iv) }, secret, fromBase64(sealed));
    return new TextDecoder().decode(plain);
  } catch {
    await forget();
    return null;
  }
}

export async function forget() {
  sessionStorage.removeItem(SEALED);
  if (!available()) return;
  try {
    await withStore("readwrite", (store) => store.delete(KEY_NAME));
  } catch {
    // Nothing kept, nothing to delete.
  }
}
