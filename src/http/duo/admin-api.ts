// The Duo-compatible Admin API (duo-compat §5): users, phones, hardware tokens, bypass codes and authentication logs.
import { type Static, Type as T, type TObject, type TSchema } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { activationLink, publicBaseUrl } from "../../config/load.ts";
import type { Actor } from "../../core/deps.ts";
import { type ErrorCode, TwofoldError } from "../../core/errors.ts";
import { describeLockout } from "../../core/lockout.ts";
import type {
  AuthFactor,
  AuthLogEntry,
  BypassCode,
  Device,
  OTPCredential,
  Phone,
  User,
} from "../../core/model.ts";
import { resolveIdentifier } from "../../core/use-cases/users.ts";
import { canonicalizeEmail } from "../../core/username.ts";
import type { Runtime } from "../../runtime/runtime.ts";
import { createActivationBarcodeURL } from "../activation-barcode.ts";
import { PlainText } from "../validation.ts";
import { DUO_FAILURES, type DuoMetadata, DuoRefusal, invalidParameters } from "./envelope.ts";
import {
  ADMIN_API_TYPES,
  type DuoAnswer,
  type DuoCall,
  Flag,
  parseURLEncoded,
  registerDuoScope,
  strict,
  Text,
} from "./signed-routes.ts";

/** A whole number sent as text (every Duo parameter is a string). */
const Whole = (digits: number) => T.Optional(T.String({ pattern: `^[0-9]{1,${digits}}$` }));
const List = T.Optional(T.Array(PlainText({ maxLength: 128 }), { maxItems: 100 }));
const Id = PlainText({ minLength: 1, maxLength: 64 });
const Paging = { limit: Whole(6), offset: Whole(9) };
const Path = (...names: string[]): TObject => T.Object(Object.fromEntries(names.map((n) => [n, Id])), strict);
const AnyObject = T.Object({}, { additionalProperties: true });
const Empty = T.Literal("");

/** Duo's paging limits (duo-compat §5.1): users 100 by default and at most 300; other lists 100 and 500. */
const USER_PAGE = { default: 100, max: 300 };
const LIST_PAGE = { default: 100, max: 500 };
/** Authentication log v2: 100 records by default, at most 1000 (§5.6). */
const LOG_PAGE = { default: 100, max: 1000 };
/** Bypass codes per call (§5.5). */
const MAX_BYPASS_COUNT = 10;

const STATUS = T.Optional(T.Union([T.Literal("active"), T.Literal("bypass"), T.Literal("disabled")]));

const invalid = (detail: string, code: ErrorCode = "ERR_VALIDATION") =>
  new DuoRefusal(code, invalidParameters(detail));
const notFound = () => new DuoRefusal("ERR_NOT_FOUND", DUO_FAILURES.notFound);

/** Who made an Admin API change, for the audit log. */
function actorOf(call: DuoCall<unknown>): Actor {
  return { name: `integration:${call.application.id}`, ip: call.request.ip };
}

function pathOf(call: DuoCall<unknown>): Record<string, string> {
  return call.request.params as Record<string, string>;
}

/** E-mail addresses compare as the store keeps them: NFKC, trimmed, lowercase. */
const seconds = (ms: number) => Math.floor(ms / 1000);
const truthy = (flag: string | undefined) => flag === "1" || flag === "true";

function pageOf(params: { limit?: string; offset?: string }, limits: { default: number; max: number }) {
  const limit = params.limit === undefined ? limits.default : Number(params.limit);
  if (limit < 1 || limit > limits.max) throw invalid(`limit (1 to ${limits.max})`);
  return { limit, offset: Number(params.offset ?? 0) };
}

/** Duo's paging metadata (§5.1): `next_offset` is null on the last page. */
function pageMetadata(page: { limit: number; offset: number }, count: number, total: number): DuoMetadata {
  return {
    total_objects: total,
    next_offset: page.offset + count < total ? page.offset + count : null,
    prev_offset: page.offset > 0 ? Math.max(0, page.offset - page.limit) : null,
  };
}

function pageOfList<E>(items: readonly E[], params: { limit?: string; offset?: string }) {
  const page = pageOf(params, LIST_PAGE);
  const slice = items.slice(page.offset, page.offset + page.limit);
  return { slice, metadata: pageMetadata(page, slice.length, items.length) };
}

/** Core refusals name their own fields; a Duo client is told the parameter it sent (400 40002, §2.1). */
const PARAMETER_NAMES: Record<string, string> = {
  realName: "realname",
  uses: "reuse_count",
  validSeconds: "valid_secs",
  period: "totp_step",
};

