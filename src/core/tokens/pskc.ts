// Parses RFC 6030 Portable Symmetric Key Container (PSKC) files from token vendors into ImportedTokens.
import { DOMParser, type Element } from "@xmldom/xmldom";
import {
  constantTimeEqual,
  decryptAESCBCWithIV,
  type HashAlgorithm,
  hmac,
  pbkdf2,
  unwrapAESKW,
} from "../crypto/index.ts";
import { type ErrorIssue, isTwofoldError } from "../errors.ts";
import {
  checkImportedToken,
  createImportError,
  findDuplicateSerials,
  type ImportedToken,
  type ImportedTokenField,
  MAX_IMPORT_BYTES,
} from "./imported-token.ts";

export interface PSKCOptions {
  /** RFC 6030 §6.1: the AES key shared with the vendor out of band (16, 24 or 32 bytes). */
  preSharedKey?: Uint8Array;
  /** RFC 6030 §6.2: the password a PBKDF2 key is derived from. */
  password?: string;
}

const NS_PSKC = "urn:ietf:params:xml:ns:keyprov:pskc";
const NS_XENC = "http://www.w3.org/2001/04/xmlenc#";
const NS_XENC11 = "http://www.w3.org/2009/xmlenc11#";
const NS_DS = "http://www.w3.org/2000/09/xmldsig#";
const NS_PKCS5 = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#";

/** Key@Algorithm values we import. RFC 6030 §10.1 defines the `:hotp` form; vendors also write `#hotp`. */
const KEY_ALGORITHMS = new Map<string, "hotp" | "totp">([
  [`${NS_PSKC}:hotp`, "hotp"],
  [`${NS_PSKC}#hotp`, "hotp"],
  [`${NS_PSKC}:totp`, "totp"],
  [`${NS_PSKC}#totp`, "totp"],
  // The namespace of the PSKC drafts, still written by some token vendors' tools.
  ["http://www.ietf.org/keyprov/pskc#hotp", "hotp"],
  ["http://www.ietf.org/keyprov/pskc#totp", "totp"],
]);

interface Cipher {
  /** cbc: XML Encryption §5.2 block cipher, IV prepended; kw: RFC 3394 key wrap (integrity built in). */
  mode: "cbc" | "kw";
  bits: 128 | 192 | 256;
}

const CIPHERS = new Map<string, Cipher>([
  [`${NS_XENC}aes128-cbc`, { mode: "cbc", bits: 128 }],
  [`${NS_XENC}aes192-cbc`, { mode: "cbc", bits: 192 }],
  [`${NS_XENC}aes256-cbc`, { mode: "cbc", bits: 256 }],
  [`${NS_XENC}kw-aes128`, { mode: "kw", bits: 128 }],
  [`${NS_XENC}kw-aes192`, { mode: "kw", bits: 192 }],
  [`${NS_XENC}kw-aes256`, { mode: "kw", bits: 256 }],
]);

/** HMAC URIs for MACMethod (RFC 6030 §6.1.1) and the PBKDF2 PRF (RFC 8018 App. C). */
const HMAC_ALGORITHMS = new Map<string, HashAlgorithm>([
  [`${NS_DS}hmac-sha1`, "SHA1"],
  ["http://www.w3.org/2001/04/xmldsig-more#hmac-sha256", "SHA256"],
  ["http://www.w3.org/2001/04/xmldsig-more#hmac-sha512", "SHA512"],
]);

// RFC 6030 §6.2 names PBKDF2 by the PKCS #5 schema URI; XML Encryption 1.1 has its own; some tools drop "v2-0".
const PBKDF2_ALGORITHMS = new Set([
  `${NS_PKCS5}pbkdf2`,
  "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5#pbkdf2",
  `${NS_XENC11}pbkdf2`,
]);

/** A hostile file must not make an import spin for minutes; vendor files use a few thousand iterations. */
const MAX_PBKDF2_ITERATIONS = 1_000_000;

/** RFC 6238 §4.1: X defaults to 30 seconds. */
const DEFAULT_TOTP_PERIOD = 30;

const NEED_KEY_MESSAGE = "this file's secrets are encrypted; give the pre-shared key (--psk) or password";

