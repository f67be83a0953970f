// What the demo organisation contains, for the start page and the console banner (demo mode only).

export interface DemoInfo {
  organization: string;
  users: { username: string; password: string; factors: string[] }[];
  application: { name: string; type: string; integrationKey: string };
  /** alice's authenticator-app URI, shown so a newcomer can scan it (demo data, not a real secret). */
  aliceTOTPURI: string;
}