async function withParameterNames<R>(run: () => Promise<R>): Promise<R> {
  try {
    return await run();
  } catch (error) {
    if (
      error instanceof TwofoldError &&
      !(error instanceof DuoRefusal) &&
      ["ERR_VALIDATION", "ERR_BYPASS_POLICY", "ERR_OTP_SECRET_TOO_SHORT", "ERR_USERNAME_INVALID"].includes(
        error.code,
      )
    ) {
      const detail =
        error.issues.length > 0
          ? error.issues
              .slice(0, 3)
              .map((i) => {
                const name = i.path.replace(/\[.*$/, "");
                return `${PARAMETER_NAMES[name] ?? name}: ${i.message.replace(/^[a-z_]+: /, "")}`;
              })
              .join("; ")
          : error.message;
      throw new DuoRefusal(error.code, invalidParameters(detail), error.detail);
    }
    throw error;
  }
}

// ------------------------------------------------------------------ objects as Duo clients read them

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

type UserSummary = Record<string, unknown>;

function userSummary(user: User): UserSummary {
  return {
    user_id: user.id,
    username: user.username,
    realname: user.realName ?? "",
    email: user.email ?? "",
    status: user.status,
  };
}

/** A phone as Duo describes one (§5.3); activated means its Twofold Authenticator is active. */
function phoneObject(
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
    capabilities: activated ? AUTHENTICATOR_CAPABILITIES : [],
    last_seen: activated && device.lastSeenAt !== null ? new Date(device.lastSeenAt).toISOString() : "",
    sms_passcodes_sent: false,
    encrypted: "",
    fingerprint: "",
    screenlock: "",
    ...(users ? { users } : {}),
  };
}

/** A Twofold Authenticator activated directly (not through a registered phone), shown as a phone. */
function deviceObject(device: Device, users?: UserSummary[]): Record<string, unknown> {
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

function tokenType(c: OTPCredential): string {
  return `${c.type === "hotp" ? "h" : "t"}${c.digits}`;
}

/** A hardware token (§5.4): never its secret. */
function tokenObject(c: OTPCredential, users?: UserSummary[]): Record<string, unknown> {
  return {
    token_id: c.id,
    type: tokenType(c),
    serial: c.serial ?? "",
    totp_step: c.type === "totp" ? c.period : null,
    ...(users ? { users } : {}),
  };
}

/** Bypass-code metadata (§5.5): never the code or its hash. */
function bypassObject(c: BypassCode, user: User | undefined): Record<string, unknown> {
  return {
    bypass_code_id: c.id,
    created: seconds(c.createdAt),
    expiration: c.expiresAt === null ? null : seconds(c.expiresAt),
    reuse_count: c.usesLeft,
    admin_email: c.createdBy,
    user: { user_id: c.userId, username: user?.username ?? "" },
  };
}

function isLive(c: BypassCode, now: number): boolean {
  return (
    c.revokedAt === null &&
    (c.expiresAt === null || c.expiresAt > now) &&
    (c.usesLeft === null || c.usesLeft > 0)
  );
}

/** Devices and registered phones of a user, as Duo's phone list: each authenticator once. */
async function userPhones(
  runtime: Runtime,
  user: User,
  knownDevices?: Device[],
): Promise<Record<string, unknown>[]> {
  const [{ phones }, devices] = await Promise.all([
    runtime.store.listPhones({ userId: user.id, limit: LIST_PAGE.max, offset: 0 }),
    knownDevices ?? runtime.store.listDevices(user.id),
  ]);
  const byId = new Map(devices.map((d) => [d.id, d]));
  const onPhones = new Set(phones.map((p) => p.deviceId).filter((id): id is string => id !== null));
  return [
    ...phones.map((p) => phoneObject(p, p.deviceId ? byId.get(p.deviceId) : undefined)),
    ...devices.filter((d) => d.status === "active" && !onPhones.has(d.id)).map((d) => deviceObject(d)),
  ];
}

/** A user as Duo describes one (§5.2). */
async function userObject(runtime: Runtime, user: User): Promise<Record<string, unknown>> {
  const { store } = runtime;
  const now = runtime.clock.now();
  const devices = await store.listDevices(user.id);
  const [aliases, phones, tokens, usable, lockouts, lastLogin] = await Promise.all([
    store.listAliases(user.id),
    userPhones(runtime, user, devices),
    store.listOTPCredentials({ userId: user.id, kind: "token", limit: LIST_PAGE.max, offset: 0 }),
    store.listUsableOTPCredentials(user.id),
    store.listLockouts(user.id),
    store.lastLoginAt(user.id),
  ]);
  // Why and until when each factor class refuses attempts (A6). Duo reports a locked user as status
  // "locked out" with a lockout_reason; Twofold locks per factor class, so it says which, in `lockouts`.
  const classes = lockouts
    .filter((l) => l.failures > 0)
    .map((l) => describeLockout(l, now, runtime.services.deps.policy.lockout));
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
    is_enrolled: usable.length > 0 || devices.some((d) => d.status === "active"),
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
    webauthncredentials: [],
  };
}