/**
 * Parse a PSKC key container into tokens. Either every token in the file is returned, or a
 * TwofoldError is thrown: ERR_IMPORT_INVALID for a malformed file, ERR_IMPORT_DECRYPT when the
 * secrets are encrypted and the key is missing or wrong. Each issue's path names the element at
 * fault, KeyPackage counted from 1 (e.g. `KeyPackage[3]/Key/Data/Secret/PlainValue`).
 */
export function parsePSKC(xml: string, options: PSKCOptions = {}): ImportedToken[] {
  return new PSKCReader(options).read(xml);
}

interface KeyMaterial {
  key: Uint8Array;
}

interface MACKey {
  algorithm: HashAlgorithm;
  key: Uint8Array;
}

class PSKCReader {
  readonly #options: PSKCOptions;
  /** Problems with the file itself. */
  readonly #invalid: ErrorIssue[] = [];
  /** Values that could not be decrypted or authenticated with the key given. */
  readonly #undecryptable: ErrorIssue[] = [];
  /** Set when encrypted values are present but no usable key or password was given. */
  #keyNeeded: ErrorIssue | undefined;
  /** Every serial found, with where, for the duplicate check — also from packages with other problems. */
  readonly #serials: { serial: string; path: string }[] = [];
  #root!: Element;
  #encryptionKey: KeyMaterial | null | undefined;
  #macKey: MACKey | null | undefined;

  constructor(options: PSKCOptions) {
    this.#options = options;
  }

  read(xml: string): ImportedToken[] {
    const root = this.#parseDocument(xml);
    this.#root = root;

    // RFC 6030 §1.2: a higher minor version only adds what an older reader may ignore; only major 1 exists.
    const version = root.getAttribute("Version");
    if (version !== null && !/^1(\.\d+)?$/.test(version))
      this.#fail(
        "KeyContainer",
        `Version ${JSON.stringify(version)} is not supported; RFC 6030 defines 1.0`,
        root,
      );

    const packages = childElements(root, NS_PSKC, "KeyPackage");
    if (packages.length === 0) this.#fail("KeyContainer", "has no KeyPackage", root);

    const tokens: ImportedToken[] = [];
    packages.forEach((pkg, i) => {
      const token = this.#readKeyPackage(pkg, `KeyPackage[${i + 1}]`);
      if (token) tokens.push(token);
    });
    this.#invalid.push(...findDuplicateSerials(this.#serials));

