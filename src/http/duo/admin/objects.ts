// Users, phones, tokens and bypass codes as Duo clients read them (duo-compat §5.2–5.5), read through the services.
import type { BypassCode, Device, OTPCredential, Phone, User } from "../../../core/model.ts";
import type { Services } from "../../../core/services.ts";
import type { WebAuthnCredentialView } from "../../../core/use-cases/webauthn.ts";
import { LIST_PAGE, notFound, seconds } from "./admin-route.ts";

const PHONE_TYPE_NAMES: Record<string, string> = {
  unknown: "Unknown",
  mobile: "Mobile",
  landline: "Landline",
};
const PLATFORM_NAMES: Record<string, string> = {
  unknown: "Unknown",
  "google android": "Google Android",
  "apple ios": "Apple iOS",
  "windows phone": "Windows Phone",
  "rim blackberry": "RIM BlackBerry",
  "java j2me": "Java J2ME",
  "palm webos": "Palm WebOS",
  "symbian os": "Symbian OS",
  "windows mobile": "Windows Mobile",
  "generic smartphone": "Generic Smartphone",
};
const AUTHENTICATOR_CAPABILITIES = ["auto", "push", "mobile_otp"];

export type UserSummary = Record<string, unknown>;

export function userSummary(user: User): UserSummary {
  return {
    user_id: user.id,
    username: user.username,
    realname: user.realName ?? "",
    email: user.email ?? "",
    status: user.status,
  };
}

/** A phone as Duo describes one (§5.3); activated means its Twofold Authenticator is active. */
export function phoneObject(
  phone: Phone,
  device: Device | undefined,
  users?: UserSummary[],
): Record<string, unknown> {
  const activated = device?.status === "active";
  return {
    phone_id: phone.id,
    number: phone.number ?? "",
    extension: phone.extension ?? "",
    name: phone.name ?? "",
    predelay: null,
    postdelay: null,
    type: PHONE_TYPE_NAMES[phone.type] ?? "Unknown",
    platform: PLATFORM_NAMES[phone.platform] ?? "Unknown",
    model: activated ? "Twofold Authenticator" : "Unknown",
    activated,
    // `sms` once the number was verified by a code sent to it (E2): it then receives login passcodes.
    capabilities: [
      ...(activated ? AUTHENTICATOR_CAPABILITIES : []),
      ...(phone.number && phone.smsVerifiedAt != null ? ["sms"] : []),
    ],
    sms_verified: phone.smsVerifiedAt != null,
    last_seen: activated && device.lastSeenAt !== null ? new Date(device.lastSeenAt).toISOString() : "",
    sms_passcodes_sent: false,
    encrypted: "",
    fingerprint: "",
    screenlock: "",
    ...(users ? { users } : {}),
  };
}

/** A Twofold Authenticator activated directly (not through a registered phone), shown as a phone. */
export function deviceObject(device: Device, users?: UserSummary[]): Record<string, unknown> {
  return phoneObject(
    {
      id: device.id,
      userId: device.userId,
      number: null,
      extension: null,
      name: device.name,
      type: "mobile",
      platform: "generic smartphone",
      deviceId: device.id,
      createdAt: device.createdAt,
    },
    device,
    users,
  );
}

export function tokenType(c: OTPCredential): string {
  return `${c.type === "hotp" ? "h" : "t"}${c.digits}`;
}

/** A hardware token (§5.4): never its secret. */
export function tokenObject(c: OTPCredential, users?: UserSummary[]): Record<string, unknown> {
  return {
    token_id: c.id,
    type: tokenType(c),
    serial: c.serial ?? "",
    totp_step: c.type === "totp" ? c.period : null,
    ...(users ? { users } : {}),
  };
}

/** Bypass-code metadata (§5.5): never the code or its hash. */
export function bypassObject(c: BypassCode, user: User | undefined): Record<string, unknown> {
  return {
    bypass_code_id: c.id,
    created: seconds(c.createdAt),
    expiration: c.expiresAt === null ? null : seconds(c.expiresAt),
    reuse_count: c.usesLeft,
    admin_email: c.createdBy,
    user: { user_id: c.userId, username: user?.username ?? "" },
  };
}

export function isLive(c: BypassCode, now: number): boolean {
  return (
    c.revokedAt === null &&
    (c.expiresAt === null || c.expiresAt > now) &&
    (c.usesLeft === null || c.usesLeft > 0)
  );
}

/** Devices and registered phones of a user, as Duo's phone list: each authenticator once. */
export async function userPhones(
  services: Services,
  user: User,
  knownDevices?: Device[],
): Promise<Record<string, unknown>[]> {
  const [{ phones }, devices] = await Promise.all([
    services.listPhones({ userId: user.id, limit: LIST_PAGE.max, offset: 0 }),
    knownDevices ?? services.listDevicesOf(user.id),
  ]);
  const byId = new Map(devices.map((d) => [d.id, d]));
  const onPhones = new Set(phones.map((p) => p.deviceId).filter((id): id is string => id !== null));
  return [
    ...phones.map((p) => phoneObject(p, p.deviceId ? byId.get(p.deviceId) : undefined)),
    ...devices.filter((d) => d.status === "active" && !onPhones.has(d.id)).map((d) => deviceObject(d)),
  ];
}