/** Users and applications read once per request (log and list pages name the same ones many times). */
function createLookups(runtime: Runtime) {
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
    user: memo((id) => runtime.store.getUser(id)),
    app: memo((id) => runtime.store.getApplication(id)),
  };
}

// ------------------------------------------------------------------ authentication log

/** Twofold's factors in Duo's words (§5.6); filters translate back through the same table. */
const FACTOR_NAMES: Record<AuthFactor, string> = {
  totp: "passcode",
  hotp: "passcode",
  rescue: "passcode",
  token: "hardware_token",
  bypass: "bypass_code",
  push: "duo_push",
  sms: "sms_passcode",
  none: "not_available",
};
/** Authentication log v1 (deprecated by Duo) named factors and results for people. [U] */
const FACTOR_NAMES_V1: Record<AuthFactor, string> = {
  totp: "Passcode",
  hotp: "Passcode",
  rescue: "Passcode",
  token: "Hardware Token",
  bypass: "Bypass Code",
  push: "Duo Push",
  sms: "SMS Passcode",
  none: "Not Available",
};
const RESULT_NAMES = { allow: "success", deny: "denied" } as const;

function translateFilter<K extends string>(
  wanted: readonly string[] | undefined,
  names: Record<K, string>,
): K[] | undefined {
  if (!wanted || wanted.length === 0) return undefined;
  return (Object.keys(names) as K[]).filter((k) => wanted.includes(names[k]));
}

const NO_LOCATION = { city: null, state: null, country: null };

async function authLogRecord(
  entry: AuthLogEntry,
  lookups: ReturnType<typeof createLookups>,
): Promise<Record<string, unknown>> {
  const [user, app] = await Promise.all([lookups.user(entry.userId), lookups.app(entry.applicationId)]);
  return {
    txid: entry.txid,
    timestamp: seconds(entry.at),
    isotimestamp: new Date(entry.at).toISOString(),
    event_type: "authentication",
    result: RESULT_NAMES[entry.result],
    reason: entry.reason,
    factor: FACTOR_NAMES[entry.factor],
    alias: "",
    email: user?.email ?? "",
    ood_software: null,
    user: { name: entry.username, key: entry.userId ?? "" },
    application: { name: app?.name ?? "", key: entry.applicationId ?? "" },
    auth_device: { ip: null, location: NO_LOCATION, name: null },
    access_device: { ip: entry.ip, location: NO_LOCATION, hostname: null, epkey: null },
  };
}

/** `next_offset` as Duo's clients send it back: the two strings of the last page's value, or them joined by a comma. */
function parseLogOffset(values: readonly string[] | undefined): { at: number; id: string } | undefined {
  if (!values || values.length === 0) return undefined;
  const parts = values.length === 1 ? values[0]!.split(",") : [...values];
  const [at, id] = parts;
  if (parts.length !== 2 || !/^[0-9]{1,16}$/.test(at ?? "") || !id || id.length > 64)
    throw invalid("next_offset");
  return { at: Number(at), id };
}

// ------------------------------------------------------------------ parameters shared by routes

const UserFields = {
  username: Text(),
  realname: Text(200),
  email: Text(),
  status: STATUS,
  notes: Text(1000),
  alias1: Text(),
  alias2: Text(),
  alias3: Text(),
  alias4: Text(),
  aliases: Text(4000),
  firstname: Text(),
  lastname: Text(),
};
type UserParams = Partial<Record<keyof typeof UserFields, string>>;

/** Duo's `aliases` parameter: `alias1=a&alias2=b…` (up to 8), or `aliasN` slots over the current aliases. */
function aliasesFrom(params: UserParams, current: readonly string[]): string[] | undefined {
  const slotted = ([1, 2, 3, 4] as const).filter((n) => params[`alias${n}`] !== undefined);
  if (params.aliases !== undefined) {
    if (slotted.length > 0) throw invalid("aliases (give either aliases or alias1 to alias4)");
    const slots: string[] = [];
    for (const [name, value] of parseURLEncoded(params.aliases)) {
      const m = /^alias([1-8])$/.exec(name);
      if (!m) throw invalid("aliases (alias1=…&alias2=…, up to alias8)");
      slots[Number(m[1]) - 1] = value;
    }
    return slots.filter((a) => a !== undefined && a !== "");
  }
  if (slotted.length === 0) return undefined;
  const slots = [...current];
  for (const n of slotted) slots[n - 1] = params[`alias${n}`]!;
  return slots.filter((a) => a !== undefined && a !== "");
}

function refuseUnsupported(params: Record<string, unknown>, names: readonly string[]): void {
  for (const n of names) if (params[n] !== undefined) throw invalid(`${n} (not supported)`);
}

/** `""` for an absent optional text field means "clear it". */
const cleared = (value: string | undefined) =>
  value === undefined ? undefined : value === "" ? null : value;

// ------------------------------------------------------------------ routes

