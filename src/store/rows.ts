// Row ↔ model mapping for the store: numbers from either driver, JSON columns, nullable fields.
import type { Selectable } from "kysely";
import { normalizeApplicationPolicy } from "../core/application-policy.ts";
import type {
  Application,
  ApplicationType,
  AuditEvent,
  AuthFactor,
  AuthLogEntry,
  AuthResult,
  BypassCode,
  BypassSource,
  Device,
  DeviceActivation,
  FactorClass,
  LockoutState,
  OTPCredential,
  OTPKind,
  OTPStatus,
  OTPType,
  Phone,
  PushContext,
  PushStatus,
  PushTransaction,
  User,
  UserStatus,
} from "../core/model.ts";
import type { OTPAlgorithm } from "../core/otp/hotp.ts";
import type {
  ApplicationsTable,
  AuditLogTable,
  AuthLogTable,
  BypassCodesTable,
  DeviceActivationsTable,
  DevicesTable,
  OTPCredentialsTable,
  PhonesTable,
  PushTransactionsTable,
  UsersTable,
} from "./tables.ts";

export function num(v: number | null): number | null {
  return v === null ? null : Number(v);
}

export function toDevice(r: DevicesTable): Device {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    publicKey: r.public_key,
    deliverySealed: r.delivery_sealed,
    status: r.status as Device["status"],
    otpCredentialId: r.otp_credential_id,
    createdAt: Number(r.created_at),
    lastSeenAt: num(r.last_seen_at),
  };
}

export function toPush(r: PushTransactionsTable): PushTransaction {
  return {
    id: r.id,
    userId: r.user_id,
    applicationId: r.application_id,
    status: r.status as PushStatus,
    codeHash: r.code_hash,
    codeSealed: r.code_sealed ?? null,
    context: JSON.parse(r.context_json) as PushContext,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    answeredAt: num(r.answered_at),
    deviceId: r.device_id,
  };
}

export function toUser(r: UsersTable): User {
  return {
    id: r.id,
    username: r.username,
    usernameCanonical: r.username_canonical,
    realName: r.real_name,
    email: r.email,
    phone: r.phone,
    status: r.status as UserStatus,
    passwordHash: r.password_hash,
    notes: r.notes,
    language: (r.language as User["language"]) ?? null,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export function toApplication(r: ApplicationsTable): Application {
  return {
    id: r.id,
    name: r.name,
    type: r.type as ApplicationType,
    secretSealed: r.secret_sealed,
    policy: normalizeApplicationPolicy(JSON.parse(r.policy_json)),
    status: r.status === "disabled" ? "disabled" : "active",
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    ...(r.redirect_uris_json ? { redirectURIs: JSON.parse(r.redirect_uris_json) as string[] } : {}),
  };
}

export function toOTP(r: OTPCredentialsTable): OTPCredential {
  return {
    id: r.id,
    kind: r.kind as OTPKind,
    serial: r.serial,
    userId: r.user_id,
    type: r.type as OTPType,
    algorithm: r.algorithm as OTPAlgorithm,
    digits: Number(r.digits),
    period: num(r.period),
    secretSealed: r.secret_sealed,
    counter: Number(r.counter),
    lastStep: num(r.last_step),
    drift: Number(r.drift),
    status: r.status as OTPStatus,
    label: r.label,
    manufacturer: r.manufacturer,
    model: r.model,
    createdAt: Number(r.created_at),
    activatedAt: num(r.activated_at),
    pendingExpiresAt: num(r.pending_expires_at),
    assignedAt: num(r.assigned_at),
    ...(r.loan_due_at != null ? { loanDueAt: Number(r.loan_due_at) } : {}),
  };
}

export function fromOTP(c: OTPCredential): OTPCredentialsTable {
  return {
    id: c.id,
    kind: c.kind,
    serial: c.serial,
    user_id: c.userId,
    type: c.type,
    algorithm: c.algorithm,
    digits: c.digits,
    period: c.period,
    secret_sealed: c.secretSealed,
    counter: c.counter,
    last_step: c.lastStep,
    drift: c.drift,
    status: c.status,
    label: c.label,
    manufacturer: c.manufacturer,
    model: c.model,
    created_at: c.createdAt,
    activated_at: c.activatedAt,
    pending_expires_at: c.pendingExpiresAt,
    assigned_at: c.assignedAt,
  };
}

export function toBypass(r: BypassCodesTable): BypassCode {
  return {
    id: r.id,
    userId: r.user_id,
    codeHash: r.code_hash,
    usesLeft: num(r.uses_left),
    maxUses: num(r.max_uses),
    expiresAt: num(r.expires_at),
    source: r.source as BypassSource,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    lastUsedAt: num(r.last_used_at),
    revokedAt: num(r.revoked_at),
    idCheck: r.id_check,
  };
}

export function fromBypass(c: BypassCode): BypassCodesTable {
  return {
    id: c.id,
    user_id: c.userId,
    code_hash: c.codeHash,
    uses_left: c.usesLeft,
    max_uses: c.maxUses,
    expires_at: c.expiresAt,
    source: c.source,
    created_by: c.createdBy,
    created_at: c.createdAt,
    last_used_at: c.lastUsedAt,
    revoked_at: c.revokedAt,
    id_check: c.idCheck,
  };
}

export function toLockout(r: {
  user_id: string;
  factor_class: string;
  failures: number;
  last_failure_at: number | null;
}): LockoutState {
  return {
    userId: r.user_id,
    factorClass: r.factor_class as FactorClass,
    failures: Number(r.failures),
    lastFailureAt: num(r.last_failure_at),
  };
}

export function toAudit(r: Omit<AuditLogTable, "id"> & { id: number }): AuditEvent {
  return {
    id: Number(r.id),
    at: Number(r.at),
    actor: r.actor,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    before: r.before_json === null ? null : (JSON.parse(r.before_json) as unknown),
    after: r.after_json === null ? null : (JSON.parse(r.after_json) as unknown),
    sourceIp: r.source_ip,
  };
}

export function toPhone(r: PhonesTable): Phone {
  return {
    id: r.id,
    userId: r.user_id,
    number: r.number,
    extension: r.extension,
    name: r.name,
    type: r.type as Phone["type"],
    platform: r.platform,
    deviceId: r.device_id,
    createdAt: Number(r.created_at),
    smsVerifiedAt: num(r.sms_verified_at),
  };
}

export function fromPhone(p: Phone): PhonesTable {
  return {
    id: p.id,
    user_id: p.userId,
    number: p.number,
    extension: p.extension,
    name: p.name,
    type: p.type,
    platform: p.platform,
    device_id: p.deviceId,
    sms_verified_at: p.smsVerifiedAt ?? null,
    created_at: p.createdAt,
  };
}

export function toAuthLog(r: AuthLogTable): AuthLogEntry {
  return {
    id: r.id,
    at: Number(r.at),
    userId: r.user_id,
    username: r.username,
    applicationId: r.application_id,
    factor: r.factor as AuthFactor,
    result: r.result as AuthResult,
    reason: r.reason,
    ip: r.ip,
    txid: r.txid,
    node: r.node,
  };
}

export function toDeviceActivation(r: Selectable<DeviceActivationsTable>): DeviceActivation {
  return {
    id: r.id,
    userId: r.user_id,
    secretHash: r.secret_hash,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    usedAt: num(r.used_at),
    phoneId: r.phone_id ?? null,
  };
}
