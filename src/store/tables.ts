// Row types of the database tables, as Kysely sees them (snake_case columns, times as epoch milliseconds).
import type { Generated } from "kysely";

export interface UsersTable {
  id: string;
  username: string;
  username_canonical: string;
  real_name: string | null;
  email: string | null;
  email_canonical: string | null;
  phone: string | null;
  status: string;
  password_hash: string | null;
  notes: string | null;
  language: string | null;
  created_at: number;
  updated_at: number;
  push_suspended_at?: number | null;
  /** When the user first had a second factor (migration 0014); null: never, or reset by an administrator. */
  first_factor_at?: number | null;
}

export interface UserAliasesTable {
  alias_canonical: string;
  user_id: string;
  alias: string;
}

export interface UsernameCollisionsTable {
  canonical: string;
  user_id: string;
  detected_at: number;
}

export interface ApplicationsTable {
  id: string;
  name: string;
  type: string;
  secret_sealed: string;
  policy_json: string;
  /** `active` or `disabled` (migration 0008). */
  status: string;
  created_at: number;
  updated_at: number;
  /** Web SDK: the registered redirect URIs, a JSON array (migration 0013); null = none. */
  redirect_uris_json?: string | null;
}

export interface OTPCredentialsTable {
  id: string;
  kind: string;
  serial: string | null;
  user_id: string | null;
  type: string;
  algorithm: string;
  digits: number;
  period: number | null;
  secret_sealed: string;
  counter: number;
  last_step: number | null;
  drift: number;
  status: string;
  label: string | null;
  manufacturer: string | null;
  model: string | null;
  created_at: number;
  activated_at: number | null;
  pending_expires_at: number | null;
  assigned_at: number | null;
  /** Hardware tokens lent until a date (migration 0018). */
  loan_due_at?: number | null;
  /** Loan reminders sent: 0 none, 1 the due one, 2 the overdue one too (migration 0018). */
  loan_reminded?: number;
}

export interface BypassCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  uses_left: number | null;
  max_uses: number | null;
  expires_at: number | null;
  source: string;
  created_by: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  id_check: string | null;
}

