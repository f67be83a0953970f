// The Store port over Kysely: one implementation for SQLite and PostgreSQL, every one-time value a conditional write.
import { type Kysely, sql } from "kysely";
import type { Store } from "../core/ports.ts";
import { APIEnrollmentRecords } from "./aggregates/api-enrollments.ts";
import { ApplicationRecords } from "./aggregates/applications.ts";
import { BypassCodeRecords } from "./aggregates/bypass-codes.ts";
import { DeviceRecords } from "./aggregates/devices.ts";
import { HousekeepingRecords } from "./aggregates/housekeeping.ts";
import { LockoutRecords } from "./aggregates/lockouts.ts";
import { LoginSessionRecords } from "./aggregates/login-sessions.ts";
import { LogRecords } from "./aggregates/logs.ts";
import { MessageMarkRecords } from "./aggregates/message-marks.ts";
import { MetaRecords } from "./aggregates/meta.ts";
import { NotificationRecords } from "./aggregates/notifications.ts";
import { OTPCredentialRecords } from "./aggregates/otp-credentials.ts";
import { OutboxRecords } from "./aggregates/outbox.ts";
import { PhoneRecords } from "./aggregates/phones.ts";
import { PushRecords } from "./aggregates/push.ts";
import { SignedRequestRecords } from "./aggregates/signed-requests.ts";
import { SMSCodeRecords } from "./aggregates/sms-codes.ts";
import { SmsGuardRecords } from "./aggregates/sms-guard.ts";
import { TrustedBrowserRecords } from "./aggregates/trusted-browsers.ts";
import { UserRecords } from "./aggregates/users.ts";
import { WebAuthnRecords } from "./aggregates/webauthn.ts";
import type { Dialect } from "./migrations.ts";
import type { GroupUndo, SqliteConnection } from "./sqlite-connection.ts";
import { type DB, guard, StoreContext } from "./store-context.ts";
import type { Database } from "./tables.ts";

/**
 * The methods of every aggregate, carried by KyselyStore's prototype (see applyRecords). One class, so one
 * transaction model: a transaction callback receives a KyselyStore over the transaction, whatever aggregate it uses.
 * `implements Store` below checks that the aggregates together cover the port.
 */
export interface KyselyStore
  extends UserRecords,
    ApplicationRecords,
    OTPCredentialRecords,
    BypassCodeRecords,
    LockoutRecords,
    LogRecords,
    NotificationRecords,
    DeviceRecords,
    PushRecords,
    SignedRequestRecords,
    APIEnrollmentRecords,
    PhoneRecords,
    HousekeepingRecords,
    LoginSessionRecords,
    TrustedBrowserRecords,
    MetaRecords,
    SMSCodeRecords,
    OutboxRecords,
    MessageMarkRecords,
    SmsGuardRecords,
    WebAuthnRecords {}

export class KyselyStore extends StoreContext implements Store {
  readonly #onClose: (() => Promise<void>) | undefined;

  constructor(
    db: DB,
    dialect: Dialect,
    options: { inTransaction?: boolean; onClose?: () => Promise<void>; sqlite?: SqliteConnection } = {},
  ) {
    super(db, dialect, options.inTransaction ?? false, options.sqlite);
    this.#onClose = options.onClose;
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>, undo?: GroupUndo): Promise<T> {
    if (this.inTransaction) return fn(this);
    const sqlite = this.sqlite;
    if (sqlite)
      return guard(() =>
        sqlite.transaction(
          () => fn(new KyselyStore(sqlite.owner, this.dialect, { inTransaction: true, sqlite })),
          undo,
        ),
      );
    return guard(() =>
      (this.db as Kysely<Database>)
        .transaction()
        .execute((trx) => fn(new KyselyStore(trx, this.dialect, { inTransaction: true }))),
    );
  }

  async ping(): Promise<void> {
    await guard(() => sql`select 1`.execute(this.db));
  }

  async close(): Promise<void> {
    if (this.#onClose) await this.#onClose();
  }
}

/** Copy each aggregate's methods onto KyselyStore's prototype; a name defined twice is a mistake, not an override. */
function applyRecords(target: { prototype: object }, parts: ReadonlyArray<{ prototype: object }>): void {
  const seen = new Set(Object.getOwnPropertyNames(target.prototype));
  for (const part of parts) {
    for (const name of Object.getOwnPropertyNames(part.prototype)) {
      if (name === "constructor") continue;
      if (seen.has(name)) throw new Error(`store method ${name} is defined twice`);
      seen.add(name);
      Object.defineProperty(target.prototype, name, Object.getOwnPropertyDescriptor(part.prototype, name)!);
    }
  }
}

applyRecords(KyselyStore, [
  UserRecords,
  ApplicationRecords,
  OTPCredentialRecords,
  BypassCodeRecords,
  LockoutRecords,
  LogRecords,
  NotificationRecords,
  DeviceRecords,
  PushRecords,
  SignedRequestRecords,
  APIEnrollmentRecords,
  PhoneRecords,
  HousekeepingRecords,
  LoginSessionRecords,
  TrustedBrowserRecords,
  MetaRecords,
  SMSCodeRecords,
  OutboxRecords,
  MessageMarkRecords,
  SmsGuardRecords,
  WebAuthnRecords,
]);
