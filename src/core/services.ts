// Binds every use case to its dependencies: the single object interfaces (HTTP, CLI, RADIUS) call into.
import type { Keyring } from "./crypto/keyring.ts";
import type { Actor, Deps, Messaging } from "./deps.ts";
import type { Policy, WebAuthnSettings } from "./policy.ts";
import type {
  Clock,
  OperatorAlert,
  OperatorAlerts,
  PlaceLookup,
  PushDelivery,
  PushEvents,
  Store,
} from "./ports.ts";
import type { SmsGuardPolicy } from "./sms-guard-rules.ts";
import * as applications from "./use-cases/applications.ts";
import * as authAPI from "./use-cases/auth-api.ts";
import * as bypass from "./use-cases/bypass-codes.ts";
import * as devices from "./use-cases/devices.ts";
import * as directory from "./use-cases/directory.ts";
import * as eligibility from "./use-cases/enrollment-eligibility.ts";
import * as frame from "./use-cases/frame-login.ts";
import * as tokens from "./use-cases/hardware-tokens.ts";
import * as housekeeping from "./use-cases/housekeeping.ts";
import * as keys from "./use-cases/key-rotation.ts";
import * as throttle from "./use-cases/login-throttle.ts";
import * as oidc from "./use-cases/oidc.ts";
import * as alertMail from "./use-cases/operator-alert-mail.ts";
import * as outbox from "./use-cases/outbox.ts";
import * as phones from "./use-cases/phones.ts";
import * as promptEnrol from "./use-cases/prompt-enrollment.ts";
import * as prompt from "./use-cases/prompt-login.ts";
import * as promptSMS from "./use-cases/prompt-sms.ts";
import * as promptWebAuthn from "./use-cases/prompt-webauthn.ts";
import * as push from "./use-cases/push.ts";
import * as rescue from "./use-cases/rescue-codes.ts";
import * as signedRequests from "./use-cases/signed-requests.ts";
import * as smsGuard from "./use-cases/sms-guard.ts";
import * as smsOperator from "./use-cases/sms-operator.ts";
import * as sms from "./use-cases/sms-passcodes.ts";
import * as totp from "./use-cases/totp-enrollment.ts";
import * as trust from "./use-cases/trusted-browsers.ts";
import * as usernames from "./use-cases/username-reconciliation.ts";
import * as users from "./use-cases/users.ts";
import * as passcode from "./use-cases/verify-passcode.ts";
import * as webauthn from "./use-cases/webauthn.ts";

export interface ServiceConfig {
  policy: Policy;
  organization: { issuer: string; country?: string };
  identity: { stripDomains: readonly string[] };
  housekeeping: housekeeping.Retention;
  /** The loaded configuration always has it; stand-ins may leave it out. */
  webauthn?: WebAuthnSettings;
  sms: { guard: Omit<SmsGuardPolicy, "organizationCountry">; outbox?: { retentionDays: number } };
  /** Operator alerts by e-mail (absent: only logged). */
  alerts?: { email: alertMail.AlertMailSettings };
  /** The loan desk's second reminder, days after the due date (absent: 7). */
  tokens?: { loanOverdueReminderDays: number };
}

type Bound<F> = F extends (deps: Deps, ...rest: infer A) => infer R ? (...args: A) => R : never;

function bind<F extends (deps: Deps, ...rest: never[]) => unknown>(deps: Deps, f: F): Bound<F> {
  return ((...args: never[]) => f(deps, ...args)) as Bound<F>;
}