export interface RescueCodesTable {
  id: string;
  user_id: string;
  set_id: string;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

export interface LockoutsTable {
  user_id: string;
  factor_class: string;
  failures: number;
  last_failure_at: number | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  before_json: string | null;
  after_json: string | null;
  source_ip: string | null;
}

export interface AuthLogTable {
  id: string;
  at: number;
  user_id: string | null;
  username: string;
  application_id: string | null;
  factor: string;
  result: string;
  reason: string;
  ip: string | null;
  txid: string;
  node: string;
}

export interface NotificationsTable {
  id: string;
  user_id: string;
  kind: string;
  payload_json: string;
  created_at: number;
  sent_at: number | null;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface DevicesTable {
  id: string;
  user_id: string;
  name: string;
  public_key: string;
  delivery_sealed: string | null;
  status: string;
  otp_credential_id: string | null;
  created_at: number;
  last_seen_at: number | null;
}

export interface DeviceActivationsTable {
  id: string;
  user_id: string;
  secret_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  phone_id?: string | null;
  barcode_hash?: string | null;
  barcode_sealed?: string | null;
}

export interface PushTransactionsTable {
  id: string;
  user_id: string;
  application_id: string | null;
  status: string;
  code_hash: string | null;
  context_json: string;
  created_at: number;
  expires_at: number;
  answered_at: number | null;
  device_id: string | null;
  announced_at?: number | null;
  code_sealed?: string | null;
}

export interface SignedRequestsTable {
  digest: string;
  expires_at: number;
  seen_at: number | null;
}

export interface PhonesTable {
  id: string;
  user_id: string | null;
  number: string | null;
  extension: string | null;
  name: string | null;
  type: string;
  platform: string;
  device_id: string | null;
  created_at: number;
  sms_verified_at: number | null;
}

/** Text-message codes (E1, E2): keyed hashes only. */
export interface SMSCodesTable {
  id: string;
  user_id: string;
  phone_id: string;
  purpose: string;
  application_id: string | null;
  login_session_id: string | null;
  code_hash: string;
  reservation_id: string | null;
  message_id: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}

/** The outbox (SMS, e-mail): destination and body sealed. */
export interface OutboxMessagesTable {
  id: string;
  channel: string;
  user_id: string | null;
  kind: string;
  destination_sealed: string;
  body_sealed: string;
  reservation_id: string | null;
  status: string;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  send_by: number | null;
  gateway: string | null;
  gateway_message_id: string | null;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
  receipt_at: number | null;
}

/** Sliding-window throttle counters (A6): events of one key in one fixed window. */
export interface ThrottleCountsTable {
  key: string;
  window_start: number;
  count: number;
}

/** Users created through Auth API enrolment, until activated or expired (and deleted). */
export interface APIEnrollmentsTable {
  user_id: string;
  application_id: string;
  activation_id: string;
  created_at: number;
  expires_at: number;
}

/** WebAuthn credentials (migration 0015): booleans as 0/1 on both databases. */
export interface WebAuthnCredentialsTable {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  user_handle: string;
  sign_count: number;
  transports_json: string;
  aaguid: string;
  attestation_format: string;
  backup_eligible: number;
  backup_state: number;
  device_type: string;
  discoverable: number | null;
  name: string;
  status: string;
  created_at: number;
  last_used_at: number | null;
}

/** WebAuthn ceremonies under way (migration 0015): deleted when used, pruned when expired. */
export interface WebAuthnCeremoniesTable {
  id: string;
  kind: string;
  user_id: string | null;
  context_hash: string;
  challenge: string;
  user_verification: string;
  user_handle: string | null;
  source: string | null;
  created_at: number;
  expires_at: number;
}

/** One browser login through the prompt (migration 0013). */
export interface LoginSessionsTable {
  id: string;
  handle_hash: string;
  application_id: string;
  user_id: string | null;
  username: string;
  redirect_uri: string;
  state: string;
  nonce: string | null;
  use_duo_code: number;
  status: string;
  push_txid: string | null;
  factor: string | null;
  auth_txid: string | null;
  auth_at: number | null;
  code_hash: string | null;
  code_expires_at: number | null;
  ip: string | null;
  created_at: number;
  expires_at: number;
  max_expires_at: number;
}

/** Browsers a user chose to trust for an application (migration 0014, I5). */
export interface TrustedBrowsersTable {
  id: string;
  user_id: string;
  application_id: string;
  secret_hash: string;
  txid: string;
  user_agent: string | null;
  ip: string | null;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  revoked_reason: string | null;
}

/** Texts the SMS guard allowed (E3); the number only as a keyed hash. */
export interface SmsSendsTable {
  id: string;
  user_id: string;
  number_hash: string;
  country: string;
  prefix: string;
  address: string | null;
  application_id: string | null;
  purpose: string;
  cost_micros: number;
  day: string;
  created_at: number;
  status: string;
  settled_at: number | null;
  excluded: number;
}

export interface SmsDaysTable {
  day: string;
  sent: number;
  converted: number;
  failed: number;
  spent_micros: number;
  cap_alerted_at: number | null;
}

export interface SmsBlockedTable {
  day: string;
  reason: string;
  count: number;
}

export interface SmsStopsTable {
  id: string;
  scope: string;
  subject: string;
  user_id: string | null;
  source: string;
  mode: string;
  reason: string;
  created_at: number;
  created_by: string;
  until: number | null;
  ended_at: number | null;
  ended_by: string | null;
  stats_json: string | null;
}

/** Messages sent at most once per key (migration 0018). */
export interface MessageMarksTable {
  mark: string;
  created_at: number;
}

export interface Database {
  users: UsersTable;
  user_aliases: UserAliasesTable;
  username_collisions: UsernameCollisionsTable;
  applications: ApplicationsTable;
  otp_credentials: OTPCredentialsTable;
  bypass_codes: BypassCodesTable;
  rescue_codes: RescueCodesTable;
  lockouts: LockoutsTable;
  audit_log: AuditLogTable;
  auth_log: AuthLogTable;
  notifications: NotificationsTable;
  meta: MetaTable;
  devices: DevicesTable;
  device_activations: DeviceActivationsTable;
  push_transactions: PushTransactionsTable;
  signed_requests: SignedRequestsTable;
  phones: PhonesTable;
  throttle_counts: ThrottleCountsTable;
  api_enrollments: APIEnrollmentsTable;
  webauthn_credentials: WebAuthnCredentialsTable;
  webauthn_ceremonies: WebAuthnCeremoniesTable;
  sms_codes: SMSCodesTable;
  outbox_messages: OutboxMessagesTable;
  message_marks: MessageMarksTable;
  login_sessions: LoginSessionsTable;
  trusted_browsers: TrustedBrowsersTable;
  sms_sends: SmsSendsTable;
  sms_days: SmsDaysTable;
  sms_blocked: SmsBlockedTable;
  sms_stops: SmsStopsTable;
}