    if (this.#invalid.length > 0) {
      const issues = [
        ...this.#invalid,
        ...this.#undecryptable,
        ...(this.#keyNeeded ? [this.#keyNeeded] : []),
      ];
      throw createImportError(
        "ERR_IMPORT_INVALID",
        `the PSKC file has ${plural(this.#invalid.length, "problem")}; nothing was imported`,
        issues,
      );
    }
    if (this.#keyNeeded) throw createImportError("ERR_IMPORT_DECRYPT", NEED_KEY_MESSAGE, [this.#keyNeeded]);
    if (this.#undecryptable.length > 0)
      throw createImportError(
        "ERR_IMPORT_DECRYPT",
        "the secrets could not be decrypted: wrong pre-shared key or password, or the file was altered",
        this.#undecryptable,
      );
    return tokens;
  }

  /** Size and DTD checks on the raw text, then a namespace-aware parse; any problem here ends the import. */
  #parseDocument(xml: string): Element {
    if (Buffer.byteLength(xml, "utf8") > MAX_IMPORT_BYTES)
      throw createImportError("ERR_IMPORT_INVALID", "the PSKC file is too large", [
        { path: "file", message: `is larger than ${MAX_IMPORT_BYTES / (1024 * 1024)} MB` },
      ]);
    // PSKC needs no DTD. Refusing any DOCTYPE or ENTITY declaration before parsing rules out external
    // entity (XXE) and entity-expansion ("billion laughs") attacks whatever the parser would do with them.
    const dtd = /<!(DOCTYPE|ENTITY)/i.exec(xml);
    if (dtd)
      throw createImportError("ERR_IMPORT_INVALID", "the PSKC file contains a DTD, which is refused", [
        {
          path: dtd[1]!.toUpperCase(),
          message: `line ${lineAt(xml, dtd.index)}: DOCTYPE and ENTITY declarations are not allowed`,
        },
      ]);

    let doc: ReturnType<DOMParser["parseFromString"]>;
    try {
      doc = new DOMParser({
        onError: (level, message) => {
          // Warnings (e.g. a redundant namespace declaration) do not change the tree; errors might.
          if (level !== "warning") throw new Error(message);
        },
      }).parseFromString(xml.replace(/^\uFEFF/, ""), "text/xml");
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      throw createImportError("ERR_IMPORT_INVALID", "the PSKC file is not well-formed XML", [
        { path: "XML", message: message.replace(/^\[xmldom [a-zA-Z]+\]\s*/, "") },
      ]);
    }
    const root = doc.documentElement;
    if (doc.doctype !== null || !root || root.namespaceURI !== NS_PSKC || root.localName !== "KeyContainer")
      throw createImportError("ERR_IMPORT_INVALID", "the file is not a PSKC key container", [
        { path: "KeyContainer", message: `the root element must be KeyContainer in namespace ${NS_PSKC}` },
      ]);
    return root;
  }

  #readKeyPackage(pkg: Element, base: string): ImportedToken | undefined {
    const problemsBefore = this.#problemCount();

    // RFC 6030 §4.3.1: DeviceInfo says which physical token this key lives in.
    const device = this.#single(pkg, NS_PSKC, "DeviceInfo", base);
    const devicePath = `${base}/DeviceInfo`;
    const manufacturer = textOrNull(device && this.#single(device, NS_PSKC, "Manufacturer", devicePath));
    const serialNo = textOrNull(device && this.#single(device, NS_PSKC, "SerialNo", devicePath));
    const model = textOrNull(device && this.#single(device, NS_PSKC, "Model", devicePath));

    const key = this.#single(pkg, NS_PSKC, "Key", base);
    const keyPath = `${base}/Key`;
    if (!key) {
      this.#fail(base, "has no Key", pkg);
      return undefined;
    }

    const algorithmURI = key.getAttribute("Algorithm") ?? "";
    const type = KEY_ALGORITHMS.get(algorithmURI);
    if (!type)
      this.#fail(
        keyPath,
        `Algorithm ${JSON.stringify(algorithmURI)} is not supported; only HOTP and TOTP tokens can be imported`,
        key,
      );

    const paramsPath = `${keyPath}/AlgorithmParameters`;
    const params = this.#single(key, NS_PSKC, "AlgorithmParameters", keyPath);
    const suite = params && this.#single(params, NS_PSKC, "Suite", paramsPath);
    const algorithm = suite ? this.#readSuite(suite, `${paramsPath}/Suite`) : "SHA1";
    const formatPath = `${paramsPath}/ResponseFormat`;
    const format = params && this.#single(params, NS_PSKC, "ResponseFormat", paramsPath);
    const digits = format ? this.#readResponseFormat(format, formatPath) : undefined;
    if (!format)
      this.#fail(formatPath, "is missing; it gives the number of digits the token shows", params ?? key);

    const dataPath = `${keyPath}/Data`;
    const data = this.#single(key, NS_PSKC, "Data", keyPath);
    if (!data) {
      this.#fail(dataPath, "is missing; it holds the token's secret", key);
      return undefined;
    }
    const secretPath = `${dataPath}/Secret`;
    const secretElement = this.#single(data, NS_PSKC, "Secret", dataPath);
    if (!secretElement) this.#fail(secretPath, "is missing", data);
    const secret = secretElement && this.#readBinary(secretElement, secretPath);

    const counterPath = `${dataPath}/Counter`;
    const periodPath = `${dataPath}/TimeInterval`;
    let counter: number | undefined = 0;
    let period: number | null | undefined = null;
    if (type === "hotp") {
      const element = this.#single(data, NS_PSKC, "Counter", dataPath);
      // RFC 6030 §10.1 asks for a Counter; some vendor tools leave it out for new tokens, which start at 0.
      counter = element ? this.#readInteger(element, counterPath) : 0;
    } else if (type === "totp") {
      const element = this.#single(data, NS_PSKC, "TimeInterval", dataPath);
      period = element ? this.#readInteger(element, periodPath) : DEFAULT_TOTP_PERIOD;
    }
    // Data/Time (time steps already elapsed) and Data/TimeDrift are not needed: Twofold counts steps from the Unix epoch.

    // RFC 6030 makes SerialNo optional; Key@Id is mandatory and, without a serial, is what the vendor prints.
    const serial = serialNo ?? key.getAttribute("Id")?.trim() ?? "";
    const serialPath = serialNo !== null ? `${devicePath}/SerialNo` : `${keyPath}/@Id`;
    if (serial !== "") this.#serials.push({ serial, path: serialPath });

    if (
      this.#problemCount() > problemsBefore ||
      !type ||
      !algorithm ||
      digits === undefined ||
      secret === undefined ||
      counter === undefined ||
      period === undefined
    )
      return undefined;

    const paths: Record<ImportedTokenField, string> = {
      serial: serialPath,
      type: keyPath,
      algorithm: `${paramsPath}/Suite`,
      digits: formatPath,
      period: periodPath,
      counter: counterPath,
      secret: secretPath,
    };
    const token: ImportedToken = {
      serial,
      type,
      algorithm,
      digits,
      period,
      counter,
      secret,
      manufacturer,
      model,
    };
    const issues = checkImportedToken(token, (field) => paths[field]);
    this.#invalid.push(...issues);
    return issues.length === 0 ? token : undefined;
  }

  /** The hash a TOTP/HOTP key uses, from `<Suite hash="SHA256"/>` or `<Suite>HMAC-SHA256</Suite>`. */
  #readSuite(suite: Element, path: string): "SHA1" | "SHA256" | "SHA512" | undefined {
    const raw = suite.getAttribute("hash") ?? text(suite);
    const name = raw.toUpperCase().replace(/[^A-Z0-9]/g, "");
    if (name.includes("SHA512")) return "SHA512";
    if (name.includes("SHA256")) return "SHA256";
    if (name.includes("SHA1")) return "SHA1";
    this.#fail(path, `hash ${JSON.stringify(raw)} is not supported; use SHA1, SHA256 or SHA512`, suite);
    return undefined;
  }

  /** RFC 6030 §4.3.4 ResponseFormat: Length digits, Encoding DECIMAL for HOTP/TOTP (§10.1). */
  #readResponseFormat(format: Element, path: string): 6 | 8 | undefined {
    const encoding = format.getAttribute("Encoding");
    // Encoding is required by the schema but some vendor tools leave it out; OTP codes are decimal anyway.
    if (encoding !== null && encoding !== "DECIMAL")
      this.#fail(path, `Encoding ${JSON.stringify(encoding)} is not supported; only DECIMAL`, format);
    const length = format.getAttribute("Length");
    if (length === "6" || length === "8") return length === "6" ? 6 : 8;
    this.#fail(path, `Length ${JSON.stringify(length ?? "")} is not supported; it must be 6 or 8`, format);
    return undefined;
  }

