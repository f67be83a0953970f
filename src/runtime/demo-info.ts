// What the demo organisation contains, for the start page and the console banner (demo mode only).

export interface DemoInfo {
  organization: string;
  users: { username: string; password: string; factors: string[] }[];
  application: { name: string; type: string; integrationKey: string };
  /** alice's authenticator-app URI, shown so a newcomer can scan it (demo data, not a real secret). */
  aliceTOTPURI: string;
}

/** The demo organisation's country when none is configured: its users' numbers are in Australia's range for fiction. */
export const DEMO_COUNTRY = "AU";

/** What the start page and the demo banner suggest trying at the command line (words after `twofold`). */
export const DEMO_CLI_COMMANDS: readonly string[] = [
  "push activate alice",
  "push send alice",
  "user list",
  "bypass issue alice",
  "totp enroll bob",
  "rescue generate alice",
  "audit tail",
];
