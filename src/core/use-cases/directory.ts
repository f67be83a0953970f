// Read-only look-ups the interfaces show: users, applications, devices, phones, tokens, bypass codes and logs.
import type { Deps } from "../deps.ts";
import { describeLockout, type LockoutStatus } from "../lockout.ts";
import type {
  Application,
  AuditEvent,
  AuthLogEntry,
  BypassCode,
  Device,
  OTPCredential,
  Phone,
  User,
} from "../model.ts";
import type {
  AuthLogQuery,
  BypassCodeQuery,
  OTPQuery,
  PhoneQuery,
  UsernameCollision,
  UserQuery,
} from "../ports.ts";
import { canonicalizeEmail } from "../username.ts";
import { resolveIdentifier } from "./users.ts";

type Reader = Pick<Deps, "store">;

// ---------------------------------------------------------------- users

export function getUser(deps: Reader, id: string): Promise<User | undefined> {
  return deps.store.getUser(id);
}

export function listUsers(deps: Reader, query: UserQuery): Promise<{ users: User[]; total: number }> {
  return deps.store.listUsers(query);
}

export function listUserAliases(deps: Reader, userId: string): Promise<string[]> {
  return deps.store.listAliases(userId);
}

/**
 * The user whose username or one of whose aliases is this name in any spelling of its one canonical form.
 * Never a user found by e-mail (a unique e-mail also finds a user at login), so a name search cannot be
 * answered with someone else's account (A3).
 */
export async function findUserByName(deps: Deps, username: string): Promise<User | undefined> {
  const key = resolveIdentifier(deps, username);
  if (key === undefined) return undefined;
  const user = await deps.store.findUserByIdentifier(key);
  if (!user || user.usernameCanonical === key) return user;
  const aliasKeys = (await deps.store.listAliases(user.id)).map((a) => resolveIdentifier(deps, a));
  return aliasKeys.includes(key) ? user : undefined;
}

/** The user with this e-mail address (compared NFKC, trimmed, lowercase); never one found by name. */
export async function findUserByEmail(deps: Reader, email: string): Promise<User | undefined> {
  const canonical = canonicalizeEmail(email);
  const user = await deps.store.findUserByIdentifier(canonical);
  return user && canonicalizeEmail(user.email ?? "") === canonical ? user : undefined;
}

/** When the user last logged in successfully, or undefined. */
export function lastLoginAt(deps: Reader, userId: string): Promise<number | undefined> {
  return deps.store.lastLoginAt(userId);
}

/** Why and until when each factor class of a user (by id) refuses attempts (A6); classes without failures left out. */
export async function describeUserLockouts(deps: Deps, userId: string): Promise<LockoutStatus[]> {
  const now = deps.clock.now();
  return (await deps.store.listLockouts(userId))
    .filter((l) => l.failures > 0)
    .map((l) => describeLockout(l, now, deps.policy.lockout));
}

/** One user among those claiming a contested name, with what they could log in with (for the operator to choose). */
export interface CollisionClaimant {
  id: string;
  username: string;
  status: User["status"];
  createdAt: number;
  devices: number;
  authenticators: number;
}

/** Each contested name with the users still claiming it. */
export async function describeUsernameCollisions(
  deps: Reader,
  collisions: readonly UsernameCollision[],
): Promise<{ collision: UsernameCollision; users: CollisionClaimant[] }[]> {
  const claimant = async (id: string): Promise<CollisionClaimant | undefined> => {
    const user = await deps.store.getUser(id);
    if (!user) return undefined;
    const [devices, otp] = await Promise.all([
      deps.store.listDevices(id),
      deps.store.listUsableOTPCredentials(id),
    ]);
    return {
      id,
      username: user.username,
      status: user.status,
      createdAt: user.createdAt,
      devices: devices.filter((d) => d.status === "active").length,
      authenticators: otp.length,
    };
  };
  return Promise.all(
    collisions.map(async (collision) => ({
      collision,
      users: (await Promise.all(collision.userIds.map(claimant))).filter((u) => u !== undefined),
    })),
  );
}

// ---------------------------------------------------------------- applications

export function getApplication(deps: Reader, id: string): Promise<Application | undefined> {
  return deps.store.getApplication(id);
}

export function listApplications(deps: Reader): Promise<Application[]> {
  return deps.store.listApplications();
}

// ---------------------------------------------------------------- devices and phones

export function getDevice(deps: Reader, id: string): Promise<Device | undefined> {
  return deps.store.getDevice(id);
}

/** Every device of a user, whatever its status. */
export function listDevicesOf(deps: Reader, userId: string): Promise<Device[]> {
  return deps.store.listDevices(userId);
}

export function getPhone(deps: Reader, id: string): Promise<Phone | undefined> {
  return deps.store.getPhone(id);
}

export function listPhones(deps: Reader, query: PhoneQuery): Promise<{ phones: Phone[]; total: number }> {
  return deps.store.listPhones(query);
}

// ---------------------------------------------------------------- authenticator apps and hardware tokens

export function getOTPCredential(deps: Reader, id: string): Promise<OTPCredential | undefined> {
  return deps.store.getOTPCredential(id);
}

export function findTokenBySerial(deps: Reader, serial: string): Promise<OTPCredential | undefined> {
  return deps.store.findTokenBySerial(serial);
}

export function listOTPCredentials(
  deps: Reader,
  query: OTPQuery,
): Promise<{ credentials: OTPCredential[]; total: number }> {
  return deps.store.listOTPCredentials(query);
}

/** A user's confirmed, unsuspended authenticator apps and tokens: what a passcode can be checked against. */
export function listUsableOTPCredentials(deps: Reader, userId: string): Promise<OTPCredential[]> {
  return deps.store.listUsableOTPCredentials(userId);
}

// ---------------------------------------------------------------- bypass codes

export function getBypassCode(deps: Reader, id: string): Promise<BypassCode | undefined> {
  return deps.store.getBypassCode(id);
}

/** A user's bypass codes that still work now (not revoked, expired or used up). */
export function listLiveBypassCodes(
  deps: Pick<Deps, "store" | "clock">,
  userId: string,
): Promise<BypassCode[]> {
  return deps.store.listLiveBypassCodes(userId, deps.clock.now());
}

/** Every user's bypass codes that still work now, a page at a time. */
export function listAllLiveBypassCodes(
  deps: Pick<Deps, "store" | "clock">,
  page: Omit<BypassCodeQuery, "liveAt">,
): Promise<{ codes: BypassCode[]; total: number }> {
  return deps.store.listAllBypassCodes({ ...page, liveAt: deps.clock.now() });
}

// ---------------------------------------------------------------- logs

export function listAuthLog(
  deps: Reader,
  query: AuthLogQuery,
): Promise<{ entries: AuthLogEntry[]; total: number }> {
  return deps.store.listAuthLog(query);
}

export function listAudit(
  deps: Reader,
  query: { afterId?: number; limit: number; order?: "asc" | "desc" },
): Promise<AuditEvent[]> {
  return deps.store.listAudit(query);
}

// ---------------------------------------------------------------- health

/** Resolves when the database answers; the caller bounds the wait. */
export function checkDatabase(deps: Reader): Promise<void> {
  return deps.store.ping();
}
