// The policy the core enforces, as plain data (the configuration schema produces a value of this shape).
import type { AuthMethod, NewUserPolicy } from "./model.ts";
import type { OTPAlgorithm } from "./otp/hotp.ts";

export interface LockoutPolicy {
  maxFailures: number;
  delayAfter: number;
  delayBaseSeconds: number;
  delayMaxSeconds: number;
  /** First lock period; each further failure while locked doubles it. */
  autoUnlockSeconds: number;
  /** Longest lock period: what guesses alone can cost a user at most (A6). */
  lockMaxSeconds: number;
}

/**
 * Failed logins allowed per sliding window from one source, checked before any user is looked up (A6). The
 * peer is an integration's server relaying all its users, so its limit is far above the per-address one.
 */
export interface ThrottlePolicy {
  enabled: boolean;
  windowSeconds: number;
  perIntegration: number;
  perAddress: number;
  perPeer: number;
}

/** Auth API enrolment (`/auth/v2/enroll`) where an application allows it: a rate and a cap per integration. */
export interface APIEnrollmentPolicy {
  ratePerWindow: number;
  rateWindowSeconds: number;
  maxPending: number;
}

/** One application's policy fields set in the configuration: they win over the stored ones. */
export interface ApplicationPolicyOverride {
  integrationKey: string;
  methods?: AuthMethod[];
  rememberDays?: number;
  newUserPolicy?: NewUserPolicy;
  allowPlainPush?: boolean;
}

/** Trusted browsers ("Yes, trust this browser", I5): how many a user may keep. */
export interface TrustedBrowserPolicy {
  /** Live trusted browsers per user (all applications); trusting one more revokes the least recently used. */
  maxPerUser: number;
}

export interface Policy {
  /** The new-user policy every application starts with (deny, enroll or allow). */
  newUserPolicy: NewUserPolicy;
  /** The policy every new application starts with, and per-application overrides. */
  applications: {
    methods: AuthMethod[];
    rememberDays: number;
    allowPlainPush: boolean;
    overrides: ApplicationPolicyOverride[];
  };
  trustedBrowsers: TrustedBrowserPolicy;
  totp: {
    algorithm: OTPAlgorithm;
    digits: 6 | 8;
    period: number;
    window: number;
    maxDrift: number;
    enrollmentTtlSeconds: number;
    secretBytes: number;
  };
  hotp: { lookAhead: number; resyncLookAhead: number };
  lockout: LockoutPolicy;
  throttle: ThrottlePolicy;
  apiEnrollment: APIEnrollmentPolicy;
  bypass: {
    digits: number;
    defaultUses: number;
    defaultValiditySeconds: number;
    maxUses: number;
    maxValiditySeconds: number;
    allowUnlimited: boolean;
    maxLivePerUser: number;
  };
  rescue: { count: number };
  sms: {
    codeDigits: 6 | 8;
    lifetimeSeconds: number;
    resendAfterSeconds: number;
    verifyLifetimeSeconds: number;
    /** Usernames that are administrators: never offered text messages (E2). */
    administrators: readonly string[];
  };
  push: {
    lifetimeSeconds: number;
    codeDigits: number;
    maxPending: number;
    ratePerWindow: number;
    rateWindowSeconds: number;
    maxSinceSuccess: number;
    answerMaxAgeSeconds: number;
    activationSeconds: number;
    infoMaxBytes: number;
  };
}

/**
 * SP 800-63B-4 §3.2.2: never more than 100 consecutive failed attempts before a factor locks, whatever is
 * configured (the ceiling of `maxFailures`). Past the lock, one guess per lock period (evaluateLockout).
 */
export const HARD_FAILURE_LIMIT = 100;

/** WebAuthn settings (configuration `webauthn.*`, with the RP ID, name and origins filled in at load). */
export interface WebAuthnSettings {
  rpId: string;
  rpName: string;
  /** Exact origins a ceremony's clientDataJSON may name (F2). */
  origins: readonly string[];
  /** Top-level origins allowed to frame a ceremony; empty: crossOrigin ceremonies are refused (F2). */
  topOrigins: readonly string[];
  timeoutSeconds: number;
  /** Second-factor ceremonies with a security key; platform and passwordless ones always require UV (F3). */
  userVerification: "preferred" | "required";
  attestation: {
    conveyance: "none" | "direct";
    allowedAAGUIDs: readonly string[];
    /** PEM texts (read from the configured files at load): the roots an allowed model's chain must end at. */
    rootCertificates: readonly string[];
  };
  maxCredentialsPerUser: number;
  maxCeremoniesPerUser: number;
  maxCeremoniesPerSource: number;
  /** How old the second-factor login that allows adding a key may be (G2). */
  proofMaxAgeSeconds: number;
}
