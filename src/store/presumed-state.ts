// What the conditional writes of logins decided outside a transaction share (Store.commitOTPAllow,
// Store.commitWebAuthnAllow): the state the decision presumed, and the allow line's columns, with their parameters.
import type { FactorClass, GatedAllow } from "../core/model.ts";
import type { OTPAllowWrite } from "../core/ports.ts";

/**
 * A login whose state the caller presumed (OTPAllowWrite, WebAuthnAllowWrite): the conditions under which its writes
 * apply. The user exists and is not disabled (and, when looked up by name, still has it, uncontested); the factor
 * class's counter is clear; the application is as read (active, same updated_at and policy).
 */
export const PRESUMED_STATE =
  "exists (select 1 from users u where u.id = ? and u.status <> 'disabled' " +
  "and (cast(? as text) is null or (u.username_canonical = ? " +
  "and not exists (select 1 from username_collisions where canonical = ?))) " +
  "and not exists (select 1 from lockouts l where l.user_id = u.id and l.factor_class = ? " +
  "and (l.failures <> 0 or l.last_failure_at is not null)) " +
  "and (cast(? as text) is null or exists (select 1 from applications a " +
  "where a.id = ? and a.status = 'active' and a.updated_at = ? and a.policy_json = ?)))";

/**
 * A user's prompt login that an allow may still complete (Store.allowLoginSession's condition, which LOGIN_PENDING
 * checks beforehand): its id, the user's id, and the time of the allow. Inside LOGIN_PENDING the names are
 * login_sessions' own.
 */
export const USERS_PENDING_LOGIN = "id = ? and user_id = ? and status = 'pending' and expires_at > ?";

/**
 * The prompt login an allow completes, if any (its id first; null for none): still pending, the user's and unexpired,
 * as Store.allowLoginSession requires of it. Parameters: loginPendingParams.
 */
export const LOGIN_PENDING = `(cast(? as text) is null or exists (select 1 from login_sessions where ${USERS_PENDING_LOGIN}))`;

/** LOGIN_PENDING's parameters, in its order. */
export function loginPendingParams(
  loginSessionId: string | undefined,
  userId: string,
  at: number,
): unknown[] {
  const id = loginSessionId ?? null;
  return [id, id, userId, at];
}

/** The allow line's columns, for an INSERT … SELECT or VALUES after it. */
export const AUTH_LOG_COLUMNS =
  "insert into auth_log (id, at, user_id, username, application_id, factor, result, reason, ip, txid, node) ";

/** PRESUMED_STATE's parameters, in its order. */
export function presumedStateParams(w: {
  userId: string;
  canonicalName: string | null;
  factorClass: FactorClass;
  application: OTPAllowWrite["application"];
}): unknown[] {
  return [
    w.userId,
    w.canonicalName,
    w.canonicalName,
    w.canonicalName,
    w.factorClass,
    w.application?.id ?? null,
    w.application?.id ?? null,
    w.application?.updatedAt ?? null,
    w.application ? JSON.stringify(w.application.policy) : null,
  ];
}

/** The allow line's values after AUTH_LOG_COLUMNS (its result is the literal 'allow'). */
export function allowLineParams(l: GatedAllow): unknown[] {
  return [l.id, l.at, l.userId, l.username, l.applicationId, l.factor, l.reason, l.ip, l.txid, l.node];
}
