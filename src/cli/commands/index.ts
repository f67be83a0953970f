// The command table: every `twofold` command, in the order help lists them, and the group summaries.
import type { Command } from "../command.ts";
import { appCommands } from "./app.ts";
import { auditCommands } from "./audit.ts";
import { bypassCommands } from "./bypass.ts";
import { certsCommands } from "./certs.ts";
import { configCommands } from "./config.ts";
import { dbCommands } from "./db.ts";
import { deviceCommands } from "./device.ts";
import { keyCommands } from "./key.ts";
import { keysCommands } from "./keys.ts";
import { passcodeCommands } from "./passcode.ts";
import { phoneCommands } from "./phone.ts";
import { pushCommands } from "./push.ts";
import { rescueCommands } from "./rescue.ts";
import { serveCommands } from "./serve.ts";
import { smsCommands } from "./sms.ts";
import { tokenCommands } from "./token.ts";
import { totpCommands } from "./totp.ts";
import { userCommands } from "./user.ts";

export const COMMANDS: readonly Command[] = [
  ...serveCommands,
  ...configCommands,
  ...certsCommands,
  ...dbCommands,
  ...keysCommands,
  ...userCommands,
  ...totpCommands,
  ...tokenCommands,
  ...bypassCommands,
  ...rescueCommands,
  ...keyCommands,
  ...smsCommands,
  ...appCommands,
  ...auditCommands,
  ...passcodeCommands,
  ...pushCommands,
  ...deviceCommands,
  ...phoneCommands,
];

export const GROUPS: Record<string, string> = {
  config: "check the configuration",
  certs: "TLS certificates for trying the demo from a phone",
  db: "database maintenance",
  keys: "encryption keys",
  user: "manage users",
  totp: "authenticator-app enrolments",
  token: "hardware tokens: inventory and loans",
  bypass: "bypass codes from the service desk",
  rescue: "rescue codes",
  key: "security keys and passkeys (WebAuthn)",
  sms: "text messages: stop them for a user or number, the abuse report",
  app: "applications (integrations)",
  audit: "the audit log",
  auth: "the authentication log",
  passcode: "test a passcode",
  push: "push approval: activate the Twofold Authenticator, send a test push",
  device: "the command-line Twofold Authenticator (for headless use and tests)",
  phone: "phones for text-message passcodes: add, verify",
};
