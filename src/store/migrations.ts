// The one migration set, applied to SQLite and PostgreSQL alike (dialect differences kept to column types and triggers).
import {
  type DatabaseIntrospector,
  type Kysely,
  DEFAULT_MIGRATION_TABLE as MIGRATION_TABLE,
  type Migration,
  type MigrationProvider,
  Migrator,
  sql,
} from "kysely";
import { TwofoldError } from "../core/errors.ts";

export type Dialect = "sqlite" | "postgres";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
type AnyDB = Kysely<any>;

function migrations(dialect: Dialect): Record<string, Migration> {
  const big = dialect === "postgres" ? "bigint" : "integer";
  return {
    "0001_initial": {
      async up(db: AnyDB) {
        await db.schema
          .createTable("users")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("username", "text", (c) => c.notNull())
          .addColumn("username_canonical", "text", (c) => c.notNull().unique())
          .addColumn("real_name", "text")
          .addColumn("email", "text")
          .addColumn("email_canonical", "text")
          .addColumn("phone", "text")
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("password_hash", "text")
          .addColumn("notes", "text")
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("updated_at", big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex("users_email_canonical").on("users").column("email_canonical").execute();

        await db.schema
          .createTable("user_aliases")
          .addColumn("alias_canonical", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("alias", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("user_aliases_user").on("user_aliases").column("user_id").execute();

        await db.schema
          .createTable("applications")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("secret_sealed", "text", (c) => c.notNull())
          .addColumn("policy_json", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("updated_at", big, (c) => c.notNull())
          .execute();

        await db.schema
          .createTable("otp_credentials")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("serial", "text", (c) => c.unique())
          .addColumn("user_id", "text", (c) => c.references("users.id").onDelete("set null"))
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("algorithm", "text", (c) => c.notNull())
          .addColumn("digits", "integer", (c) => c.notNull())
          .addColumn("period", "integer")
          .addColumn("secret_sealed", "text", (c) => c.notNull())
          .addColumn("counter", big, (c) => c.notNull().defaultTo(0))
          .addColumn("last_step", big)
          .addColumn("drift", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("label", "text")
          .addColumn("manufacturer", "text")
          .addColumn("model", "text")
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("activated_at", big)
          .addColumn("pending_expires_at", big)
          .addColumn("assigned_at", big)
          .execute();
        await db.schema.createIndex("otp_credentials_user").on("otp_credentials").column("user_id").execute();

        await db.schema
          .createTable("bypass_codes")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("code_hash", "text", (c) => c.notNull())
          .addColumn("uses_left", "integer")
          .addColumn("max_uses", "integer")
          .addColumn("expires_at", big)
          .addColumn("source", "text", (c) => c.notNull())
          .addColumn("created_by", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("last_used_at", big)
          .addColumn("revoked_at", big)
          .addColumn("id_check", "text")
          .execute();
        await db.schema.createIndex("bypass_codes_user").on("bypass_codes").column("user_id").execute();

        await db.schema
          .createTable("rescue_codes")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("set_id", "text", (c) => c.notNull())
          .addColumn("code_hash", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("used_at", big)
          .execute();
        await db.schema.createIndex("rescue_codes_user").on("rescue_codes").column("user_id").execute();

        await db.schema
          .createTable("lockouts")
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("factor_class", "text", (c) => c.notNull())
          .addColumn("failures", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("last_failure_at", big)
          .addPrimaryKeyConstraint("lockouts_pk", ["user_id", "factor_class"])
          .execute();

        await db.schema
          .createTable("audit_log")
          .addColumn("id", dialect === "postgres" ? "bigserial" : "integer", (c) =>
            dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn("at", big, (c) => c.notNull())
          .addColumn("actor", "text", (c) => c.notNull())
          .addColumn("action", "text", (c) => c.notNull())
          .addColumn("target_type", "text")
          .addColumn("target_id", "text")
          .addColumn("before_json", "text")
          .addColumn("after_json", "text")
          .addColumn("source_ip", "text")
          .execute();
        // The audit log is append-only: the database itself refuses updates and deletes.
        if (dialect === "postgres") {
          await sql`CREATE OR REPLACE FUNCTION twofold_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$ LANGUAGE plpgsql`.execute(db);
          await sql`CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION twofold_append_only()`.execute(db);
        } else {
          await sql`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`.execute(db);
          await sql`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`.execute(db);
        }

        await db.schema
          .createTable("auth_log")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("at", big, (c) => c.notNull())
          .addColumn("user_id", "text")
          .addColumn("username", "text", (c) => c.notNull())
          .addColumn("application_id", "text")
          .addColumn("factor", "text", (c) => c.notNull())
          .addColumn("result", "text", (c) => c.notNull())
          .addColumn("reason", "text", (c) => c.notNull())
          .addColumn("ip", "text")
          .addColumn("txid", "text", (c) => c.notNull())
          .addColumn("node", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("auth_log_at").on("auth_log").columns(["at", "id"]).execute();

        await db.schema
          .createTable("notifications")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("payload_json", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("sent_at", big)
          .execute();
        await db.schema
          .createIndex("notifications_pending")
          .on("notifications")
          .columns(["sent_at", "created_at"])
          .execute();

        await db.schema
          .createTable("meta")
          .addColumn("key", "text", (c) => c.primaryKey())
          .addColumn("value", "text", (c) => c.notNull())
          .execute();
      },
    },
    "0002_push": {
      async up(db: AnyDB) {
        // Devices running the Twofold Authenticator: a public key (answers are signed with it) and how to reach it.
        await db.schema
          .createTable("devices")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("public_key", "text", (c) => c.notNull())
          .addColumn("delivery_sealed", "text")
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("last_seen_at", big)
          .execute();
        await db.schema.createIndex("devices_user").on("devices").column("user_id").execute();

        await db.schema
          .createTable("device_activations")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("secret_hash", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .addColumn("used_at", big)
          .execute();

        await db.schema
          .createTable("push_transactions")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("application_id", "text")
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("code_hash", "text")
          .addColumn("context_json", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .addColumn("answered_at", big)
          .addColumn("device_id", "text")
          .execute();
        await db.schema
          .createIndex("push_transactions_user")
          .on("push_transactions")
          .columns(["user_id", "created_at"])
          .execute();

        // Set when the user reports a push as fraud ("This wasn't me"): no pushes until cleared (D5).
        await db.schema.alterTable("users").addColumn("push_suspended_at", big).execute();
      },
    },
    "0003_push_delivery": {
      async up(db: AnyDB) {
        // The offline passcode generator provisioned with each device, removed with it.
        await db.schema.alterTable("devices").addColumn("otp_credential_id", "text").execute();
        // Expiry sweeps and per-user pending lists stay index scans with many pushes in flight.
        await db.schema
          .createIndex("push_transactions_pending")
          .on("push_transactions")
          .columns(["status", "expires_at"])
          .execute();
      },
    },
    "0004_duo_api": {
      async up(db: AnyDB) {
        // Signed requests seen within the date window, by digest: an identical one again is a replay (K2).
        await db.schema
          .createTable("signed_requests")
          .addColumn("digest", "text", (c) => c.primaryKey())
          .addColumn("expires_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("signed_requests_expiry")
          .on("signed_requests")
          .column("expires_at")
          .execute();
        // Set by the first status poll of a push, which answers at once (it carries the code to type);
        // every later poll waits for a change (duo-compat §3.9: at most 20 polls may be non-final).
        await db.schema.alterTable("push_transactions").addColumn("announced_at", big).execute();
        // The verified-push code, sealed, so an Auth API status poll can show it again (only a hash decides).
        await db.schema.alterTable("push_transactions").addColumn("code_sealed", "text").execute();
        // Auth API status polls find a passcode attempt's outcome by its transaction id.
        await db.schema.createIndex("auth_log_txid").on("auth_log").column("txid").execute();
        // Admin API phones: a number and description an administrator registers, attached to one user, and
        // the Twofold Authenticator activated through its activation link.
        await db.schema
          .createTable("phones")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.references("users.id").onDelete("set null"))
          .addColumn("number", "text")
          .addColumn("extension", "text")
          .addColumn("name", "text")
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("platform", "text", (c) => c.notNull())
          .addColumn("device_id", "text")
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex("phones_user").on("phones").column("user_id").execute();
        await db.schema.alterTable("device_activations").addColumn("phone_id", "text").execute();
      },
    },
    "0005_auth_log_user": {
      async up(db: AnyDB) {
        // A user's latest successful login (Admin API `last_login`) is one index lookup, not a log scan.
        await db.schema
          .createIndex("auth_log_user_result_at")
          .on("auth_log")
          .columns(["user_id", "result", "at"])
          .execute();
      },
    },
    "0006_username_collisions": {
      async up(db: AnyDB) {
        // Canonical keys that more than one user's name reduces to (A3): found when keys are recomputed for
        // the current identity.stripDomains, which a migration cannot see, so `serve` and `db migrate` do it
        // (reconcileUsernames). A key listed here names nobody until an operator settles it; rows go with
        // their user.
        await db.schema
          .createTable("username_collisions")
          .addColumn("canonical", "text", (c) => c.notNull())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("detected_at", big, (c) => c.notNull())
          .addPrimaryKeyConstraint("username_collisions_pk", ["canonical", "user_id"])
          .execute();
        await db.schema
          .createIndex("username_collisions_user")
          .on("username_collisions")
          .column("user_id")
          .execute();
      },
    },
    "0010_signed_request_seen_at": {
      async up(db: AnyDB) {
        // When a remembered signature was first seen: an identical request within a second of it is a client
        // sending the same call twice (answered "retry"), a later one a replay (refused). Older rows: null = long ago.
        await db.schema.alterTable("signed_requests").addColumn("seen_at", big).execute();
      },
    },
    "0009_housekeeping": {
      async up(db: AnyDB) {
        // Housekeeping deletes expired rows a batch at a time, oldest first: each batch is an index range
        // scan, never a table scan (L-2). signed_requests and auth_log already have theirs.
        await db.schema
          .createIndex("push_transactions_expiry")
          .on("push_transactions")
          .column("expires_at")
          .execute();
        await db.schema
          .createIndex("device_activations_expiry")
          .on("device_activations")
          .column("expires_at")
          .execute();
        await db.schema
          .createIndex("otp_credentials_pending_expiry")
          .on("otp_credentials")
          .columns(["status", "pending_expires_at"])
          .execute();
      },
    },
    "0007_throttles_and_api_enrollments": {
      async up(db: AnyDB) {
        // Failed logins per integration, reported address and peer, one row per key and fixed window (A6):
        // each counted event is one upsert that adds one to its row.
        await db.schema
          .createTable("throttle_counts")
          .addColumn("key", "text", (c) => c.notNull())
          .addColumn("window_start", big, (c) => c.notNull())
          .addColumn("count", "integer", (c) => c.notNull())
          .addPrimaryKeyConstraint("throttle_counts_pk", ["key", "window_start"])
          .execute();
        await db.schema
          .createIndex("throttle_counts_window")
          .on("throttle_counts")
          .column("window_start")
          .execute();
        // Users an integration created through /auth/v2/enroll: counted against its cap while pending, and
        // deleted with their user once expired unused (G).
        await db.schema
          .createTable("api_enrollments")
          .addColumn("user_id", "text", (c) => c.primaryKey().references("users.id").onDelete("cascade"))
          .addColumn("application_id", "text", (c) => c.notNull())
          .addColumn("activation_id", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("api_enrollments_application")
          .on("api_enrollments")
          .columns(["application_id", "expires_at"])
          .execute();
        await db.schema.createIndex("api_enrollments_expiry").on("api_enrollments").column("expires_at");
      },
    },
    "0011_activation_barcodes": {
      async up(db: AnyDB) {
        // The activation QR code, rendered once and sealed, found by the hash of the opaque handle in its URL.
        await db.schema.alterTable("device_activations").addColumn("barcode_hash", "text").execute();
        await db.schema.alterTable("device_activations").addColumn("barcode_sealed", "text").execute();
        await db.schema
          .createIndex("device_activations_barcode")
          .unique()
          .on("device_activations")
          .column("barcode_hash");
      },
    },
    "0015_webauthn": {
      async up(db: AnyDB) {
        // WebAuthn credentials (F5: a credential ID belongs to one user at most, hence unique). Removing a user
        // removes their keys.
        await db.schema
          .createTable("webauthn_credentials")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("credential_id", "text", (c) => c.notNull().unique())
          .addColumn("public_key", "text", (c) => c.notNull())
          .addColumn("user_handle", "text", (c) => c.notNull())
          .addColumn("sign_count", big, (c) => c.notNull().defaultTo(0))
          .addColumn("transports_json", "text", (c) => c.notNull())
          .addColumn("aaguid", "text", (c) => c.notNull())
          .addColumn("attestation_format", "text", (c) => c.notNull())
          .addColumn("backup_eligible", "integer", (c) => c.notNull())
          .addColumn("backup_state", "integer", (c) => c.notNull())
          .addColumn("device_type", "text", (c) => c.notNull())
          .addColumn("discoverable", "integer")
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("last_used_at", big)
          .execute();
        await db.schema
          .createIndex("webauthn_credentials_user")
          .on("webauthn_credentials")
          .column("user_id")
          .execute();
        // Ceremonies (F1): one row per challenge handed out, deleted by the one call that uses it; the expiry
        // index serves housekeeping, the user and source indexes the caps on live ceremonies.
        await db.schema
          .createTable("webauthn_ceremonies")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("user_id", "text", (c) => c.references("users.id").onDelete("cascade"))
          .addColumn("context_hash", "text", (c) => c.notNull())
          .addColumn("challenge", "text", (c) => c.notNull())
          .addColumn("user_verification", "text", (c) => c.notNull())
          .addColumn("user_handle", "text")
          .addColumn("source", "text")
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("webauthn_ceremonies_expiry")
          .on("webauthn_ceremonies")
          .column("expires_at")
          .execute();
        await db.schema
          .createIndex("webauthn_ceremonies_user")
          .on("webauthn_ceremonies")
          .columns(["user_id", "expires_at"])
          .execute();
        await db.schema
          .createIndex("webauthn_ceremonies_source")
          .on("webauthn_ceremonies")
          .columns(["source", "expires_at"])
          .execute();
      },
    },
    "0016_sms_and_outbox": {
      async up(db: AnyDB) {
        // The language a user's notifications are written in (e-mail through the outbox).
        await db.schema.alterTable("users").addColumn("language", "text").execute();
        // A phone number receives passcodes only once a code sent to it was typed back (E2).
        await db.schema.alterTable("phones").addColumn("sms_verified_at", big).execute();
        // Text-message codes: keyed hashes, one live per user and purpose, used once (E1).
        await db.schema
          .createTable("sms_codes")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("phone_id", "text", (c) => c.notNull())
          .addColumn("purpose", "text", (c) => c.notNull())
          .addColumn("application_id", "text")
          .addColumn("code_hash", "text", (c) => c.notNull())
          .addColumn("reservation_id", "text")
          .addColumn("message_id", "text")
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .addColumn("used_at", big)
          .addColumn("revoked_at", big)
          .execute();
        await db.schema
          .createIndex("sms_codes_user")
          .on("sms_codes")
          .columns(["user_id", "purpose", "created_at"])
          .execute();
        await db.schema.createIndex("sms_codes_expiry").on("sms_codes").column("expires_at").execute();
        // The outbox: a message is committed before it is sent and claimed with a lease (DESIGN §2).
        await db.schema
          .createTable("outbox_messages")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("channel", "text", (c) => c.notNull())
          .addColumn("user_id", "text")
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("destination_sealed", "text", (c) => c.notNull())
          .addColumn("body_sealed", "text", (c) => c.notNull())
          .addColumn("reservation_id", "text")
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("attempts", "integer", (c) => c.notNull())
          .addColumn("next_attempt_at", big, (c) => c.notNull())
          .addColumn("lease_owner", "text")
          .addColumn("lease_until", big)
          .addColumn("send_by", big)
          .addColumn("gateway", "text")
          .addColumn("gateway_message_id", "text")
          .addColumn("last_error", "text")
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("sent_at", big)
          .addColumn("receipt_at", big)
          .execute();
        await db.schema
          .createIndex("outbox_messages_due")
          .on("outbox_messages")
          .columns(["status", "next_attempt_at"])
          .execute();
        await db.schema
          .createIndex("outbox_messages_gateway_id")
          .on("outbox_messages")
          .columns(["gateway", "gateway_message_id"])
          .execute();
        await db.schema
          .createIndex("outbox_messages_created")
          .on("outbox_messages")
          .column("created_at")
          .execute();
      },
    },
    "0013_login_sessions": {
      async up(db: AnyDB) {
        // Web SDK applications register the exact redirect URIs the prompt may send a browser back to (J1).
        await db.schema.alterTable("applications").addColumn("redirect_uris_json", "text").execute();
        // One browser login through the prompt (OIDC authorize → second factor → code → token).
        await db.schema
          .createTable("login_sessions")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("handle_hash", "text", (c) => c.notNull().unique())
          .addColumn("application_id", "text", (c) => c.notNull())
          .addColumn("user_id", "text")
          .addColumn("username", "text", (c) => c.notNull())
          .addColumn("redirect_uri", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("nonce", "text")
          .addColumn("use_duo_code", "integer", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("push_txid", "text")
          .addColumn("factor", "text")
          .addColumn("auth_txid", "text")
          .addColumn("auth_at", big)
          .addColumn("code_hash", "text", (c) => c.unique())
          .addColumn("code_expires_at", big)
          .addColumn("ip", "text")
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .addColumn("max_expires_at", big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex("login_sessions_push").on("login_sessions").column("push_txid").execute();
        await db.schema
          .createIndex("login_sessions_expiry")
          .on("login_sessions")
          .column("max_expires_at")
          .execute();
      },
    },
    "0008_application_status": {
      async up(db: AnyDB) {
        // An application can be disabled: the completion gate then denies its logins, even those under way (A4).
        await db.schema
          .alterTable("applications")
          .addColumn("status", "text", (c) => c.notNull().defaultTo("active"))
          .execute();
      },
    },
    "0014_trusted_browsers": {
      async up(db: AnyDB) {
        // "Yes, trust this browser" (I5): one row per trusted browser, bound to user and application. Only a keyed
        // hash of the cookie's secret is kept; the row is revoked (not deleted) so the user and the service desk
        // see why, and housekeeping deletes it once expired or revoked for a while.
        await db.schema
          .createTable("trusted_browsers")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("application_id", "text", (c) =>
            c.notNull().references("applications.id").onDelete("cascade"),
          )
          .addColumn("secret_hash", "text", (c) => c.notNull())
          // The login that earned the trust: one browser per login, so a login cannot be replayed into many.
          .addColumn("txid", "text", (c) => c.notNull().unique())
          .addColumn("user_agent", "text")
          .addColumn("ip", "text")
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .addColumn("last_used_at", big)
          .addColumn("revoked_at", big)
          .addColumn("revoked_reason", "text")
          .execute();
        await db.schema
          .createIndex("trusted_browsers_user")
          .on("trusted_browsers")
          .columns(["user_id", "revoked_at"])
          .execute();
        await db.schema
          .createIndex("trusted_browsers_expiry")
          .on("trusted_browsers")
          .column("expires_at")
          .execute();
        await db.schema
          .createIndex("trusted_browsers_revoked")
          .on("trusted_browsers")
          .column("revoked_at")
          .execute();
        // When the user first had a second factor: only a user who never had one may enrol in the prompt or be
        // let in by a new-user policy (CISA AA22-074A). Set once; cleared only by an administrator's reset.
        await db.schema.alterTable("users").addColumn("first_factor_at", big).execute();
        // Users who have or had a factor before this column existed: an activated authenticator app or an
        // assigned token, a device (active or revoked), or a login with one in the authentication log.
        await sql`
          update users set first_factor_at = created_at
          where first_factor_at is null and (
            exists (select 1 from otp_credentials o where o.user_id = users.id and o.status <> 'pending')
            or exists (select 1 from devices d where d.user_id = users.id)
            or exists (
              select 1 from auth_log a
              where a.user_id = users.id and a.result = 'allow' and a.factor in ('totp', 'hotp', 'token', 'push')
            )
          )`.execute(db);
      },
    },
    "0017_sms_guard": {
      async up(db: AnyDB) {
        // Every text the SMS guard allowed (E3): counted per user, number, address, application, country and prefix
        // over rolling windows, and judged by the conversion breaker. The number is a keyed hash; rows are deleted
        // after sms.guard.sendRetentionDays.
        await db.schema
          .createTable("sms_sends")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull())
          .addColumn("number_hash", "text", (c) => c.notNull())
          .addColumn("country", "text", (c) => c.notNull())
          .addColumn("prefix", "text", (c) => c.notNull())
          .addColumn("address", "text")
          .addColumn("application_id", "text")
          .addColumn("purpose", "text", (c) => c.notNull())
          .addColumn("cost_micros", big, (c) => c.notNull())
          .addColumn("day", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("settled_at", big)
          .addColumn("excluded", "integer", (c) => c.notNull().defaultTo(0))
          .execute();
        for (const column of ["user_id", "number_hash", "address", "application_id", "country", "prefix"])
          await db.schema
            .createIndex(`sms_sends_${column}`)
            .on("sms_sends")
            .columns([column, "created_at"])
            .execute();
        await db.schema.createIndex("sms_sends_created").on("sms_sends").column("created_at").execute();
        // One row per spend day: the row every decision locks first, the spend it is charged to, the day's totals.
        await db.schema
          .createTable("sms_days")
          .addColumn("day", "text", (c) => c.primaryKey())
          .addColumn("sent", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("converted", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("failed", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("spent_micros", big, (c) => c.notNull().defaultTo(0))
          .addColumn("cap_alerted_at", big)
          .execute();
        await db.schema
          .createTable("sms_blocked")
          .addColumn("day", "text", (c) => c.notNull())
          .addColumn("reason", "text", (c) => c.notNull())
          .addColumn("count", "integer", (c) => c.notNull())
          .addPrimaryKeyConstraint("sms_blocked_pk", ["day", "reason"])
          .execute();
        // Operators' stops (user, number) and the breaker's pauses (country, prefix, address). At most one open
        // per scope, subject and source: a partial unique index, so two nodes cannot both open one.
        await db.schema
          .createTable("sms_stops")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("scope", "text", (c) => c.notNull())
          .addColumn("subject", "text", (c) => c.notNull())
          .addColumn("user_id", "text", (c) => c.references("users.id").onDelete("cascade"))
          .addColumn("source", "text", (c) => c.notNull())
          .addColumn("mode", "text", (c) => c.notNull())
          .addColumn("reason", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("created_by", "text", (c) => c.notNull())
          .addColumn("until", big)
          .addColumn("ended_at", big)
          .addColumn("ended_by", "text")
          .addColumn("stats_json", "text")
          .execute();
        await sql`create unique index sms_stops_open on sms_stops (scope, subject, source) where ended_at is null`.execute(
          db,
        );
        await db.schema
          .createIndex("sms_stops_ended")
          .on("sms_stops")
          .columns(["ended_at", "until"])
          .execute();
      },
    },
    "0018_message_marks_and_loans": {
      async up(db: AnyDB) {
        // A hardware token lent until a date: the borrower is reminded when it falls due and once more when
        // overdue; loan_reminded (0 none, 1 due, 2 overdue) moves by one conditional write, so one node sends each.
        await db.schema.alterTable("otp_credentials").addColumn("loan_due_at", big).execute();
        await db.schema
          .alterTable("otp_credentials")
          .addColumn("loan_reminded", "integer", (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema
          .createIndex("otp_credentials_loan_due")
          .on("otp_credentials")
          .column("loan_due_at")
          .execute();
        // Messages sent at most once per key (an operator alert per kind, key and hour): the insert that wins
        // the primary key sends it. Deleted by housekeeping once older than a day.
        await db.schema
          .createTable("message_marks")
          .addColumn("mark", "text", (c) => c.primaryKey())
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("message_marks_created")
          .on("message_marks")
          .column("created_at")
          .execute();
      },
    },
    "0021_sms_code_login": {
      async up(db: AnyDB) {
        // The prompt login a text-message code was sent for (E1: bound to the transaction): such a code completes
        // that login only. Null for codes sent through the Auth API (bound to their application, as before).
        await db.schema.alterTable("sms_codes").addColumn("login_session_id", "text").execute();
      },
    },
    "0022_first_factor_keys_and_phones": {
      async up(db: AnyDB) {
        // 0014 marked users with an app, a token or a device; keys (0015) and numbers verified for text messages
        // (0016) could already exist on a database that got 0014 after them: mark those users too, and users with
        // a login by a key or a text in the authentication log (the key or number since removed).
        await sql`
          update users set first_factor_at = created_at
          where first_factor_at is null and (
            exists (select 1 from webauthn_credentials w where w.user_id = users.id)
            or exists (select 1 from phones p where p.user_id = users.id and p.sms_verified_at is not null)
            or exists (
              select 1 from auth_log a
              where a.user_id = users.id and a.result = 'allow' and a.factor in ('webauthn', 'sms')
            )
          )`.execute(db);
      },
    },
    "0023_notifications_created": {
      async up(db: AnyDB) {
        // Notifications are kept as long as the authentication log (housekeeping deletes the oldest first).
        await db.schema
          .createIndex("notifications_created")
          .on("notifications")
          .columns(["created_at", "id"])
          .execute();
      },
    },
  };
}

class InCodeProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

export interface MigrationReport {
  applied: string[];
}

/**
 * Bring the schema up to date. Kysely's migrator takes a lock table first, so several nodes starting
 * at once apply each migration exactly once; each migration runs in a transaction where the database
 * supports transactional DDL, so an interrupted run leaves no half schema (F-15).
 */
export async function migrateToLatest(db: AnyDB, dialect: Dialect): Promise<MigrationReport> {
  // Kysely looks for its bookkeeping tables in every schema; name ours so another schema's are not taken for them.
  const schema =
    dialect === "postgres"
      ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s
      : undefined;
  if (await upToDate(db, dialect, schema)) return { applied: [] };
  const migrator = new Migrator({
    db: schema ? withSchemaIntrospection(db, schema) : db,
    provider: new InCodeProvider(dialect),
    ...(schema ? { migrationTableSchema: schema } : {}),
    // Migrations are numbered as they are written and may land in another order (0015 after 0017): a database
    // that already has a later one still gets an earlier one it lacks. Each migration adds its own tables and
    // columns, so their order does not matter.
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    throw new TwofoldError("ERR_STORE", "database migration failed", {
      cause: error,
      detail: String((error as Error).message ?? error),
    });
  }
  return { applied: (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName) };
}

/**
 * Whether the database has recorded exactly this code's migrations, read in one statement. That is the answer at
 * almost every start, and the migrator takes much longer to give it (it lists every table with its columns, takes
 * its lock and sorts the names). Anything else (a table missing, a migration to apply, one this code does not
 * know, which the migrator refuses) goes through the migrator.
 */
async function upToDate(db: AnyDB, dialect: Dialect, schema: string | undefined): Promise<boolean> {
  let recorded: string[];
  try {
    const table = schema ? sql`${sql.id(schema)}.${sql.id(MIGRATION_TABLE)}` : sql.id(MIGRATION_TABLE);
    recorded = (await sql<{ name: string }>`select name from ${table}`.execute(db)).rows.map((r) => r.name);
  } catch {
    return false;
  }
  const known = Object.keys(migrations(dialect));
  return recorded.length === known.length && known.every((name) => recorded.includes(name));
}

/**
 * The migrator asks whether its bookkeeping tables exist by listing every table of every schema, with details
 * (PostgreSQL's introspection calls pg_get_serial_sequence per column): slow on a server with many schemas, and
 * it fails outright when another schema is dropped during the listing. Only our own schema matters, so the
 * migrator gets an introspector that lists that schema's tables alone.
 */
function withSchemaIntrospection(db: AnyDB, schema: string): AnyDB {
  const introspection: DatabaseIntrospector = {
    getSchemas: async () => [{ name: schema }],
    getTables: async () => {
      const rows = await sql<{ name: string; type: string }>`
        select table_name as name, table_type as type from information_schema.tables
        where table_schema = ${schema}`.execute(db);
      return rows.rows.map((r) => ({ name: r.name, schema, isView: r.type === "VIEW", columns: [] }));
    },
    getMetadata: async () => ({ tables: await introspection.getTables() }),
  };
  return new Proxy(db, {
    get(target, property) {
      if (property === "introspection") return introspection;
      const value: unknown = Reflect.get(target, property, target);
      // Kysely keeps its state in private fields: its methods must run on the real instance.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export function latestMigrationName(): string {
  return Object.keys(migrations("sqlite")).sort().at(-1)!;
}