export function createServices(input: {
  store: Store;
  keyring: Keyring;
  clock: Clock;
  config: ServiceConfig;
  nodeName: string;
  pushEvents: PushEvents;
  pushDelivery?: PushDelivery;
  places?: PlaceLookup;
  messaging?: Messaging;
  alerts?: OperatorAlerts;
}) {
  const deps: Deps = {
    store: input.store,
    keyring: input.keyring,
    clock: input.clock,
    policy: input.config.policy as Policy,
    issuer: input.config.organization.issuer,
    stripDomains: input.config.identity.stripDomains,
    nodeName: input.nodeName,
    pushEvents: input.pushEvents,
    ...(input.pushDelivery ? { pushDelivery: input.pushDelivery } : {}),
    ...(input.places ? { places: input.places } : {}),
    ...(input.config.webauthn ? { webauthn: input.config.webauthn } : {}),
    ...(input.messaging ? { messaging: input.messaging } : {}),
    smsGuard: { ...input.config.sms.guard, organizationCountry: input.config.organization.country ?? "" },
    ...(input.alerts ? { alerts: input.alerts } : {}),
  };
  // The use cases' dependencies stay inside: an interface reaches the store only through these functions.
  return {
    // users
    createUser: bind(deps, users.createUser),
    importUsers: bind(deps, users.importUsers),
    findUser: bind(deps, users.findUser),
    requireUser: bind(deps, users.requireUser),
    setUserStatus: bind(deps, users.setUserStatus),
    addUserAlias: bind(deps, users.addUserAlias),
    deleteUser: bind(deps, users.deleteUser),
    unlockUser: bind(deps, users.unlockUser),
    updateUser: bind(deps, users.updateUser),
    reconcileUsernames: bind(deps, usernames.reconcileUsernames),
    listUsernameCollisions: bind(deps, usernames.listUsernameCollisions),
    listUserLockouts: bind(deps, users.listUserLockouts),
    describeUserLockouts: bind(deps, directory.describeUserLockouts),
    getUser: bind(deps, directory.getUser),
    listUsers: bind(deps, directory.listUsers),
    listUserAliases: bind(deps, directory.listUserAliases),
    findUserByName: bind(deps, directory.findUserByName),
    findUserByEmail: bind(deps, directory.findUserByEmail),
    lastLoginAt: bind(deps, directory.lastLoginAt),
    describeUsernameCollisions: bind(deps, directory.describeUsernameCollisions),
    // applications
    getApplication: bind(deps, directory.getApplication),
    listApplications: () => directory.listApplications(deps),
    createApplication: bind(deps, applications.createApplication),
    requireApplication: bind(deps, applications.requireApplication),
    updateApplication: bind(deps, applications.updateApplication),
    rotateApplicationSecret: bind(deps, applications.rotateApplicationSecret),
    deleteApplication: bind(deps, applications.deleteApplication),
    setApplicationStatus: bind(deps, applications.setApplicationStatus),
    describeApplicationPolicy: bind(deps, applications.describeApplicationPolicy),
    openApplicationSecret: (app: Parameters<typeof applications.openApplicationSecret>[1]) =>
      applications.openApplicationSecret(deps, app),
    // authenticator apps and hardware tokens as they are
    getOTPCredential: bind(deps, directory.getOTPCredential),
    findTokenBySerial: bind(deps, directory.findTokenBySerial),
    listOTPCredentials: bind(deps, directory.listOTPCredentials),
    listUsableOTPCredentials: bind(deps, directory.listUsableOTPCredentials),
    // authenticator apps
    enrollTOTP: bind(deps, totp.enrollTOTP),
    confirmTOTP: bind(deps, totp.confirmTOTP),
    removeOTPCredential: bind(deps, totp.removeOTPCredential),
    // hardware tokens
    importTokens: bind(deps, tokens.importTokens),
    assignToken: bind(deps, tokens.assignToken),
    unassignToken: bind(deps, tokens.unassignToken),
    setTokenLoanDue: bind(deps, tokens.setTokenLoanDue),
    sendTokenLoanReminders: () =>
      tokens.sendTokenLoanReminders(deps, {
        overdueDays: input.config.tokens?.loanOverdueReminderDays ?? 7,
      }),
    resyncToken: bind(deps, tokens.resyncToken),
    findTokensByCode: bind(deps, tokens.findTokensByCode),
    // bypass and rescue codes
    getBypassCode: bind(deps, directory.getBypassCode),
    listLiveBypassCodes: bind(deps, directory.listLiveBypassCodes),
    listAllLiveBypassCodes: bind(deps, directory.listAllLiveBypassCodes),
    issueBypassCodes: bind(deps, bypass.issueBypassCodes),
    listBypassCodes: bind(deps, bypass.listBypassCodes),
    revokeBypassCode: bind(deps, bypass.revokeBypassCode),
    revokeAllBypassCodes: bind(deps, bypass.revokeAllBypassCodes),
    generateRescueCodes: bind(deps, rescue.generateRescueCodes),
    countUnusedRescueCodes: bind(deps, rescue.countUnusedRescueCodes),
    // push approval
    createDeviceActivation: bind(deps, push.createDeviceActivation),
    attachActivationBarcode: bind(deps, push.attachActivationBarcode),
    readActivationBarcode: bind(deps, push.readActivationBarcode),
    activateDevice: bind(deps, push.activateDevice),
    startPush: bind(deps, push.startPush),
    answerPush: bind(deps, push.answerPush),
    getPushStatus: bind(deps, push.getPushStatus),
    waitForPush: bind(deps, push.waitForPush),
    cancelPush: bind(deps, push.cancelPush),
    clearPushSuspension: bind(deps, push.clearPushSuspension),
    authenticateDevice: bind(deps, devices.authenticateDevice),
    listDevicePushes: bind(deps, devices.listDevicePushes),
    watchDevicePushes: bind(deps, devices.watchDevicePushes),
    updateDeviceDelivery: bind(deps, devices.updateDeviceDelivery),
    listUserDevices: bind(deps, devices.listUserDevices),
    getDevice: bind(deps, directory.getDevice),
    listDevicesOf: bind(deps, directory.listDevicesOf),
    revokeDevice: bind(deps, devices.revokeDevice),
    // throttles on every login entry point, before any user is looked up (A6)
    checkLoginThrottle: bind(deps, throttle.checkLoginThrottle),
    countFailedLogin: bind(deps, throttle.countFailedLogin),
    deleteExpiredThrottleCounts: () => throttle.deleteExpiredThrottleCounts(deps),
    // Duo-compatible Auth API logins
    preauthenticate: bind(deps, authAPI.preauthenticate),
    findLoginUser: bind(deps, authAPI.findLoginUser),
    requestAuthPush: bind(deps, authAPI.requestAuthPush),
    requestLoginSMS: bind(deps, authAPI.requestLoginSMS),
    denyLogin: bind(deps, authAPI.denyLogin),
    readAuthStatus: bind(deps, authAPI.readAuthStatus),
    enrollNewUser: bind(deps, authAPI.enrollNewUser),
    readActivationStatus: bind(deps, authAPI.readActivationStatus),
    deleteExpiredEnrollments: () => authAPI.deleteExpiredEnrollments(deps),
    statusHoldMs: () => authAPI.statusHoldMs(deps),
    // the Universal Prompt (OIDC Auth API) and its login sessions
    oidcHealthCheck: bind(deps, oidc.healthCheck),
    startOIDCLogin: bind(deps, oidc.startLogin),
    redeemOIDCCode: bind(deps, oidc.redeemCode),
    startFrameLogin: bind(deps, frame.startFrameLogin),
    openPromptLogin: bind(deps, prompt.openPromptLogin),
    listPromptMethods: bind(deps, prompt.listPromptMethods),
    sendPromptPush: bind(deps, prompt.sendPromptPush),
    readPromptPush: bind(deps, prompt.readPromptPush),
    waitPromptPush: bind(deps, prompt.waitPromptPush),
    verifyPromptPasscode: bind(deps, prompt.verifyPromptPasscode),
    finishPromptLogin: bind(deps, prompt.finishPromptLogin),
    abandonPromptLogin: bind(deps, prompt.abandonPromptLogin),
    skipPromptWithTrustedBrowser: bind(deps, prompt.skipPromptWithTrustedBrowser),
    offerPromptTrust: bind(deps, prompt.offerPromptTrust),
    trustPromptBrowser: bind(deps, prompt.trustPromptBrowser),
    promptEnrollment: bind(deps, prompt.promptEnrollment),
    startPromptEnrollment: bind(deps, prompt.startPromptEnrollment),
    readPromptSMS: bind(deps, promptSMS.readPromptSMS),
    sendPromptSMS: bind(deps, promptSMS.sendPromptSMS),
    allowPromptNewUser: bind(deps, promptEnrol.allowPromptNewUser),
    mayAllowPromptNewUser: bind(deps, promptEnrol.mayAllowPromptNewUser),
    beginPromptEnrollmentKey: bind(deps, promptEnrol.beginPromptEnrollmentKey),
    finishPromptEnrollmentKey: bind(deps, promptEnrol.finishPromptEnrollmentKey),
    offerPromptBackup: bind(deps, promptEnrol.offerPromptBackup),
    waitPromptActivation: bind(deps, promptEnrol.waitPromptActivation),
    startPromptBackupActivation: bind(deps, promptEnrol.startPromptBackupActivation),
    // signed Duo requests seen before (K2)
    admitSignedRequest: bind(deps, signedRequests.admitSignedRequest),
    purgeSignedRequests: () => signedRequests.purgeSignedRequests(deps),
    // logs and audit
    listAuthLog: bind(deps, directory.listAuthLog),
    listAudit: bind(deps, directory.listAudit),
    // health
    checkDatabase: () => directory.checkDatabase(deps),
    // key rotation
    resealSecrets: bind(deps, keys.resealSecrets),
    // retention (L-2): the steps are open so other expiring tables can be pruned in the same run
    pruneExpiredRows: (steps?: readonly housekeeping.PruneStep[]) =>
      housekeeping.pruneExpiredRows(
        deps,
        {
          ...input.config.housekeeping,
          throttleRetentionSeconds:
            2 * Math.max(deps.policy.throttle.windowSeconds, deps.policy.apiEnrollment.rateWindowSeconds),
          outboxRetentionDays: input.config.sms.outbox?.retentionDays ?? 30,
          smsSendRetentionDays: deps.smsGuard.sendRetentionDays,
          smsHistoryDays: deps.smsGuard.historyDays,
        },
        steps,
      ),
    // trusted browsers (I5): offered after a login, checked on the next, revoked by user, admin or events
    offerTrustBrowser: bind(deps, trust.offerTrustBrowser),
    trustBrowser: bind(deps, trust.trustBrowser),
    checkTrustedBrowser: bind(deps, trust.checkTrustedBrowser),
    listTrustedBrowsers: bind(deps, trust.listTrustedBrowsers),
    revokeTrustedBrowser: bind(deps, trust.revokeTrustedBrowser),
    revokeAllTrustedBrowsers: bind(deps, trust.revokeAllTrustedBrowsers),
    revokeTrustedBrowsersForUser: (
      userId: string,
      reason: Parameters<typeof trust.revokeTrustedBrowsersForUser>[2],
      actor?: Actor,
    ) => trust.revokeTrustedBrowsersForUser(deps, userId, reason, actor),
    // the enrolment rule (CISA AA22-074A)
    checkEnrollmentEligibility: bind(deps, eligibility.checkEnrollmentEligibility),
    resetEnrollment: bind(deps, eligibility.resetEnrollment),
    getFirstFactorAt: bind(deps, eligibility.getFirstFactorAt),
    // the one passcode check
    verifyPasscode: bind(deps, passcode.verifyPasscode),
    // Duo-compatible Admin API: single tokens, registered phones
    createToken: bind(deps, tokens.createToken),
    deleteToken: bind(deps, tokens.deleteToken),
    getPhone: bind(deps, directory.getPhone),
    listPhones: bind(deps, directory.listPhones),
    createPhone: bind(deps, phones.createPhone),
    updatePhone: bind(deps, phones.updatePhone),
    deletePhone: bind(deps, phones.deletePhone),
    attachPhone: bind(deps, phones.attachPhone),
    detachPhone: bind(deps, phones.detachPhone),
    createPhoneActivation: bind(deps, phones.createPhoneActivation),
    // WebAuthn: Windows Hello, Touch ID, security keys, passkeys (one verification routine, F7)
    beginWebAuthnRegistration: bind(deps, webauthn.beginWebAuthnRegistration),
    finishWebAuthnRegistration: bind(deps, webauthn.finishWebAuthnRegistration),
    beginWebAuthnAuthentication: bind(deps, webauthn.beginWebAuthnAuthentication),
    finishWebAuthnAuthentication: bind(deps, webauthn.finishWebAuthnAuthentication),
    listWebAuthnCredentials: bind(deps, webauthn.listWebAuthnCredentials),
    renameWebAuthnCredential: bind(deps, webauthn.renameWebAuthnCredential),
    removeWebAuthnCredential: bind(deps, webauthn.removeWebAuthnCredential),
    // WebAuthn in the login prompt
    beginPromptWebAuthn: bind(deps, promptWebAuthn.beginPromptWebAuthn),
    finishPromptWebAuthn: bind(deps, promptWebAuthn.finishPromptWebAuthn),
    shouldOfferPromptKey: bind(deps, promptWebAuthn.shouldOfferPromptKey),
    beginPromptKeyRegistration: bind(deps, promptWebAuthn.beginPromptKeyRegistration),
    finishPromptKeyRegistration: bind(deps, promptWebAuthn.finishPromptKeyRegistration),
    // text messages: phones verified for SMS (E2), login passcodes (E1), the outbox
    addSMSPhone: bind(deps, sms.addSMSPhone),
    sendPhoneVerification: bind(deps, sms.sendPhoneVerification),
    confirmPhoneVerification: bind(deps, sms.confirmPhoneVerification),
    listSMSPhones: bind(deps, sms.listSMSPhones),
    sendLoginPasscode: bind(deps, sms.sendLoginPasscode),
    runOutbox: (limit?: number) => outbox.runOutbox(deps, limit),
    recordDeliveryReceipt: bind(deps, outbox.recordDeliveryReceipt),
    queueOperatorAlertMail: (alert: OperatorAlert) =>
      alertMail.queueOperatorAlertMail(deps, input.config.alerts?.email ?? { to: [], language: "en" }, alert),
    getMessageStatus: bind(deps, outbox.getMessageStatus),
    countMessages: bind(deps, outbox.countMessages),
    // SMS abuse controls (E3): every text is decided and reserved here first; the service desk's stops; the report
    decideSmsSend: bind(deps, smsGuard.decideSmsSend),
    recordSmsConverted: bind(deps, smsGuard.recordSmsConverted),
    recordSmsFailed: bind(deps, smsGuard.recordSmsFailed),
    stopSms: bind(deps, smsOperator.stopSms),
    resumeSms: bind(deps, smsOperator.resumeSms),
    readSmsReport: bind(deps, smsOperator.readSmsReport),
  };
}