export function registerAdminAPIRoutes(app: FastifyInstance, runtime: Runtime): void {
  const { services, store } = runtime;
  const now = () => runtime.clock.now();

  /** Admin API paths address users by id only (a username is not an id). */
  async function userById(id: string): Promise<User> {
    const user = await store.getUser(id);
    if (!user) throw notFound();
    return user;
  }
  async function tokenById(id: string): Promise<OTPCredential> {
    const token = await store.getOTPCredential(id);
    if (token?.kind !== "token") throw notFound();
    return token;
  }
  async function phoneById(id: string): Promise<Phone> {
    const phone = await store.getPhone(id);
    if (!phone) throw notFound();
    return phone;
  }
  async function phoneWithUsers(phone: Phone): Promise<Record<string, unknown>> {
    const [device, user] = await Promise.all([
      phone.deviceId ? store.getDevice(phone.deviceId) : undefined,
      phone.userId ? store.getUser(phone.userId) : undefined,
    ]);
    return phoneObject(phone, device, user ? [userSummary(user)] : []);
  }
  async function tokenWithUsers(token: OTPCredential): Promise<Record<string, unknown>> {
    const user = token.userId ? await store.getUser(token.userId) : undefined;
    return tokenObject(token, user ? [userSummary(user)] : []);
  }

  registerDuoScope(app, runtime, (route) => {
    const admin = <S extends TObject>(
      method: "GET" | "POST" | "DELETE",
      url: string,
      params: S,
      response: TSchema,
      handler: (call: DuoCall<Static<S>>) => Promise<DuoAnswer>,
      pathParams?: TObject,
    ) =>
      route({
        method,
        url,
        integrations: ADMIN_API_TYPES,
        // Every change is refused when its signed request is seen again (K2).
        replayProtected: method !== "GET",
        params,
        ...(pathParams ? { pathParams } : {}),
        response,
        handler: (call) => withParameterNames(() => handler(call)),
      });

    // ---------------------------------------------------------------- users (§5.2)

    admin(
      "GET",
      "/admin/v1/users",
      T.Object({ username: Text(), email: Text(), ...Paging }, strict),
      T.Array(AnyObject),
      async ({ params }) => {
        if (params.username !== undefined || params.email !== undefined) {
          if (params.username !== undefined && params.email !== undefined) throw invalid("username or email");
          // The username or one of its aliases in any spelling of the one canonical form (or, for `email`,
          // the e-mail address): never a user found by e-mail when a username was asked for.
          let user: User | undefined;
          if (params.username !== undefined) {
            const key = resolveIdentifier(services.deps, params.username);
            user = await services.findUser(params.username);
            if (user && user.usernameCanonical !== key) {
              const aliasKeys = (await store.listAliases(user.id)).map((a) =>
                resolveIdentifier(services.deps, a),
              );
              if (!aliasKeys.includes(key)) user = undefined;
            }
          } else {
            const email = canonicalizeEmail(params.email!);
            user = await store.findUserByIdentifier(email);
            if (user && canonicalizeEmail(user.email ?? "") !== email) user = undefined;
          }
          const found = user ? [await userObject(runtime, user)] : [];
          return {
            response: found,
            metadata: { total_objects: found.length, next_offset: null, prev_offset: null },
          };
        }
        const page = pageOf(params, USER_PAGE);
        const { users, total } = await store.listUsers(page);
        const objects = await Promise.all(users.map((u) => userObject(runtime, u)));
        return { response: objects, metadata: pageMetadata(page, users.length, total) };
      },
    );

    admin("POST", "/admin/v1/users", T.Object(UserFields, strict), AnyObject, async (call) => {
      const { params } = call;
      refuseUnsupported(params, ["firstname", "lastname"]);
      if (params.username === undefined) throw invalid("username");
      const created = await services.createUser(actorOf(call), {
        username: params.username,
        realName: cleared(params.realname) ?? null,
        email: cleared(params.email) ?? null,
        status: params.status ?? "active",
        notes: cleared(params.notes) ?? null,
        aliases: aliasesFrom(params, []) ?? [],
      });
      return { response: await userObject(runtime, (await store.getUser(created.id))!) };
    });

    admin(
      "GET",
      "/admin/v1/users/:user_id",
      T.Object({}, strict),
      AnyObject,
      async (call) => ({ response: await userObject(runtime, await userById(pathOf(call).user_id!)) }),
      Path("user_id"),
    );

    // Modify: `user_id` and any other field not listed is refused, never assigned (K4).
    admin(
      "POST",
      "/admin/v1/users/:user_id",
      T.Object(UserFields, strict),
      AnyObject,
      async (call) => {
        const { params } = call;
        refuseUnsupported(params, ["firstname", "lastname"]);
        const user = await userById(pathOf(call).user_id!);
        const aliases = aliasesFrom(params, await store.listAliases(user.id));
        const realName = cleared(params.realname);
        const email = cleared(params.email);
        const notes = cleared(params.notes);
        await services.updateUser(actorOf(call), user.id, {
          ...(params.username !== undefined ? { username: params.username } : {}),
          ...(realName !== undefined ? { realName } : {}),
          ...(email !== undefined ? { email } : {}),
          ...(params.status !== undefined ? { status: params.status } : {}),
          ...(notes !== undefined ? { notes } : {}),
          ...(aliases !== undefined ? { aliases } : {}),
        });
        return { response: await userObject(runtime, await userById(user.id)) };
      },
      Path("user_id"),
    );

    // Deleting a user that is already gone does nothing, as duo_client_python documents.
    admin(
      "DELETE",
      "/admin/v1/users/:user_id",
      T.Object({}, strict),
      Empty,
      async (call) => {
        const user = await store.getUser(pathOf(call).user_id!);
        if (user) await services.deleteUser(actorOf(call), user.id);
        return { response: "" };
      },
      Path("user_id"),
    );

    // ---------------------------------------------------------------- a user's phones and tokens

    admin(
      "GET",
      "/admin/v1/users/:user_id/phones",
      T.Object(Paging, strict),
      T.Array(AnyObject),
      async (call) => {
        const phones = await userPhones(runtime, await userById(pathOf(call).user_id!));
        const { slice, metadata } = pageOfList(phones, call.params);
        return { response: slice, metadata };
      },
      Path("user_id"),
    );

    admin(
      "POST",
      "/admin/v1/users/:user_id/phones",
      T.Object({ phone_id: Id }, strict),
      Empty,
      async (call) => {
        const user = await userById(pathOf(call).user_id!);
        const phone = await store.getPhone(call.params.phone_id);
        if (!phone) throw invalid("phone_id (no such phone)");
        await services.attachPhone(actorOf(call), phone.id, user.id);
        return { response: "" };
      },
      Path("user_id"),
    );

    admin(
      "DELETE",
      "/admin/v1/users/:user_id/phones/:phone_id",
      T.Object({}, strict),
      Empty,
      async (call) => {
        const { user_id, phone_id } = pathOf(call);
        const user = await userById(user_id!);
        const phone = await phoneById(phone_id!);
        if (phone.userId !== user.id) throw notFound();
        await services.detachPhone(actorOf(call), phone.id, user.id);
        return { response: "" };
      },
      Path("user_id", "phone_id"),
    );

    admin(
      "GET",
      "/admin/v1/users/:user_id/tokens",
      T.Object(Paging, strict),
      T.Array(AnyObject),
      async (call) => {
        const user = await userById(pathOf(call).user_id!);
        const page = pageOf(call.params, LIST_PAGE);
        const { credentials, total } = await store.listOTPCredentials({
          userId: user.id,
          kind: "token",
          ...page,
        });
        return {
          response: credentials.map((c) => tokenObject(c, [userSummary(user)])),
          metadata: pageMetadata(page, credentials.length, total),
        };
      },
      Path("user_id"),
    );

    admin(
      "POST",
      "/admin/v1/users/:user_id/tokens",
      T.Object({ token_id: Id }, strict),
      Empty,
      async (call) => {
        const user = await userById(pathOf(call).user_id!);
        const token = await store.getOTPCredential(call.params.token_id);
        if (token?.kind !== "token" || token.serial === null) throw invalid("token_id (no such token)");
        if (token.userId === user.id) return { response: "" };
        if (token.userId !== null) throw invalid("token_id (the token is lent to another user)");
        try {
          await services.assignToken(actorOf(call), token.serial, user.id);
        } catch (error) {
          if (error instanceof TwofoldError && error.code === "ERR_TOKEN_ASSIGNED")
            throw invalid("token_id (the token is lent to another user)");
          throw error;
        }
        return { response: "" };
      },
      Path("user_id"),
    );

    admin(
      "DELETE",
      "/admin/v1/users/:user_id/tokens/:token_id",
      T.Object({}, strict),
      Empty,
      async (call) => {
        const { user_id, token_id } = pathOf(call);
        const user = await userById(user_id!);
        const token = await tokenById(token_id!);
        if (token.userId !== user.id || token.serial === null) throw notFound();
        await services.unassignToken(actorOf(call), token.serial);
        return { response: "" };
      },
      Path("user_id", "token_id"),
    );

    // ---------------------------------------------------------------- bypass codes (§5.5)

    admin(
      "POST",
      "/admin/v1/users/:user_id/bypass_codes",
      T.Object(
        {
          count: Whole(3),
          codes: Text(2000),
          reuse_count: Whole(6),
          valid_secs: Whole(9),
          preserve_existing: Flag,
        },
        strict,
      ),
      T.Array(T.String()),
      async (call) => {
        const { params } = call;
        // Codes are always random (C1): chosen codes could be guessed or reused elsewhere.
        if (params.codes !== undefined) throw invalid("codes (not supported: codes are always random)");
        const user = await userById(pathOf(call).user_id!);
        const count = Number(params.count ?? MAX_BYPASS_COUNT);
        if (count < 1 || count > MAX_BYPASS_COUNT) throw invalid(`count (1 to ${MAX_BYPASS_COUNT})`);
        // Duo's defaults: one use, no expiry. Where policy forbids either, the call is refused, not changed.
        const issued = await services.issueBypassCodes(actorOf(call), user.id, {
          count,
          uses: Number(params.reuse_count ?? 1),
          validSeconds: Number(params.valid_secs ?? 0),
          replaceExisting: !truthy(params.preserve_existing),
          source: "api",
        });
        return { response: issued.codes.reveal() };
      },
      Path("user_id"),
    );

    admin(
      "GET",
      "/admin/v1/users/:user_id/bypass_codes",
      T.Object(Paging, strict),
      T.Array(AnyObject),
      async (call) => {
        const user = await userById(pathOf(call).user_id!);
        const live = (await store.listLiveBypassCodes(user.id, now())).reverse();
        const { slice, metadata } = pageOfList(live, call.params);
        return { response: slice.map((c) => bypassObject(c, user)), metadata };
      },
      Path("user_id"),
    );

    admin(
      "GET",
      "/admin/v1/bypass_codes",
      T.Object(Paging, strict),
      T.Array(AnyObject),
      async ({ params }) => {
        const page = pageOf(params, LIST_PAGE);
        const { codes, total } = await store.listAllBypassCodes({ ...page, liveAt: now() });
        const lookups = createLookups(runtime);
        const objects = await Promise.all(
          codes.map(async (c) => bypassObject(c, await lookups.user(c.userId))),
        );
        return { response: objects, metadata: pageMetadata(page, codes.length, total) };
      },
    );

    const liveBypassCode = async (id: string) => {
      const code = await store.getBypassCode(id);
      if (!code || !isLive(code, now())) throw notFound();
      return code;
    };

    admin(
      "GET",
      "/admin/v1/bypass_codes/:bypass_code_id",
      T.Object({}, strict),
      AnyObject,
      async (call) => {
        const code = await liveBypassCode(pathOf(call).bypass_code_id!);
        return { response: bypassObject(code, await store.getUser(code.userId)) };
      },
      Path("bypass_code_id"),
    );

    admin(
      "DELETE",
      "/admin/v1/bypass_codes/:bypass_code_id",
      T.Object({}, strict),
      Empty,
      async (call) => {
        const code = await liveBypassCode(pathOf(call).bypass_code_id!);
        await services.revokeBypassCode(actorOf(call), code.id);
        return { response: "" };
      },
      Path("bypass_code_id"),
    );

    // ---------------------------------------------------------------- phones (§5.3)

    const PhoneFields = {
      number: Text(32),
      extension: Text(32),
      name: Text(100),
      type: Text(32),
      platform: Text(64),
      predelay: Text(8),
      postdelay: Text(8),
    };
    const phoneInput = (params: Partial<Record<keyof typeof PhoneFields, string>>) => {
      // Voice-call delays mean nothing without calls: refused rather than stored and ignored.
      refuseUnsupported(params, ["predelay", "postdelay"]);
      return {
        ...(params.number !== undefined ? { number: params.number } : {}),
        ...(params.extension !== undefined ? { extension: params.extension } : {}),
        ...(params.name !== undefined ? { name: params.name } : {}),
        ...(params.type !== undefined ? { type: params.type.toLowerCase() } : {}),
        ...(params.platform !== undefined ? { platform: params.platform.toLowerCase() } : {}),
      };
    };

    admin(
      "GET",
      "/admin/v1/phones",
      T.Object({ number: Text(32), extension: Text(32), ...Paging }, strict),
      T.Array(AnyObject),
      async ({ params }) => {
        const page = pageOf(params, LIST_PAGE);
        if (params.extension !== undefined && params.number === undefined)
          throw invalid("extension (with number)");
        let { phones, total } = await store.listPhones({
          ...page,
          ...(params.number !== undefined ? { number: params.number } : {}),
        });
        if (params.extension !== undefined) {
          const all = await store.listPhones({ number: params.number!, limit: LIST_PAGE.max, offset: 0 });
          const matching = all.phones.filter((p) => (p.extension ?? "") === params.extension);
          phones = matching.slice(page.offset, page.offset + page.limit);
          total = matching.length;
        }
        const objects = await Promise.all(phones.map(phoneWithUsers));
        return { response: objects, metadata: pageMetadata(page, phones.length, total) };
      },
    );

    admin("POST", "/admin/v1/phones", T.Object(PhoneFields, strict), AnyObject, async (call) => {
      const phone = await services.createPhone(actorOf(call), phoneInput(call.params));
      return { response: await phoneWithUsers(phone) };
    });

    admin(
      "GET",
      "/admin/v1/phones/:phone_id",
      T.Object({}, strict),
      AnyObject,
      async (call) => ({ response: await phoneWithUsers(await phoneById(pathOf(call).phone_id!)) }),
      Path("phone_id"),
    );

    admin(
      "POST",
      "/admin/v1/phones/:phone_id",
      T.Object(PhoneFields, strict),
      AnyObject,
      async (call) => {
        const phone = await phoneById(pathOf(call).phone_id!);
        const updated = await services.updatePhone(actorOf(call), phone.id, phoneInput(call.params));
        return { response: await phoneWithUsers(updated) };
      },
      Path("phone_id"),
    );

    // Deleting a phone that is already gone does nothing, as duo_client_python documents.
    admin(
      "DELETE",
      "/admin/v1/phones/:phone_id",
      T.Object({}, strict),
      Empty,
      async (call) => {
        await services.deletePhone(actorOf(call), pathOf(call).phone_id!);
        return { response: "" };
      },
      Path("phone_id"),
    );

    admin(
      "POST",
      "/admin/v1/phones/:phone_id/activation_url",
      T.Object({ valid_secs: Whole(9), install: Flag }, strict),
      AnyObject,
      async (call) => {
        const { params } = call;
        const phone = await phoneById(pathOf(call).phone_id!);
        if (!phone.userId) throw invalid("phone_id (attach the phone to a user first)");
        const asked = params.valid_secs === undefined ? 86_400 : Number(params.valid_secs);
        if (asked < 1) throw invalid("valid_secs");
        const ticket = await services.createPhoneActivation(actorOf(call), phone.id, { validSeconds: asked });
        const link = activationLink(runtime.config, ticket.token.reveal());
        const base = publicBaseUrl(runtime.config);
        return {
          response: {
            activation_url: link,
            activation_barcode: await createActivationBarcodeURL(runtime, ticket),
            // What the link really gets: policy caps activation links (G5).
            valid_secs: seconds(ticket.expiresAt - now()),
            ...(truthy(params.install) ? { installation_url: `${base}/authenticator` } : {}),
          },
        };
      },
      Path("phone_id"),
    );

    // ---------------------------------------------------------------- hardware tokens (§5.4)

    admin(
      "GET",
      "/admin/v1/tokens",
      T.Object({ type: Text(8), serial: Text(128), ...Paging }, strict),
      T.Array(AnyObject),
      async ({ params }) => {
        if ((params.type === undefined) !== (params.serial === undefined))
          throw invalid("type and serial (both)");
        if (params.serial !== undefined) {
          const token = await store.findTokenBySerial(params.serial);
          const found =
            token?.kind === "token" && tokenType(token) === params.type ? [await tokenWithUsers(token)] : [];
          return {
            response: found,
            metadata: { total_objects: found.length, next_offset: null, prev_offset: null },
          };
        }
        const page = pageOf(params, LIST_PAGE);
        const { credentials, total } = await store.listOTPCredentials({ kind: "token", ...page });
        const objects = await Promise.all(credentials.map(tokenWithUsers));
        return { response: objects, metadata: pageMetadata(page, credentials.length, total) };
      },
    );

    admin(
      "POST",
      "/admin/v1/tokens",
      T.Object(
        {
          type: T.String({ maxLength: 8 }),
          serial: T.String({ minLength: 1, maxLength: 128 }),
          secret: Text(256),
          counter: Whole(15),
          totp_step: Whole(3),
          private_id: Text(64),
          aes_key: Text(64),
        },
        strict,
      ),
      AnyObject,
      async (call) => {
        const { params } = call;
        const kind = /^([ht])([68])$/.exec(params.type);
        if (!kind) {
          if (params.type === "yk" || params.type === "d1")
            throw invalid(`type (${params.type} tokens are not supported; use h6, h8, t6 or t8)`);
          throw invalid("type (h6, h8, t6 or t8)");
        }
        refuseUnsupported(params, ["private_id", "aes_key"]);
        const hotp = kind[1] === "h";
        if (hotp && params.totp_step !== undefined) throw invalid("totp_step (TOTP tokens only)");
        if (!hotp && params.counter !== undefined) throw invalid("counter (HOTP tokens only)");
        // Duo takes the secret as hex (RFC 4226 seeds are bytes).
        if (params.secret === undefined || !/^(?:[0-9a-fA-F]{2})+$/.test(params.secret))
          throw invalid("secret (hex)");
        const token = await services.createToken(
          actorOf(call),
          {
            serial: params.serial,
            type: hotp ? "hotp" : "totp",
            digits: kind[2] === "6" ? 6 : 8,
            secret: new Uint8Array(Buffer.from(params.secret, "hex")),
            ...(params.counter !== undefined ? { counter: Number(params.counter) } : {}),
            ...(params.totp_step !== undefined ? { period: Number(params.totp_step) } : {}),
          },
          { period: "totp_step" },
        );
        return { response: await tokenWithUsers(await tokenById(token.id)) };
      },
    );

    admin(
      "GET",
      "/admin/v1/tokens/:token_id",
      T.Object({}, strict),
      AnyObject,
      async (call) => ({ response: await tokenWithUsers(await tokenById(pathOf(call).token_id!)) }),
      Path("token_id"),
    );

    // Deleting a token that is already gone does nothing, as duo_client_python documents.
    admin(
      "DELETE",
      "/admin/v1/tokens/:token_id",
      T.Object({}, strict),
      Empty,
      async (call) => {
        const token = await store.getOTPCredential(pathOf(call).token_id!);
        if (token?.kind === "token") await services.deleteToken(actorOf(call), token.id);
        return { response: "" };
      },
      Path("token_id"),
    );

    const Code = T.String({ pattern: "^[0-9]{6,8}$" });
    admin(
      "POST",
      "/admin/v1/tokens/:token_id/resync",
      T.Object({ code1: Code, code2: Code, code3: Code }, strict),
      Empty,
      async (call) => {
        const token = await tokenById(pathOf(call).token_id!);
        const { code1, code2, code3 } = call.params;
        try {
          await services.resyncToken(actorOf(call), token.serial!, code1, code2, code3);
        } catch (error) {
          if (error instanceof TwofoldError && error.code === "ERR_TOKEN_RESYNC_FAILED")
            throw invalid("code1, code2, code3 (not three consecutive codes of this token)", error.code);
          throw error;
        }
        return { response: "" };
      },
      Path("token_id"),
    );

    // ---------------------------------------------------------------- authentication logs (§5.6)

    admin(
      "GET",
      "/admin/v2/logs/authentication",
      T.Object(
        {
          mintime: T.String({ pattern: "^[0-9]{1,16}$" }),
          maxtime: T.String({ pattern: "^[0-9]{1,16}$" }),
          limit: Whole(6),
          next_offset: T.Optional(T.Array(T.String({ maxLength: 100 }), { maxItems: 2 })),
          sort: T.Optional(T.Union([T.Literal("ts:desc"), T.Literal("ts:asc")])),
          users: List,
          applications: List,
          results: List,
          factors: List,
        },
        strict,
      ),
      T.Object({ authlogs: T.Array(AnyObject), metadata: AnyObject }, strict),
      async ({ params }) => {
        const minTime = Number(params.mintime);
        const maxTime = Number(params.maxtime);
        if (minTime > maxTime) throw invalid("mintime (after maxtime)");
        const { limit } = pageOf(params, LOG_PAGE);
        const after = parseLogOffset(params.next_offset);
        const results = translateFilter(params.results, RESULT_NAMES);
        const factors = translateFilter(params.factors, FACTOR_NAMES);
        // A filter naming only results or factors Twofold never records matches nothing.
        if (results?.length === 0 || factors?.length === 0)
          return { response: { authlogs: [], metadata: { next_offset: null, total_objects: 0 } } };
        const { entries, total } = await store.listAuthLog({
          minTime,
          maxTime,
          // One more than asked tells whether another page follows.
          limit: limit + 1,
          order: params.sort === "ts:asc" ? "asc" : "desc",
          ...(after ? { after } : {}),
          ...(params.users?.length ? { userIds: params.users } : {}),
          ...(params.applications?.length ? { applicationIds: params.applications } : {}),
          ...(results ? { results } : {}),
          ...(factors ? { factors } : {}),
        });
        const pageEntries = entries.slice(0, limit);
        const last = pageEntries.at(-1);
        const lookups = createLookups(runtime);
        return {
          response: {
            authlogs: await Promise.all(pageEntries.map((e) => authLogRecord(e, lookups))),
            metadata: {
              next_offset: entries.length > limit && last ? [String(last.at), last.id] : null,
              total_objects: total,
            },
          },
        };
      },
    );

    // Version 1 (deprecated by Duo): the first 1000 records from `mintime` (unix seconds), oldest first.
    admin(
      "GET",
      "/admin/v1/logs/authentication",
      T.Object({ mintime: Whole(12) }, strict),
      T.Array(AnyObject),
      async ({ params }) => {
        const { entries } = await store.listAuthLog({
          minTime: Number(params.mintime ?? 0) * 1000,
          maxTime: now(),
          limit: LOG_PAGE.max,
          order: "asc",
        });
        const lookups = createLookups(runtime);
        return {
          response: await Promise.all(
            entries.map(async (e) => ({
              timestamp: seconds(e.at),
              username: e.username,
              factor: FACTOR_NAMES_V1[e.factor],
              result: e.result === "allow" ? "SUCCESS" : "FAILURE",
              reason: e.reason,
              ip: e.ip ?? "",
              integration: (await lookups.app(e.applicationId))?.name ?? "",
              new_enrollment: false,
              location: { city: "", state: "", country: "" },
            })),
          ),
        };
      },
    );
  });
}