/** A user as Duo describes one (§5.2). */
export async function userObject(services: Services, user: User): Promise<Record<string, unknown>> {
  const devices = await services.listDevicesOf(user.id);
  // Why and until when each factor class refuses attempts (A6). Duo reports a locked user as status
  // "locked out" with a lockout_reason; Twofold locks per factor class, so it says which, in `lockouts`.
  const [aliases, phones, tokens, usable, classes, lastLogin, keys] = await Promise.all([
    services.listUserAliases(user.id),
    userPhones(services, user, devices),
    services.listOTPCredentials({ userId: user.id, kind: "token", limit: LIST_PAGE.max, offset: 0 }),
    services.listUsableOTPCredentials(user.id),
    services.describeUserLockouts(user.id),
    services.lastLoginAt(user.id),
    services.listWebAuthnCredentials(user.username),
  ]);
  const locked = classes.some((l) => l.state === "locked");
  const slots = Object.fromEntries([1, 2, 3, 4].map((n) => [`alias${n}`, aliases[n - 1] ?? null]));
  return {
    user_id: user.id,
    username: user.username,
    ...slots,
    aliases: Object.fromEntries(aliases.map((a, i) => [`alias${i + 1}`, a])),
    realname: user.realName ?? "",
    firstname: null,
    lastname: null,
    email: user.email ?? "",
    status: locked && user.status === "active" ? "locked out" : user.status,
    notes: user.notes ?? "",
    created: seconds(user.createdAt),
    last_login: lastLogin === undefined ? null : seconds(lastLogin),
    last_directory_sync: null,
    is_enrolled:
      usable.length > 0 ||
      devices.some((d) => d.status === "active") ||
      keys.some((k) => k.status === "active"),
    lockout_reason: locked ? "Failed Attempts" : null,
    lockouts: classes.map((l) => ({
      factor_class: l.factorClass,
      state: l.state,
      failures: l.failures,
      last_failure: l.lastFailureAt === null ? null : seconds(l.lastFailureAt),
      until: l.retryAt === null ? null : Math.ceil(l.retryAt / 1000),
    })),
    phones,
    tokens: tokens.credentials.map((c) => tokenObject(c)),
    groups: [],
    webauthncredentials: keys.filter((k) => k.status === "active").map((k) => webauthnObject(k)),
  };
}

/** Users and applications read once per request (log and list pages name the same ones many times). */
export function createLookups(services: Services) {
  const memo = <V>(read: (id: string) => Promise<V | undefined>) => {
    const seen = new Map<string, Promise<V | undefined>>();
    return (id: string | null): Promise<V | undefined> => {
      if (id === null) return Promise.resolve(undefined);
      const known = seen.get(id);
      if (known) return known;
      const p = read(id);
      seen.set(id, p);
      return p;
    };
  };
  return {
    user: memo((id) => services.getUser(id)),
    app: memo((id) => services.getApplication(id)),
  };
}

/** What a path's id names, or 404 in Duo's words; and objects with the user they belong to. */
export function createFinders(services: Services) {
  return {
    /** Admin API paths address users by id only (a username is not an id). */
    async userById(id: string): Promise<User> {
      const user = await services.getUser(id);
      if (!user) throw notFound();
      return user;
    },
    async tokenById(id: string): Promise<OTPCredential> {
      const token = await services.getOTPCredential(id);
      if (token?.kind !== "token") throw notFound();
      return token;
    },
    async phoneById(id: string): Promise<Phone> {
      const phone = await services.getPhone(id);
      if (!phone) throw notFound();
      return phone;
    },
    async phoneWithUsers(phone: Phone): Promise<Record<string, unknown>> {
      const [device, user] = await Promise.all([
        phone.deviceId ? services.getDevice(phone.deviceId) : undefined,
        phone.userId ? services.getUser(phone.userId) : undefined,
      ]);
      return phoneObject(phone, device, user ? [userSummary(user)] : []);
    },
    async tokenWithUsers(token: OTPCredential): Promise<Record<string, unknown>> {
      const user = token.userId ? await services.getUser(token.userId) : undefined;
      return tokenObject(token, user ? [userSummary(user)] : []);
    },
  };
}

/**
 * A WebAuthn credential as Duo lists it under a user (§5.2): `webauthnkey`, `credential_name`, `date_added` (unix s)
 * and `label`, the kind of authenticator (a built-in one or a roaming security key). No key material.
 */
export function webauthnObject(k: WebAuthnCredentialView): Record<string, unknown> {
  return {
    webauthnkey: k.id,
    credential_name: k.name,
    date_added: seconds(k.createdAt),
    label: k.transports.includes("internal") ? "Platform Authenticator" : "Security Key",
  };
}
