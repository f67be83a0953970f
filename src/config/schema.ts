// The one configuration schema: every setting, its default and its security floor (DESIGN.md §4).
import { type Static, Type as T } from "@sinclair/typebox";
import { AUTH_METHODS, MAX_REMEMBER_DAYS } from "../core/model.ts";
import { SmsGuardSchema } from "./sms-guard-schema.ts";

/**
 * The push services of the browsers the Twofold Authenticator runs in: Chrome, Edge, Opera, Samsung Internet and
 * Brave use Firebase Cloud Messaging; Firefox Mozilla's autopush; Safari Apple's; older Edge Windows' WNS.
 */
export const BROWSER_PUSH_SERVICES = [
  "fcm.googleapis.com",
  "android.googleapis.com",
  "updates.push.services.mozilla.com",
  "push.apple.com",
  "notify.windows.com",
];

/** The prompt's help pages (web/prompt/pages/help.tsx), which `branding.helpPages` may replace. */
export const HELP_PAGE_TOPICS = [
  "push",
  "passcode",
  "no-phone",
  "windows-hello",
  "touch-id",
  "passkey-phone",
  "security-key",
] as const;
const Method = T.Union(AUTH_METHODS.map((m) => T.Literal(m)));

const RememberDays = (def: number, description: string) =>
  T.Integer({ default: def, minimum: 0, maximum: MAX_REMEMBER_DAYS, description });

const Seconds = (def: number, min: number, max: number, description: string) =>
  T.Integer({ default: def, minimum: min, maximum: max, description });

/** One SMS gateway: an SMPP 3.4 SMSC (as an ESME) or an HTTP provider's REST API. */
function SMSGatewaySchema() {
  return T.Union([
    T.Object({
      type: T.Literal("smpp"),
      name: T.String({ minLength: 1, maxLength: 32 }),
      url: T.String({ pattern: "^s?smpp://", description: "smpp://host:port (ssmpp:// for TLS)" }),
      systemId: T.String({ minLength: 1, maxLength: 16 }),
      password: T.String({ default: "", maxLength: 9 }),
      systemType: T.String({ default: "", maxLength: 13 }),
      sourceAddrTon: T.Integer({ default: 5, minimum: 0, maximum: 6, description: "5: alphanumeric sender" }),
      sourceAddrNpi: T.Integer({ default: 0, minimum: 0, maximum: 18 }),
      enquireLinkSeconds: Seconds(30, 5, 600, "Keep-alive (enquire_link) period"),
      submitTimeoutMs: T.Integer({ default: 3000, minimum: 100, maximum: 60000 }),
      bindTimeoutSeconds: Seconds(
        15,
        1,
        300,
        "Longest the connection and bind may take (TCP, TLS, bind_transceiver) before the attempt is dropped and retried",
      ),
      reconnectMaxSeconds: Seconds(60, 1, 3600, "Longest wait between reconnection attempts"),
      deliveryReceipts: T.Boolean({ default: true }),
    }),
    T.Object({
      type: T.Literal("http"),
      name: T.String({ minLength: 1, maxLength: 32 }),
      url: T.String({ pattern: "^https?://", description: "The provider's send endpoint" }),
      method: T.Union([T.Literal("POST"), T.Literal("PUT"), T.Literal("GET")], { default: "POST" }),
      headers: T.Record(T.String(), T.String(), {
        default: {},
        description: "Extra headers, e.g. Authorization: Basic …",
      }),
      body: T.Union([T.Literal("form"), T.Literal("json")], { default: "form" }),
      fields: T.Record(T.String(), T.String(), {
        default: { To: "{to}", From: "{from}", Body: "{text}" },
        description: "Request fields; {to}, {from}, {text}, {reference} are filled in",
      }),
      successStatus: T.Array(T.Integer({ minimum: 100, maximum: 599 }), { default: [200, 201, 202] }),
      messageIdPath: T.String({
        default: "",
        description: "Dotted path of the message id in the JSON answer (sid, messages.0.message-id)",
      }),
      timeoutMs: T.Integer({ default: 3000, minimum: 100, maximum: 60000 }),
      receipts: T.Object(
        {
          auth: T.Union([T.Literal("token"), T.Literal("twilio")], {
            default: "token",
            description:
              "How status callbacks to /sms/v1/receipts/<name> are authenticated: token (?token= or a bearer token equal to secret), twilio (X-Twilio-Signature keyed with secret)",
          }),
          secret: T.String({
            default: "",
            maxLength: 256,
            description: "The shared token or the provider's signing key; empty: receipts are refused",
          }),
          idField: T.String({
            default: "MessageSid",
            description: "Dotted path of the message id in a callback",
          }),
          statusField: T.String({ default: "MessageStatus", description: "Dotted path of the status" }),
          delivered: T.Array(T.String(), { default: ["delivered"] }),
          undelivered: T.Array(T.String(), { default: ["undelivered", "failed"] }),
        },
        { default: {} },
      ),
    }),
  ]);
}

