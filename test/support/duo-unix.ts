// Runs Debian's real duo_unix 1.11.3 clients (login_duo, and pam_duo through pamtester) against a test server.
/*
 * What the binaries need (all checked on Debian 12, login-duo / libpam-duo 1.11.3-1+b1, pamtester 0.1.2):
 *
 * - Root. login_duo is setuid root and only lets root use `-c` / `-f` ("Only root may specify -c or -f"); run as
 *   root it does no privilege separation at all. pamtester needs root to read pam_duo's config and we write
 *   service files into /etc/pam.d.
 * - Config files may live anywhere (`login_duo -c /tmp/x/duo.conf`, `pam_duo.so conf=/tmp/x/duo.conf`). Only the
 *   group/other READ bits are checked (0620 and 0602 pass; the owner is not checked). A readable file, a missing
 *   file, an unknown key or any parse error is reported ("<file> must be readable only by user 'root'", "Couldn't
 *   open …", "Parse error in …") and then LETS THE USER IN (exit 0, command runs, no network call), even if the file
 *   says failmode=secure: the check happens before the file is parsed. `writeDuoConfig` writes 0600 and refuses
 *   unknown keys.
 * - login_duo `-f <name>` is only the Duo username sent to the server; no such local user is needed. The command
 *   after `--` runs as `$SHELL -c "<args joined by spaces>"` with the invoking user's (root's) login shell. Always
 *   put `--` before the command: glibc getopt permutes, so `login_duo -c f echo -n x` would eat `-n`.
 * - pam_duo looks the PAM user up with getpwnam(): the Duo username is the local username and the user MUST exist in
 *   /etc/passwd (otherwise PAM_USER_UNKNOWN, no network call). Use `root`, or `createLocalUser()`. With
 *   `send_gecos = yes` the GECOS field is sent as the Duo username instead: `createLocalUser({ gecos: "alice" })`.
 * - pam_duo decides by PAM service name: `sshd` → async=0 (one blocking /auth call); anything else → async=1 and
 *   status polling. /etc/pam.d/sshd exists on the host, so for service "sshd" we bind-mount our own file over it in a
 *   private mount namespace (`unshare --mount`), never touching the real file. Other names get a fresh
 *   /etc/pam.d/<name> that is removed afterwards. pam_duo always prompts (unless autopush): without a TTY pamtester's
 *   conversation fails after preauth ("Critical error - immediate abort").
 * - login_duo goes headless (preauth, then /auth with async=0 and auto=<factors.default>, no prompt) when stdin is
 *   not a TTY or SSH_ORIGINAL_COMMAND is set. SSH_CONNECTION (or `-h`) supplies `ipaddr`, DUO_PASSCODE is read with
 *   accept_env_factor: the harness runs the clients with a minimal environment so the test runner's own never leaks.
 * - Interactive runs go through util-linux `script -q -e -c <cmd> /dev/null`, which gives the client a pseudo-
 *   terminal and returns the client's exit status. The pty echoes typed answers into the output, and everything the
 *   client writes (stdout and stderr) arrives merged, with CRLF line ends (normalised to LF here).
 * - `host` must be a DNS name (e.g. `localhost:<port>`) and the certificate must carry a matching DNS SAN: libduo
 *   1.x checks DNS SANs only. `cafile` replaces the built-in pinned CA list.
 * - Logs ("Successful Duo login for 'x'", "Failed Duo login ...", ...) go to syslog unless `debug` is on
 *   (login_duo `-d`, pam_duo `debug` module argument): then they go to stderr as "[<priority>] <message>".
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IN_CI } from "./stores.ts";

export const LOGIN_DUO = "/usr/sbin/login_duo";
export const PAMTESTER = "/usr/bin/pamtester";
export const SCRIPT = "/usr/bin/script";
export const UNSHARE = "/usr/bin/unshare";

const PAM_MODULE_CANDIDATES = [
  "/lib/x86_64-linux-gnu/security/pam_duo.so",
  "/usr/lib/x86_64-linux-gnu/security/pam_duo.so",
  "/lib/aarch64-linux-gnu/security/pam_duo.so",
  "/usr/lib/aarch64-linux-gnu/security/pam_duo.so",
  "/lib/security/pam_duo.so",
  "/usr/lib/security/pam_duo.so",
];

/** The installed pam_duo.so, or undefined. */
export function pamDuoModule(): string | undefined {
  return PAM_MODULE_CANDIDATES.find((path) => existsSync(path));
}