export type Services = ReturnType<typeof createServices>;
export type { Actor };

/**
 * The services by area: what an interface that needs only part of them asks for (RADIUS and OIDC:
 * `ServicesOf<"authentication">`; a self-service portal: users, devices, authenticators, codes). Every service is
 * in exactly one area (test/architecture/boundaries.test.ts).
 */
export const SERVICE_AREAS = {
  users: [
    "createUser",
    "importUsers",
    "findUser",
    "requireUser",
    "getUser",
    "listUsers",
    "findUserByName",
    "findUserByEmail",
    "listUserAliases",
    "lastLoginAt",
    "setUserStatus",
    "addUserAlias",
    "updateUser",
    "deleteUser",
    "listUserLockouts",
    "describeUserLockouts",
    "unlockUser",
    "reconcileUsernames",
    "listUsernameCollisions",
    "describeUsernameCollisions",
    "resetEnrollment",
    "getFirstFactorAt",
  ],
  applications: [
    "getApplication",
    "listApplications",
    "createApplication",
    "requireApplication",
    "updateApplication",
    "rotateApplicationSecret",
    "deleteApplication",
    "setApplicationStatus",
    "openApplicationSecret",
    "describeApplicationPolicy",
  ],
  browsers: [
    "listTrustedBrowsers",
    "revokeTrustedBrowser",
    "revokeAllTrustedBrowsers",
    "revokeTrustedBrowsersForUser",
  ],
  devices: [
    "createDeviceActivation",
    "attachActivationBarcode",
    "readActivationBarcode",
    "activateDevice",
    "authenticateDevice",
    "listDevicePushes",
    "watchDevicePushes",
    "updateDeviceDelivery",
    "listUserDevices",
    "getDevice",
    "listDevicesOf",
    "revokeDevice",
    "getPhone",
    "listPhones",
    "createPhone",
    "updatePhone",
    "deletePhone",
    "attachPhone",
    "detachPhone",
    "createPhoneActivation",
    "addSMSPhone",
    "sendPhoneVerification",
    "confirmPhoneVerification",
  ],
  authenticators: [
    "getOTPCredential",
    "listOTPCredentials",
    "listUsableOTPCredentials",
    "enrollTOTP",
    "confirmTOTP",
    "removeOTPCredential",
    "beginWebAuthnRegistration",
    "finishWebAuthnRegistration",
    "listWebAuthnCredentials",
    "renameWebAuthnCredential",
    "removeWebAuthnCredential",
  ],
  tokens: [
    "findTokenBySerial",
    "importTokens",
    "createToken",
    "deleteToken",
    "assignToken",
    "unassignToken",
    "setTokenLoanDue",
    "sendTokenLoanReminders",
    "resyncToken",
    "findTokensByCode",
  ],
  codes: [
    "getBypassCode",
    "listLiveBypassCodes",
    "listAllLiveBypassCodes",
    "issueBypassCodes",
    "listBypassCodes",
    "revokeBypassCode",
    "revokeAllBypassCodes",
    "generateRescueCodes",
    "countUnusedRescueCodes",
  ],
  push: ["startPush", "answerPush", "getPushStatus", "waitForPush", "cancelPush", "clearPushSuspension"],
  authentication: [
    "checkLoginThrottle",
    "countFailedLogin",
    "verifyPasscode",
    "preauthenticate",
    "findLoginUser",
    "requestAuthPush",
    "requestLoginSMS",
    "denyLogin",
    "readAuthStatus",
    "enrollNewUser",
    "readActivationStatus",
    "statusHoldMs",
    "admitSignedRequest",
    "beginWebAuthnAuthentication",
    "finishWebAuthnAuthentication",
    "beginPromptWebAuthn",
    "finishPromptWebAuthn",
    "shouldOfferPromptKey",
    "beginPromptKeyRegistration",
    "finishPromptKeyRegistration",
    "listSMSPhones",
    "sendLoginPasscode",
    "oidcHealthCheck",
    "startOIDCLogin",
    "redeemOIDCCode",
    "startFrameLogin",
    "openPromptLogin",
    "listPromptMethods",
    "sendPromptPush",
    "readPromptPush",
    "waitPromptPush",
    "verifyPromptPasscode",
    "finishPromptLogin",
    "abandonPromptLogin",
    "skipPromptWithTrustedBrowser",
    "offerPromptTrust",
    "trustPromptBrowser",
    "promptEnrollment",
    "startPromptEnrollment",
    "readPromptSMS",
    "sendPromptSMS",
    "allowPromptNewUser",
    "mayAllowPromptNewUser",
    "beginPromptEnrollmentKey",
    "finishPromptEnrollmentKey",
    "offerPromptBackup",
    "waitPromptActivation",
    "startPromptBackupActivation",
    "offerTrustBrowser",
    "trustBrowser",
    "checkTrustedBrowser",
    "checkEnrollmentEligibility",
  ],
  sms: ["decideSmsSend", "recordSmsConverted", "recordSmsFailed", "stopSms", "resumeSms", "readSmsReport"],
  audit: ["listAuthLog", "listAudit"],
  maintenance: [
    "checkDatabase",
    "resealSecrets",
    "pruneExpiredRows",
    "deleteExpiredThrottleCounts",
    "deleteExpiredEnrollments",
    "purgeSignedRequests",
    "runOutbox",
    "recordDeliveryReceipt",
    "queueOperatorAlertMail",
    "getMessageStatus",
    "countMessages",
  ],
} as const satisfies Record<string, readonly (keyof Services)[]>;

export type ServiceArea = keyof typeof SERVICE_AREAS;
export type ServicesOf<A extends ServiceArea> = Pick<Services, (typeof SERVICE_AREAS)[A][number]>;
