// Debian's Chromium driven by playwright-core (no downloaded browser), headless, with a fake camera when asked.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";
/** Chromium started without the right to raise its own priority (see the script), where setpriv can drop it. */
const UNBOOSTED = resolve("test/browser/support/chromium-unboosted.sh");
const IN_CI = process.env["CI"] === "true";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Why the browser tests cannot run here, or undefined. Under CI=true a missing browser fails instead. */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const message = `${CHROMIUM_PATH} not found (apt-get install -y chromium)`;
  if (IN_CI) throw new Error(`Chromium is required under CI=true: ${message}`);
  console.error(`\n*** SKIPPING browser tests: ${message} ***\n`);
  return message;
}

/**
 * @param fakeCamera a Y4M file the camera "films" in a loop; camera permission is granted without a prompt.
 */
export function launchChromium(options: { fakeCamera?: string } = {}): Promise<Browser> {
  const camera = options.fakeCamera
    ? [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-video-capture=${options.fakeCamera}`,
      ]
    : [];
  return chromium.launch({ executablePath: launchPath(), headless: true, args: [...ARGS, ...camera] });
}

let chosen: string | undefined;
/** The unboosted wrapper when it works here (setpriv from util-linux, and the right to drop a capability). */
function launchPath(): string {
  if (chosen) return chosen;
  chosen = CHROMIUM_PATH;
  if (existsSync(UNBOOSTED))
    try {
      execFileSync("setpriv", ["--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice", "true"], {
        stdio: "ignore",
      });
      chosen = UNBOOSTED;
    } catch {
      // No setpriv, or not allowed to use it: Chromium as it is.
    }
  return chosen;
}
