// Debian's Chromium driven by playwright-core (no downloaded browser), headless, with a fake camera when asked.
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";
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
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...ARGS, ...camera] });
}