function missingDuoUnix(): string[] {
  const missing: string[] = [];
  if (process.platform !== "linux") missing.push("Linux");
  if (typeof process.getuid !== "function" || process.getuid() !== 0) missing.push("root");
  for (const [file, pkg] of [
    [LOGIN_DUO, "login-duo"],
    [PAMTESTER, "pamtester"],
    [SCRIPT, "bsdutils (script)"],
  ] as const) {
    if (!existsSync(file)) missing.push(`${file} (${pkg})`);
  }
  if (pamDuoModule() === undefined) missing.push("pam_duo.so (libpam-duo)");
  return missing;
}

/**
 * Whether Debian's duo_unix clients can be run here (login_duo, pam_duo.so, pamtester, script, running as root).
 * Under CI=true their absence is an error; locally the test skips loudly.
 */
export function haveDuoUnix(what: string): boolean {
  const missing = missingDuoUnix();
  if (missing.length === 0) return true;
  if (IN_CI) throw new Error(`duo_unix clients are required under CI=true; missing: ${missing.join(", ")}`);
  console.error(
    `\n*** SKIPPING ${what}: duo_unix clients unavailable (missing: ${missing.join(", ")}) ***\n`,
  );
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration

export interface DuoConfigOptions {
  /** Directory to write into (e.g. a mkdtemp directory). */
  dir: string;
  ikey: string;
  skey: string;
  /** `name:port`; use a DNS name that the server certificate carries as a DNS SAN (e.g. `localhost:8443`). */
  host: string;
  /** PEM file of the CA that signed the server certificate (replaces libduo's pinned CA list). */
  cafile: string;
  /** More `[duo]` keys, e.g. `{ failmode: "secure", autopush: "yes", prompts: "1", pushinfo: "yes" }`. */
  extra?: Record<string, string>;
  /** File name inside `dir`; default `duo.conf`. */
  name?: string;
}

/**
 * Keys duo_unix 1.11.3 accepts; any other key is a parse error, which fails OPEN (see the header). `motd` is
 * login_duo only: pam_duo treats it as unknown.
 */
export const DUO_CONFIG_KEYS: readonly string[] = [
  "ikey",
  "skey",
  "host",
  "cafile",
  "http_proxy",
  "noverify",
  "groups",
  "group",
  "failmode",
  "pushinfo",
  "autopush",
  "motd",
  "prompts",
  "accept_env_factor",
  "fallback_local_ip",
  "https_timeout",
  "send_gecos",
  "gecos_parsed",
  "gecos_delim",
  "gecos_username_pos",
  "dev_fips_mode",
];

/** Writes a duo_unix INI file (`[duo]` section) at mode 0600 and returns its path. */
export function writeDuoConfig(options: DuoConfigOptions): string {
  const entries: [string, string][] = [
    ["ikey", options.ikey],
    ["skey", options.skey],
    ["host", options.host],
    ["cafile", options.cafile],
    ...Object.entries(options.extra ?? {}),
  ];
  const lines = ["[duo]"];
  for (const [key, value] of entries) {
    if (!DUO_CONFIG_KEYS.includes(key)) throw new Error(`duo_unix does not know the config key ${key}`);
    if (/[\r\n]/.test(value)) throw new Error(`config value for ${key} contains a line break`);
    lines.push(`${key} = ${value}`);
  }
  const path = join(options.dir, options.name ?? "duo.conf");
  writeFileSync(path, lines.join("\n") + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

// ---------------------------------------------------------------------------------------------------------------
// Running processes

export interface Answer {
  /** Typed once this matches the output that arrived since the previous answer was typed. */
  waitFor: RegExp;
  /** The line to type (Enter is added). */
  type: string;
}

export interface RunOptions {
  /** Environment on top of a minimal PATH/HOME/LANG/TERM one (the caller's environment is NOT inherited). */
  env?: Record<string, string>;
  /** Kill the client and reject after this long; default 30 s. */
  timeoutMs?: number;
}

export interface InteractiveOptions extends RunOptions {
  answers?: Answer[];
  /** Called with everything printed so far, each time more arrives (to act on a code shown, say). */
  onOutput?: (output: string) => void;
}

export interface RunResult {
  /** The client's exit status (through `script -e` for interactive runs); null if it died from a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Everything the client printed, stdout and stderr in arrival order, CRLF normalised to LF. */
  output: string;
  /** Only the stdout part (headless runs; for interactive runs equal to `output`). */
  stdout: string;
  /** Only the stderr part (headless runs; for interactive runs what `script` itself printed). */
  stderr: string;
  /** How many answers were typed. */
  answered: number;
  elapsedMs: number;
}

const BASE_ENV: Record<string, string> = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  LANG: "C",
  TERM: "dumb",
  SHELL: "/bin/sh",
};

/** Quotes argv for `sh -c`. */
export function shellJoin(argv: readonly string[]): string {
  return argv
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`))
    .join(" ");
}

function runProcess(
  argv: readonly string[],
  interactive: boolean,
  options: InteractiveOptions,
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const answers = options.answers ?? [];
  for (const answer of answers) {
    if (/[\r\n]/.test(answer.type)) throw new Error("an answer is one line; Enter is added by the harness");
  }
  const [file, ...args] = interactive ? [SCRIPT, "-q", "-e", "-c", shellJoin(argv), "/dev/null"] : argv;
  const started = Date.now();
  const child = spawn(file!, args, {
    env: { ...BASE_ENV, ...options.env },
    stdio: [interactive ? "pipe" : "ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  let stdout = "";
  let stderr = "";
  let answered = 0;
  let searchFrom = 0;

  const answerIfDue = () => {
    while (answered < answers.length) {
      const answer = answers[answered]!;
      const pattern = new RegExp(answer.waitFor.source, answer.waitFor.flags.replace(/[gy]/g, ""));
      const match = pattern.exec(output.slice(searchFrom));
      if (match === null) return;
      searchFrom += match.index + match[0].length;
      answered++;
      child.stdin?.write(answer.type + "\n");
    }
  };

  child.stdin?.on("error", () => {
    // EPIPE when an answer is typed just as the client exits; the exit status tells the story.
  });
  const childStdout = child.stdout!;
  const childStderr = child.stderr!;
  childStdout.setEncoding("utf8");
  childStderr.setEncoding("utf8");
  childStdout.on("data", (chunk: string) => {
    const text = chunk.replaceAll("\r\n", "\n");
    stdout += text;
    output += text;
    answerIfDue();
    options.onOutput?.(output);
  });
  childStderr.on("data", (chunk: string) => {
    const text = chunk.replaceAll("\r\n", "\n");
    stderr += text;
    if (!interactive) output += text;
  });

  return new Promise((resolve, reject) => {
    const kill = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    let hardKill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      kill("SIGTERM");
      hardKill = setTimeout(() => kill("SIGKILL"), 2_000);
      const waiting = answers[answered];
      reject(
        new Error(
          `${argv.join(" ")} did not finish within ${timeoutMs} ms` +
            (waiting ? ` (waiting for ${waiting.waitFor})` : "") +
            `; output so far:\n${output}${interactive && stderr ? `\nscript: ${stderr}` : ""}`,
        ),
      );
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (hardKill) clearTimeout(hardKill);
      child.stdin?.end();
      resolve({
        code,
        signal,
        output,
        stdout,
        stderr,
        answered,
        elapsedMs: Date.now() - started,
      });
    });
  });
}

/** Runs argv with stdin at /dev/null (not a TTY) and separate stdout/stderr pipes. */
export function runHeadless(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProcess(argv, false, options);
}

/**
 * Runs argv on a pseudo-terminal (util-linux `script`), typing each answer once its `waitFor` shows up in the output.
 * Resolves when the client exits, with its real exit status; rejects after `timeoutMs`.
 */
export function runInteractive(
  argv: readonly string[],
  options: InteractiveOptions = {},
): Promise<RunResult> {
  return runProcess(argv, true, options);
}

/** A marker and a shell command that prints it, without the command text itself containing the marker. */
export function shellMarker(): { marker: string; command: string } {
  const suffix = randomBytes(6).toString("hex");
  return { marker: `SHELL-RAN-${suffix}`, command: `echo SHELL-RAN-""${suffix}` };
}

// ---------------------------------------------------------------------------------------------------------------
// login_duo

export interface LoginDuoOptions extends InteractiveOptions {
  /** Config file from `writeDuoConfig`. */
  conf: string;
  /** Duo username (`-f`); need not exist locally. */
  user: string;
  /** Shell command line to run after success (`$SHELL -c`); see `shellMarker`. */
  command: string;
  /** Remote address (`-h`), sent as `ipaddr`. */
  remoteIp?: string;
  /** `-d`: log lines go to stderr instead of syslog. */
  debug?: boolean;
}

export function loginDuoArgv(options: LoginDuoOptions): string[] {
  return [
    LOGIN_DUO,
    ...(options.debug ? ["-d"] : []),
    ...["-c", options.conf, "-f", options.user],
    ...(options.remoteIp ? ["-h", options.remoteIp] : []),
    "--",
    options.command,
  ];
}

/** login_duo with stdin not a TTY: preauth, then one blocking /auth (async=0, auto=factors.default). */
export function runLoginDuoHeadless(options: LoginDuoOptions): Promise<RunResult> {
  return runHeadless(loginDuoArgv(options), options);
}

/** login_duo on a pty: prints the preauth prompt and reads a typed line (unless autopush is on). */
export function runLoginDuoInteractive(options: LoginDuoOptions): Promise<RunResult> {
  return runInteractive(loginDuoArgv(options), options);
}

// ---------------------------------------------------------------------------------------------------------------
// pam_duo through pamtester

export interface PamDuoOptions extends InteractiveOptions {
  conf: string;
  /** PAM user; must exist in /etc/passwd (see createLocalUser) and is also the Duo username. */
  user: string;
  /** PAM service name; default a fresh `twofold-duo-<hex>`. `sshd` makes pam_duo use async=0. */
  service?: string;
  /**
   * PAM_RHOST (pamtester `-I rhost=`), sent as `ipaddr` as it is: an address, or a host name (sshd with `UseDNS yes`;
   * pam_duo replaces a name only with `fallback_local_ip`, by the server's own address).
   */
  rhost?: string;
  /** pam_duo `debug` argument: log lines go to stderr instead of syslog. */
  debug?: boolean;
  /** Run without a pty (stdin /dev/null): pamtester's conversation then fails at the first prompt. */
  headless?: boolean;
}

let canShadow: boolean | undefined;

/** Whether this process may make a private mount namespace (needed to shadow an existing /etc/pam.d file). */
export function canShadowPamService(): boolean {
  if (canShadow === undefined) {
    try {
      execFileSync(UNSHARE, ["--mount", "--propagation", "private", "--", "true"], { stdio: "ignore" });
      canShadow = true;
    } catch {
      canShadow = false;
    }
  }
  return canShadow;
}

/**
 * Runs `pamtester -v [-I rhost=…] <service> <user> authenticate` with `auth required pam_duo.so conf=<conf> [debug]`
 * as the whole service stack, on a pty answering `answers` (or headless). pamtester exits 0 on success, 1 on any
 * failure; `pamtesterVerdict(output)` gives the reason.
 */
export async function runPamDuo(options: PamDuoOptions): Promise<RunResult> {
  const module = pamDuoModule();
  if (module === undefined) throw new Error("pam_duo.so is not installed");
  const service = options.service ?? `twofold-duo-${randomBytes(6).toString("hex")}`;
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(service)) throw new Error(`unsafe PAM service name ${service}`);
  if (/\s/.test(options.conf)) throw new Error("the pam_duo conf= path must not contain whitespace");
  const stack = `auth required ${module} conf=${options.conf}${options.debug ? " debug" : ""}\n`;
  const pamtester = [
    PAMTESTER,
    "-v",
    ...(options.rhost ? ["-I", `rhost=${options.rhost}`] : []),
    service,
    options.user,
    "authenticate",
  ];
  const run = (argv: string[]) =>
    options.headless ? runHeadless(argv, options) : runInteractive(argv, options);

  const target = join("/etc/pam.d", service);
  if (existsSync(target)) {
    // A real service (sshd, sudo, …): shadow it in a private mount namespace only.
    if (!canShadowPamService()) {
      throw new Error(
        `/etc/pam.d/${service} exists and unshare --mount is not permitted here, so it cannot be shadowed`,
      );
    }
    const own = join("/tmp", `twofold-pam-${randomBytes(6).toString("hex")}`);
    writeFileSync(own, stack, { mode: 0o644 });
    try {
      const script = 'mount --bind -- "$1" "$2" && shift 2 && exec "$@"';
      return await run([
        UNSHARE,
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        "sh",
        own,
        target,
        ...pamtester,
      ]);
    } finally {
      rmSync(own, { force: true });
    }
  }
  writeFileSync(target, stack, { mode: 0o644, flag: "wx" });
  try {
    return await run(pamtester);
  } finally {
    rmSync(target, { force: true });
  }
}

/**
 * pamtester's last line, e.g. "successfully authenticated", "Authentication failure", "Critical error - immediate
 * abort" (PAM_ABORT: preauth deny/enroll, HTTP 4xx), "Have exhausted maximum number of retries for service"
 * (PAM_MAXTRIES), "Error in service module" (PAM_SERVICE_ERR: failmode=secure), "User not known to the underlying
 * authentication module" (no such local user).
 */
export function pamtesterVerdict(output: string): string | undefined {
  const lines = output.split("\n").filter((line) => line.startsWith("pamtester: "));
  const last = lines.at(-1);
  if (last === undefined || /^pamtester: (invoking|performing)/.test(last)) return undefined;
  return last.slice("pamtester: ".length);
}

// ---------------------------------------------------------------------------------------------------------------
// Local users (pam_duo needs the PAM user in /etc/passwd)

export interface LocalUser {
  name: string;
  remove(): void;
}

/** Creates a throwaway local user `tfduo<hex>` (no home, no password, nologin shell). Call `remove()` afterwards. */
export function createLocalUser(options: { gecos?: string } = {}): LocalUser {
  const name = `tfduo${randomBytes(5).toString("hex")}`;
  execFileSync(
    "useradd",
    [
      "--no-create-home",
      "--no-user-group",
      "--gid",
      "nogroup",
      "--shell",
      "/usr/sbin/nologin",
      ...(options.gecos !== undefined ? ["--comment", options.gecos] : []),
      name,
    ],
    { stdio: "pipe" },
  );
  return {
    name,
    remove: () => {
      execFileSync("userdel", [name], { stdio: "pipe" });
    },
  };
}