  /** A binary data element (RFC 6030 §4.1): base64 PlainValue, or EncryptedValue with its ValueMAC. */
  #readBinary(element: Element, path: string): Uint8Array | undefined {
    const plain = this.#single(element, NS_PSKC, "PlainValue", path);
    const encrypted = this.#single(element, NS_PSKC, "EncryptedValue", path);
    if (plain && encrypted) {
      this.#fail(path, "has both PlainValue and EncryptedValue", element);
      return undefined;
    }
    if (plain) {
      const bytes = decodeBase64(text(plain));
      if (!bytes) this.#fail(`${path}/PlainValue`, "is not valid base64", plain);
      return bytes;
    }
    if (encrypted) return this.#decryptValue(element, encrypted, path);
    this.#fail(path, "has neither PlainValue nor EncryptedValue", element);
    return undefined;
  }

  /** An integer data element: decimal PlainValue, or EncryptedValue holding a big-endian unsigned integer. */
  #readInteger(element: Element, path: string): number | undefined {
    const plain = this.#single(element, NS_PSKC, "PlainValue", path);
    if (plain) {
      const value = text(plain);
      const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      if (Number.isSafeInteger(n)) return n;
      this.#fail(`${path}/PlainValue`, `${JSON.stringify(value)} is not a non-negative whole number`, plain);
      return undefined;
    }
    const bytes = this.#readBinary(element, path);
    if (!bytes) return undefined;
    let n = 0;
    for (const byte of bytes) n = n * 256 + byte;
    if (bytes.length > 0 && Number.isSafeInteger(n)) return n;
    this.#fail(path, "the decrypted value is not a usable whole number", element);
    return undefined;
  }

  /**
   * Decrypt the EncryptedValue of a data element. With AES-CBC, RFC 6030 §6.1.1 requires a ValueMAC
   * over IV ‖ ciphertext; it is checked in constant time before anything is decrypted (encrypt-then-MAC).
   */
  #decryptValue(dataElement: Element, encrypted: Element, path: string): Uint8Array | undefined {
    const encryptedPath = `${path}/EncryptedValue`;
    const parsed = this.#readCipher(encrypted, encryptedPath);
    if (!parsed) return undefined;
    const valueMAC = this.#single(dataElement, NS_PSKC, "ValueMAC", path);
    const macPath = `${path}/ValueMAC`;
    if (!valueMAC && parsed.cipher.mode === "cbc") {
      // Without a MAC a wrong key yields garbage that passes CBC padding about one time in 256.
      this.#fail(
        macPath,
        "is missing; RFC 6030 §6.1.1 requires a ValueMAC for AES-CBC encrypted values",
        dataElement,
      );
      return undefined;
    }
    const expectedMAC = valueMAC ? decodeBase64(text(valueMAC)) : undefined;
    if (valueMAC && !expectedMAC) {
      this.#fail(macPath, "is not valid base64", valueMAC);
      return undefined;
    }

    const material = this.#getEncryptionKey(encryptedPath);
    if (!material) return undefined;
    if (expectedMAC) {
      const mac = this.#getMACKey(macPath);
      if (!mac) return undefined;
      if (!constantTimeEqual(hmac(mac.algorithm, mac.key, parsed.data), expectedMAC)) {
        this.#undecryptable.push({
          path: macPath,
          message: "does not match: wrong pre-shared key or password, or the file was altered",
        });
        return undefined;
      }
    }
    return this.#decipher(parsed, material, encryptedPath);
  }

  /** EncryptionMethod + CipherData/CipherValue (XML Encryption §3.2, §3.3). */
  #readCipher(container: Element, path: string): { cipher: Cipher; data: Uint8Array } | undefined {
    const method = this.#single(container, NS_XENC, "EncryptionMethod", path);
    const methodPath = `${path}/EncryptionMethod`;
    let cipher: Cipher | undefined;
    if (!method) this.#fail(methodPath, "is missing", container);
    else {
      const uri = method.getAttribute("Algorithm") ?? "";
      cipher = CIPHERS.get(uri);
      if (!cipher)
        this.#fail(
          methodPath,
          `Algorithm ${JSON.stringify(uri)} is not supported; use aes128/192/256-cbc or kw-aes128/192/256`,
          method,
        );
    }
    const cipherDataPath = `${path}/CipherData`;
    const cipherData = this.#single(container, NS_XENC, "CipherData", path);
    const cipherValue = cipherData && this.#single(cipherData, NS_XENC, "CipherValue", cipherDataPath);
    if (!cipherValue) {
      this.#fail(
        `${cipherDataPath}/CipherValue`,
        "is missing (a CipherReference is not supported)",
        container,
      );
      return undefined;
    }
    const data = decodeBase64(text(cipherValue));
    if (!data) this.#fail(`${cipherDataPath}/CipherValue`, "is not valid base64", cipherValue);
    return cipher && data ? { cipher, data } : undefined;
  }

  #decipher(
    parsed: { cipher: Cipher; data: Uint8Array },
    material: KeyMaterial,
    path: string,
  ): Uint8Array | undefined {
    const { cipher, data } = parsed;
    if (material.key.length * 8 !== cipher.bits) {
      this.#undecryptable.push({
        path: `${path}/EncryptionMethod`,
        message: `needs a ${cipher.bits}-bit key but the key given is ${material.key.length * 8} bits`,
      });
      return undefined;
    }
    try {
      return cipher.mode === "cbc"
        ? decryptAESCBCWithIV(material.key, data)
        : unwrapAESKW(material.key, data);
    } catch (error) {
      if (!isTwofoldError(error)) throw error;
      this.#undecryptable.push({ path, message: error.message });
      return undefined;
    }
  }

  /**
   * The key that protects the file's secrets, found once from KeyContainer/EncryptionKey: a key name
   * means a pre-shared key (§6.1), a DerivedKey means a password (§6.2). Asymmetric keys (§6.3) are not supported.
   */
  #getEncryptionKey(valuePath: string): KeyMaterial | undefined {
    if (this.#encryptionKey !== undefined) return this.#encryptionKey ?? undefined;
    this.#encryptionKey = null;
    const element = this.#single(this.#root, NS_PSKC, "EncryptionKey", "");
    const path = "EncryptionKey";
    const derived = element && this.#single(element, NS_XENC11, "DerivedKey", path);
    if (derived) {
      if (this.#options.password === undefined) {
        this.#keyNeeded = {
          path: `${path}/DerivedKey`,
          message:
            "the secrets are encrypted with a key derived from a password (RFC 6030 §6.2); give the password",
        };
        return undefined;
      }
      const key = this.#deriveKey(derived, `${path}/DerivedKey`, this.#options.password);
      if (key) this.#encryptionKey = { key };
      return key ? { key } : undefined;
    }
    if (element && childElements(element, NS_DS, "X509Data").length > 0) {
      this.#undecryptable.push({
        path,
        message:
          "asymmetric encryption (RFC 6030 §6.3) is not supported; ask the vendor for a pre-shared key",
      });
      return undefined;
    }
    const psk = this.#options.preSharedKey;
    if (!psk) {
      this.#keyNeeded = {
        path: element ? path : valuePath,
        message: "the secrets are encrypted with a pre-shared key (RFC 6030 §6.1); give it (--psk)",
      };
      return undefined;
    }
    this.#encryptionKey = { key: psk };
    return this.#encryptionKey;
  }

  /** RFC 6030 §6.2 with RFC 8018 §5.2: PBKDF2 over the UTF-8 password with the file's salt, count and length. */
  #deriveKey(derived: Element, path: string, password: string): Uint8Array | undefined {
    const methodPath = `${path}/KeyDerivationMethod`;
    const method = this.#single(derived, NS_XENC11, "KeyDerivationMethod", path);
    if (!method) {
      this.#fail(methodPath, "is missing", derived);
      return undefined;
    }
    const uri = method.getAttribute("Algorithm") ?? "";
    if (!PBKDF2_ALGORITHMS.has(uri)) {
      this.#fail(methodPath, `Algorithm ${JSON.stringify(uri)} is not supported; only PBKDF2`, method);
      return undefined;
    }
    const paramsPath = `${methodPath}/PBKDF2-params`;
    const params =
      childElements(method, NS_PKCS5, "PBKDF2-params")[0] ??
      childElements(method, NS_XENC11, "PBKDF2-params")[0];
    if (!params) {
      this.#fail(paramsPath, "is missing", method);
      return undefined;
    }
    // RFC 8018 App. C's schema leaves the parameter children unqualified, and files in the wild put them in
    // whatever namespace is the default, so they are matched by local name only.
    const saltElement = childElements(params, null, "Salt")[0];
    const specified = saltElement && childElements(saltElement, null, "Specified")[0];
    const salt = specified && decodeBase64(text(specified));
    if (!salt || salt.length === 0)
      this.#fail(`${paramsPath}/Salt/Specified`, "is missing or not valid base64", specified ?? params);

    const count = integerChild(params, "IterationCount");
    if (count === undefined || count < 1 || count > MAX_PBKDF2_ITERATIONS)
      this.#fail(
        `${paramsPath}/IterationCount`,
        `must be a whole number from 1 to ${MAX_PBKDF2_ITERATIONS}`,
        params,
      );
    const length = integerChild(params, "KeyLength");
    if (length !== 16 && length !== 24 && length !== 32)
      this.#fail(`${paramsPath}/KeyLength`, "must be 16, 24 or 32 (an AES key length in bytes)", params);

    // RFC 8018 App. A.2: the PRF defaults to HMAC-SHA1.
    const prfElement = childElements(params, null, "PRF")[0];
    const prfURI = prfElement?.getAttribute("Algorithm") ?? "";
    const prf = prfURI === "" ? "SHA1" : HMAC_ALGORITHMS.get(prfURI);
    if (!prf)
      this.#fail(
        `${paramsPath}/PRF`,
        `Algorithm ${JSON.stringify(prfURI)} is not supported`,
        prfElement ?? params,
      );

    if (!salt || salt.length === 0 || count === undefined || length === undefined || !prf) return undefined;
    if (count < 1 || count > MAX_PBKDF2_ITERATIONS || (length !== 16 && length !== 24 && length !== 32))
      return undefined;
    return pbkdf2(new TextEncoder().encode(password), salt, count, length, prf);
  }

  /** RFC 6030 §6.1.1: MACMethod names the HMAC; its MACKey is encrypted under the same key as the secrets. */
  #getMACKey(valueMACPath: string): MACKey | undefined {
    if (this.#macKey !== undefined) return this.#macKey ?? undefined;
    this.#macKey = null;
    const path = "MACMethod";
    const method = this.#single(this.#root, NS_PSKC, "MACMethod", "");
    if (!method) {
      this.#fail(valueMACPath, "is present but the file has no MACMethod to check it with", this.#root);
      return undefined;
    }
    const uri = method.getAttribute("Algorithm") ?? "";
    const algorithm = HMAC_ALGORITHMS.get(uri);
    if (!algorithm) this.#fail(path, `Algorithm ${JSON.stringify(uri)} is not supported`, method);
    const keyPath = `${path}/MACKey`;
    const macKeyElement = this.#single(method, NS_PSKC, "MACKey", path);
    if (!macKeyElement) {
      this.#fail(keyPath, "is missing (a MACKeyReference to a key held elsewhere is not supported)", method);
      return undefined;
    }
    const parsed = this.#readCipher(macKeyElement, keyPath);
    const material = this.#getEncryptionKey(keyPath);
    if (!parsed || !material || !algorithm) return undefined;
    const key = this.#decipher(parsed, material, keyPath);
    if (!key) return undefined;
    this.#macKey = { algorithm, key };
    return this.#macKey;
  }

  /** The one child `local` of `parent`, or undefined; more than one is a problem, since we could pick the wrong one. */
  #single(parent: Element, ns: string, local: string, parentPath: string): Element | undefined {
    const found = childElements(parent, ns, local);
    if (found.length > 1)
      this.#fail(
        parentPath ? `${parentPath}/${local}` : local,
        `appears ${found.length} times; only one is allowed`,
        found[1]!,
      );
    return found[0];
  }

  #fail(path: string, message: string, at?: Element): void {
    const line = at?.lineNumber;
    this.#invalid.push({ path, message: line === undefined ? message : `${message} (line ${line})` });
  }

  #problemCount(): number {
    return this.#invalid.length + this.#undecryptable.length + (this.#keyNeeded ? 1 : 0);
  }
}

/** Child elements of `parent` with this local name, in namespace `ns` (any namespace when null). */
function childElements(parent: Element, ns: string | null, local: string): Element[] {
  const out: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (node.nodeType !== 1) continue;
    const element = node as Element;
    if (element.localName === local && (ns === null || element.namespaceURI === ns)) out.push(element);
  }
  return out;
}

function integerChild(parent: Element, local: string): number | undefined {
  const element = childElements(parent, null, local)[0];
  const value = element ? text(element) : "";
  return /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

function text(element: Element): string {
  return (element.textContent ?? "").trim();
}

function textOrNull(element: Element | undefined): string | null {
  const value = element ? text(element) : "";
  return value === "" ? null : value;
}

// XML Schema base64Binary allows whitespace between characters; anything else must be canonical base64,
// because Buffer would otherwise skip stray characters and silently yield different bytes.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(value: string): Uint8Array | undefined {
  const compact = value.replace(/\s+/g, "");
  if (!BASE64.test(compact)) return undefined;
  return new Uint8Array(Buffer.from(compact, "base64"));
}

function lineAt(source: string, index: number): number {
  let line = 1;
  for (let i = source.indexOf("\n"); i !== -1 && i < index; i = source.indexOf("\n", i + 1)) line++;
  return line;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
