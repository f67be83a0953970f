// What the conditional writes of logins decided outside a transaction share (Store.commitOTPAllow,
// Store.commitWebAuthnAllow): the state the decision presumed, and the allow line's columns.

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

/** The allow line's columns, for an INSERT … SELECT or VALUES after it. */
export const AUTH_LOG_COLUMNS =
  "insert into auth_log (id, at, user_id, username, application_id, factor, result, reason, ip, txid, node) ";