export const ConfigSchema = T.Object(
  {
    mode: T.Union([T.Literal("production"), T.Literal("demo")], {
      default: "production",
      description: "demo: SQLite under ./data, generated keys, a demo organisation. Never for real users.",
    }),
    node: T.Object(
      {
        name: T.String({ default: "", maxLength: 64, description: "Node name in logs (default: host name)" }),
      },
      { default: {} },
    ),
    server: T.Object(
      {
        host: T.String({ default: "127.0.0.1", minLength: 1 }),
        port: T.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
        publicUrl: T.String({
          default: "",
          description: "Public base URL (https://twofold.example.edu); default derived from host and port",
        }),
        trustProxy: T.Array(T.String(), {
          default: [],
          description: "Addresses/CIDRs of reverse proxies whose X-Forwarded-For is believed (H-2)",
        }),
        bodyLimit: T.Integer({ default: 65536, minimum: 1024, maximum: 10_485_760 }),
        requestTimeoutSeconds: Seconds(30, 1, 600, "Whole-request timeout"),
        answerTimeoutSeconds: Seconds(
          5,
          1,
          120,
          "Longest a request waits for the database: then it gets its fail-closed answer (push waits add their own time)",
        ),
        shutdownGraceSeconds: Seconds(10, 0, 300, "How long open requests may finish on SIGTERM"),
        tls: T.Object(
          {
            cert: T.String({ default: "", description: "PEM certificate chain file; TLS is on when set" }),
            key: T.String({ default: "", description: "PEM private key file" }),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    database: T.Object(
      {
        url: T.String({
          default: "",
          description: "postgres://… for PostgreSQL; empty for SQLite at database.sqlitePath",
        }),
        sqlitePath: T.String({ default: "./data/twofold.db", minLength: 1 }),
        poolSize: T.Integer({ default: 10, minimum: 1, maximum: 200 }),
        connectTimeoutSeconds: Seconds(5, 1, 120, "PostgreSQL: opening a connection gives up after this"),
        statementTimeoutSeconds: Seconds(
          5,
          1,
          3600,
          "PostgreSQL: one statement (and a wait for a lock) gives up after this; migrations are exempt",
        ),
        idleTimeoutSeconds: Seconds(
          10,
          1,
          3600,
          "PostgreSQL: idle pooled connections close, and a transaction left idle is ended, after this",
        ),
      },
      { default: {} },
    ),
    keys: T.Object(
      {
        encryption: T.Array(
          T.Object({
            id: T.String({ pattern: "^[A-Za-z0-9_-]{1,16}$" }),
            key: T.String({ minLength: 1, description: "base64 or base64url, at least 32 bytes" }),
          }),
          {
            default: [],
            description: "Master keys; the first seals new values. Set TWOFOLD_ENCRYPTION_KEY for one key.",
          },
        ),
      },
      { default: {} },
    ),
    organization: T.Object(
      {
        name: T.String({ default: "Twofold", minLength: 1, maxLength: 100 }),
        issuer: T.String({
          default: "Twofold",
          minLength: 1,
          maxLength: 64,
          description: "Shown in authenticator apps",
        }),
        country: T.String({
          default: "",
          pattern: "^([A-Z]{2})?$",
          description:
            "ISO 3166 country of the organisation (HK, GB): the one country texts go to by default",
        }),
      },
      { default: {} },
    ),
    branding: T.Object(
      {
        logo: T.String({
          default: "",
          description:
            "Logo shown on the login prompt (an SVG or PNG file, served from this server); empty: the name only",
        }),
        accentColor: T.String({
          default: "#0b5ea8",
          pattern: "^#[0-9a-fA-F]{6}$",
          description: "Accent colour of the prompt (#rrggbb); refused below 4.5:1 contrast against white",
        }),
        help: T.Object(
          {
            en: T.String({
              default: "",
              maxLength: 500,
              description: "Service-desk contact shown under Need help? (English)",
            }),
            "zh-Hant": T.String({
              default: "",
              maxLength: 500,
              description: "The same in Traditional Chinese",
            }),
          },
          { default: {} },
        ),
        helpPages: T.Object(
          Object.fromEntries(
            HELP_PAGE_TOPICS.map((topic) => [
              topic,
              T.Optional(
                T.Object(
                  {
                    en: T.Optional(T.String({ maxLength: 4000 })),
                    "zh-Hant": T.Optional(T.String({ maxLength: 4000 })),
                  },
                  { additionalProperties: false },
                ),
              ),
            ]),
          ),
          {
            default: {},
            additionalProperties: false,
            description:
              "The prompt's help pages, replaced per topic and language: plain text, paragraphs separated by a blank line",
          },
        ),
      },
      { default: {} },
    ),
    identity: T.Object(
      {
        stripDomains: T.Array(T.String(), {
          default: [],
          description: "Domains removed from user@domain before lookup, so both spellings are one user (A3)",
        }),
      },
      { default: {} },
    ),
    policy: T.Object(
      {
        newUserPolicy: T.Union([T.Literal("deny"), T.Literal("enroll"), T.Literal("allow")], {
          default: "deny",
          description:
            "New applications' policy for users with no second factor: deny, enroll (offer enrolment in the prompt) or allow (let them in, logged); enroll and allow only for users who never had one",
        }),
        applications: T.Object(
          {
            methods: T.Array(Method, {
              default: [...AUTH_METHODS],
              minItems: 1,
              uniqueItems: true,
              description: `Methods new applications allow (${AUTH_METHODS.join(", ")})`,
            }),
            rememberDays: RememberDays(
              30,
              "Days a trusted browser skips the second factor in new applications; 0 = off",
            ),
            allowPlainPush: T.Boolean({
              default: false,
              description: "New applications allow pushes without number matching (D1: off)",
            }),
            overrides: T.Array(
              T.Object({
                integrationKey: T.String({ pattern: "^DI[A-Z0-9]{18}$" }),
                methods: T.Optional(T.Array(Method, { minItems: 1, uniqueItems: true })),
                rememberDays: T.Optional(RememberDays(30, "Days a trusted browser skips the second factor")),
                newUserPolicy: T.Optional(
                  T.Union([T.Literal("deny"), T.Literal("enroll"), T.Literal("allow")]),
                ),
                allowPlainPush: T.Optional(T.Boolean()),
              }),
              {
                default: [],
                description:
                  "Per-application policy kept in this file: these fields win over what the CLI or Admin API stored",
              },
            ),
          },
          { default: {} },
        ),
        trustedBrowsers: T.Object(
          {
            maxPerUser: T.Integer({
              default: 20,
              minimum: 1,
              maximum: 200,
              description:
                "Live trusted browsers per user; trusting one more revokes the least recently used",
            }),
          },
          { default: {} },
        ),
        totp: T.Object(
          {
            algorithm: T.Union([T.Literal("SHA1"), T.Literal("SHA256"), T.Literal("SHA512")], {
              default: "SHA1",
            }),
            digits: T.Union([T.Literal(6), T.Literal(8)], { default: 6 }),
            period: Seconds(30, 15, 120, "TOTP step; below 15 s is refused"),
            window: T.Integer({
              default: 1,
              minimum: 0,
              maximum: 2,
              description: "Steps accepted either side",
            }),
            maxDrift: T.Integer({
              default: 4,
              minimum: 0,
              maximum: 10,
              description: "Learned drift cap in steps",
            }),
            enrollmentTtlSeconds: Seconds(600, 60, 86400, "Unconfirmed enrolments expire after this"),
            secretBytes: T.Integer({ default: 20, minimum: 16, maximum: 64, description: "≥ 16 bytes (B4)" }),
          },
          { default: {} },
        ),
        hotp: T.Object(
          {
            lookAhead: T.Integer({ default: 10, minimum: 1, maximum: 50 }),
            resyncLookAhead: T.Integer({ default: 1000, minimum: 10, maximum: 100_000 }),
          },
          { default: {} },
        ),
        lockout: T.Object(
          {
            maxFailures: T.Integer({
              default: 10,
              minimum: 1,
              maximum: 100,
              description:
                "Consecutive failures per user and factor class before the class locks (A1: ≤ 100)",
            }),
            delayAfter: T.Integer({ default: 5, minimum: 1, maximum: 100, description: "Delays start here" }),
            delayBaseSeconds: Seconds(30, 1, 3600, "First delay; doubles with each further failure"),
            delayMaxSeconds: Seconds(3600, 1, 86400, "Longest delay"),
            autoUnlockSeconds: Seconds(
              3600,
              60,
              604800,
              "First lock period: one more attempt is allowed this long after the last failure; each failure while locked doubles it",
            ),
            lockMaxSeconds: Seconds(
              86400,
              60,
              604800,
              "Longest lock period: guesses alone never lock a factor longer than this past the last one (A6)",
            ),
          },
          { default: {} },
        ),
        throttle: T.Object(
          {
            enabled: T.Boolean({
              default: true,
              description: "Throttle failed logins per integration, reported address and peer (A6)",
            }),
            windowSeconds: Seconds(900, 60, 86400, "Sliding window the throttle limits count over"),
            perAddress: T.Integer({
              default: 20,
              minimum: 1,
              maximum: 100_000,
              description:
                "Failed logins per window from one reported client address (ipaddr; IPv6 by /64) per integration",
            }),
            perPeer: T.Integer({
              default: 300,
              minimum: 1,
              maximum: 1_000_000,
              description:
                "Failed logins per window from one connecting address: an integration's server relays all its users, so keep this far above perAddress",
            }),
            perIntegration: T.Integer({
              default: 600,
              minimum: 1,
              maximum: 1_000_000,
              description:
                "Failed logins per window through one integration key, whatever addresses it reports",
            }),
          },
          { default: {} },
        ),
        apiEnrollment: T.Object(
          {
            ratePerWindow: T.Integer({
              default: 20,
              minimum: 1,
              maximum: 100_000,
              description: "Auth API enrolments (/auth/v2/enroll) per integration per window",
            }),
            rateWindowSeconds: Seconds(3600, 60, 86400, "Window for ratePerWindow"),
            maxPending: T.Integer({
              default: 50,
              minimum: 1,
              maximum: 100_000,
              description: "Enrolments per integration neither activated nor expired",
            }),
          },
          { default: {} },
        ),
        bypass: T.Object(
          {
            digits: T.Integer({ default: 10, minimum: 9, maximum: 12 }),
            defaultUses: T.Integer({ default: 20, minimum: 1, maximum: 1000 }),
            defaultValiditySeconds: Seconds(43200, 60, 31_536_000, "Validity when none is asked for"),
            maxUses: T.Integer({ default: 20, minimum: 1, maximum: 1000 }),
            maxValiditySeconds: Seconds(43200, 60, 31_536_000, "Longest validity staff may choose"),
            allowUnlimited: T.Boolean({
              default: false,
              description: "Allow unlimited uses or no expiry (C5); off by default",
            }),
            maxLivePerUser: T.Integer({ default: 100, minimum: 1, maximum: 1000 }),
          },
          { default: {} },
        ),
        push: T.Object(
          {
            lifetimeSeconds: Seconds(
              60,
              15,
              600,
              "A push not answered in this time is denied (D2: ≤ 10 min)",
            ),
            codeDigits: T.Integer({
              default: 6,
              minimum: 3,
              maximum: 6,
              description: "Verified-push code length typed into the app (D1)",
            }),
            maxPending: T.Integer({ default: 1, minimum: 1, maximum: 5 }),
            ratePerWindow: T.Integer({
              default: 3,
              minimum: 1,
              maximum: 100,
              description: "Pushes per user per window (D4)",
            }),
            rateWindowSeconds: Seconds(300, 10, 86400, "Window for ratePerWindow"),
            maxSinceSuccess: T.Integer({
              default: 10,
              minimum: 1,
              maximum: 1000,
              description: "Pushes since the last approval (D4)",
            }),
            answerMaxAgeSeconds: Seconds(
              60,
              5,
              600,
              "Signed answers older or newer than this are stale (D3)",
            ),
            activationSeconds: Seconds(600, 60, 600, "Device activation links expire (G5: ≤ 10 min)"),
            infoMaxBytes: T.Integer({
              default: 20000,
              minimum: 0,
              maximum: 20000,
              description: "Application-supplied text (D6)",
            }),
          },
          { default: {} },
        ),
        rescue: T.Object({ count: T.Integer({ default: 10, minimum: 5, maximum: 20 }) }, { default: {} }),
        sms: T.Object(
          {
            codeDigits: T.Union([T.Literal(6), T.Literal(8)], {
              default: 6,
              description: "Text-message passcode length (E1: at least 6)",
            }),
            lifetimeSeconds: Seconds(300, 60, 600, "A text-message passcode expires (E1: ≤ 10 min)"),
            resendAfterSeconds: Seconds(
              30,
              0,
              600,
              "Send again is refused for this long after a code is sent",
            ),
            verifyLifetimeSeconds: Seconds(600, 60, 600, "A code that verifies a new phone number expires"),
            administrators: T.Array(T.String({ minLength: 1, maxLength: 256 }), {
              default: [],
              description:
                "Administrators, by username, alias or e-mail address: never offered text messages (E2); the console's roles add theirs",
            }),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    push: T.Object(
      {
        geoipFile: T.String({
          default: "",
          description:
            "MaxMind DB file (GeoLite2/GeoIP2 City, DB-IP City Lite) for the place shown with a push; empty: no place",
        }),
        streamSafetyPollSeconds: Seconds(
          45,
          5,
          600,
          "An open app's live stream is woken by push events; without one it re-reads pending pushes this often (±20% jitter)",
        ),
        webPush: T.Object(
          {
            enabled: T.Boolean({
              default: true,
              description:
                "Send pushes to devices' Web Push subscriptions (RFC 8030) besides the live stream",
            }),
            subject: T.String({
              default: "",
              description:
                "VAPID contact (mailto: or https: URI) for push-service operators; default: server.publicUrl",
            }),
            allowedHosts: T.Array(
              T.String({ minLength: 1, maxLength: 253, pattern: "^(\\*|[A-Za-z0-9.-]+)$" }),
              {
                default: BROWSER_PUSH_SERVICES,
                description:
                  "Push service hosts (each with its subdomains) pushes may be sent to; * allows any. Only https, only public addresses",
              },
            ),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    webauthn: T.Object(
      {
        rpId: T.String({
          default: "",
          maxLength: 253,
          description:
            "Relying party ID: the domain credentials are bound to (every origin's host is it or a subdomain of it); default: server.publicUrl's host name, localhost for a loopback address",
        }),
        rpName: T.String({
          default: "",
          maxLength: 64,
          description: "Name the authenticator shows; default: organization.name",
        }),
        origins: T.Array(T.String({ minLength: 1, maxLength: 300 }), {
          default: [],
          description:
            "Exact origins (scheme://host[:port]) ceremonies are accepted from (F2); default: server.publicUrl's origin",
        }),
        topOrigins: T.Array(T.String({ minLength: 1, maxLength: 300 }), {
          default: [],
          description:
            "Top-level origins allowed to frame a ceremony (clientDataJSON crossOrigin); empty: framed ceremonies are refused (F2)",
        }),
        timeoutSeconds: Seconds(
          300,
          30,
          600,
          "A ceremony's challenge is valid this long (F1: 5-10 min); also the browser's timeout",
        ),
        userVerification: T.Union([T.Literal("preferred"), T.Literal("required")], {
          default: "preferred",
          description:
            'Second-factor logins with a security key: preferred (a key without PIN or biometrics is the second factor) or required. Windows Hello/Touch ID ("platform") and passwordless logins always require it',
        }),
        attestation: T.Object(
          {
            conveyance: T.Union([T.Literal("none"), T.Literal("direct")], {
              default: "none",
              description:
                "none: any authenticator, no attestation asked (general users); direct: ask for attestation and verify its statement",
            }),
            allowedAAGUIDs: T.Array(
              T.String({
                pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
              }),
              {
                default: [],
                description:
                  "Enterprise mode: only these authenticator models (AAGUIDs), proven by an attestation certificate chain to one of rootCertificates; empty: any (F5)",
              },
            ),
            rootCertificates: T.Array(T.String({ minLength: 1 }), {
              default: [],
              description:
                "Enterprise mode: PEM files of the attestation roots (from the vendors or the FIDO Metadata Service) an allowed authenticator's chain must end at",
            }),
          },
          { default: {} },
        ),
        maxCredentialsPerUser: T.Integer({ default: 10, minimum: 1, maximum: 50 }),
        maxCeremoniesPerUser: T.Integer({
          default: 10,
          minimum: 1,
          maximum: 1000,
          description: "Live (unfinished, unexpired) ceremonies per user",
        }),
        maxCeremoniesPerSource: T.Integer({
          default: 100,
          minimum: 1,
          maximum: 100_000,
          description: "Live ceremonies per client address (passwordless ones have no user to count against)",
        }),
        proofMaxAgeSeconds: Seconds(
          600,
          60,
          3600,
          "Adding a key needs a second-factor login of the same user at most this old (G2)",
        ),
      },
      { default: {} },
    ),
    sms: T.Object(
      {
        guard: SmsGuardSchema,
        sender: T.String({
          default: "Twofold",
          maxLength: 20,
          description:
            "The sender shown on texts (an alphanumeric sender ID or a number, as the gateway allows)",
        }),
        sendDeadlineMs: T.Integer({
          default: 4000,
          minimum: 200,
          maximum: 20000,
          description:
            "How long a login waits for a gateway to take a text before the user is told it failed",
        }),
        gateways: T.Array(SMSGatewaySchema(), {
          default: [],
          description: "SMS gateways, tried in this order (the second takes over when the first fails)",
        }),
        outbox: T.Object(
          {
            pollSeconds: Seconds(5, 1, 300, "How often each node looks for messages due for an attempt"),
            leaseSeconds: Seconds(30, 5, 600, "A node sending a message holds it this long at most"),
            retryBaseSeconds: Seconds(5, 1, 3600, "First retry delay; doubles per attempt"),
            retryMaxSeconds: Seconds(300, 1, 86400, "Longest retry delay"),
            maxAttempts: T.Integer({ default: 8, minimum: 1, maximum: 50 }),
            maxUnsent: T.Integer({
              default: 10000,
              minimum: 10,
              maximum: 10_000_000,
              description: "Messages waiting per channel; beyond this new ones are refused (bounded outbox)",
            }),
            retentionDays: T.Integer({
              default: 30,
              minimum: 1,
              maximum: 3650,
              description: "Finished messages (sent, delivered, failed) are deleted after this",
            }),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    mail: T.Object(
      {
        from: T.String({
          default: "",
          maxLength: 320,
          description: 'Sender of notifications, e.g. "Example U IT <it-security@example.edu>"',
        }),
        language: T.Union([T.Literal("en"), T.Literal("zh-Hant")], {
          default: "en",
          description: "Language of notifications to users who have not chosen one",
        }),
        smtp: T.Object(
          {
            host: T.String({ default: "", description: "SMTP server; empty: no e-mail is sent" }),
            port: T.Integer({ default: 587, minimum: 1, maximum: 65535 }),
            secure: T.Boolean({
              default: false,
              description: "TLS from the start (port 465); else STARTTLS",
            }),
            requireTLS: T.Boolean({ default: true, description: "Refuse to send without STARTTLS" }),
            user: T.String({ default: "" }),
            password: T.String({ default: "" }),
            timeoutMs: T.Integer({ default: 10000, minimum: 500, maximum: 120000 }),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    alerts: T.Object(
      {
        email: T.Object(
          {
            to: T.Array(T.String({ minLength: 3, maxLength: 320, pattern: "^[^@\\s]+@[^@\\s]+$" }), {
              default: [],
              maxItems: 20,
              description:
                "Operator addresses every alert (SMS spend cap, SMS source paused) is e-mailed to, once an hour per cause; needs mail.smtp",
            }),
            language: T.Union([T.Literal("en"), T.Literal("zh-Hant")], {
              default: "en",
              description: "Language of the alert e-mails",
            }),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    tokens: T.Object(
      {
        loanOverdueReminderDays: T.Integer({
          default: 7,
          minimum: 0,
          maximum: 365,
          description:
            "A lent hardware token's borrower is e-mailed when it falls due and again this many days after; 0: no second reminder",
        }),
      },
      { default: {} },
    ),
    housekeeping: T.Object(
      {
        enabled: T.Boolean({
          default: true,
          description:
            "Delete expired rows and send token-loan reminders on a timer while serving (twofold db prune deletes once)",
        }),
        intervalSeconds: Seconds(900, 10, 86400, "How often each node prunes (±20% jitter)"),
        batchSize: T.Integer({
          default: 500,
          minimum: 1,
          maximum: 10000,
          description: "Rows per delete statement: each batch is its own short transaction",
        }),
        graceSeconds: Seconds(
          3600,
          0,
          30 * 86400,
          "Expired activation links, unconfirmed enrolments and signed-request replay records are deleted this long after they expire",
        ),
        pushRetentionSeconds: Seconds(
          172800,
          90000,
          365 * 86400,
          "Pushes are deleted this long after they expire (≥ 25 h: push-fatigue limits count a day of pushes)",
        ),
        authLogRetentionDays: T.Integer({
          default: 365,
          minimum: 0,
          maximum: 3650,
          description:
            "Authentication-log entries and users' notifications older than this are deleted; 0 keeps them forever",
        }),
      },
      { default: {} },
    ),
    logging: T.Object(
      {
        level: T.Union(
          ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => T.Literal(l)),
          { default: "info" },
        ),
      },
      { default: {} },
    ),
    metrics: T.Object(
      {
        enabled: T.Boolean({ default: true }),
        listen: T.String({
          default: "",
          description:
            "host:port of a listener that serves /metrics alone (e.g. 127.0.0.1:9464); empty: no such listener",
        }),
        token: T.String({
          default: "",
          description:
            "Bearer token /metrics requires (32+ characters); when set, /metrics is also on the public listener",
        }),
      },
      { default: {} },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
