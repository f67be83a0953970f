import { once } from "node:events";
import { createServer } from "node:net";
import { loadConfig } from "../../../src/config/load.ts";
import type { PushRequest } from "../../../src/core/use-cases/push.ts";
import { buildServer, listenServer, type RunningServer } from "../../../src/http/server.ts";
import type { DemoInfo } from "../../../src/runtime/demo-info.ts";
import { createRuntime, type Runtime } from "../../../src/runtime/runtime.ts";
import { collectOutput, createSandbox, type RunResult, type Sandbox } from "../../cli/helpers.ts";

export const ADMIN = { name: "browser-test" };

export interface PushStarted {
  txid: string;
  /** The code the login screen shows (null with --no-code). */
  code: string | null;
  /** Resolves when the login stops waiting: `twofold push send`'s exit code (null in-process) and status. */
  outcome: Promise<{ exitCode: number | null; status: string }>;
}

export class TwofoldUnderTest {
  private running: RunningServer | undefined;

  private constructor(
    readonly url: string,
    readonly runtime: Runtime,
    readonly box: Sandbox,
    running: RunningServer,
    /** The demo organisation, when started with `demo: true` (as `npm start` does). */
    readonly demo?: DemoInfo,
  ) {
    this.running = running;
  }

  /** `inbox`: the demo's texts and e-mails go to the start page's inbox, as `npm start` (serve --demo) has them. */
  static async start(
    organization: string,
    options: { demo?: boolean; inbox?: boolean } = {},
  ): Promise<TwofoldUnderTest> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const box = createSandbox(
      [
        ...(options.demo ? ["mode: demo"] : []),
        "organization:",
        `  name: ${JSON.stringify(organization)}`,
        "server:",
        "  host: 127.0.0.1",
        `  port: ${port}`,
        `  publicUrl: ${url}`,
        "  shutdownGraceSeconds: 1",
        "policy:",
        "  push:",
        // Several pushes for one user within a minute: more than the fatigue limit's default allows.
        "    ratePerWindow: 50",
      ].join("\n"),
    );
    const runtime = await createRuntime(
      loadConfig({ file: box.configFile, env: {} }),
      options.inbox ? { demoInbox: true } : {},
    );
    const demo = options.demo
      ? await (await import("../../../src/runtime/demo.ts")).ensureDemoOrganization(runtime)
      : undefined;
    const app = buildServer(runtime, demo ? { demo } : {});
    const running = await listenServer(app, runtime);
    return new TwofoldUnderTest(url, runtime, box, running, demo);
  }

  /** Run `twofold ARGS --json` (asynchronously: the server in this process must keep answering). */
  async json<T>(args: string[]): Promise<T> {
    const result = await this.run([...args, "--json"]);
    if (result.code !== 0)
      throw new Error(`twofold ${args.join(" ")} exited ${result.code}: ${result.stderr}${result.stdout}`);
    return JSON.parse(result.stdout) as T;
  }

  run(args: string[]): Promise<RunResult> {
    return collectOutput(this.box.spawn(args));
  }

  /** `twofold push send USER … --json --wait 30`: resolves once the code is known; `outcome` when it exits. */
  async sendPush(username: string, options: string[] = []): Promise<PushStarted> {
    const child = this.box.spawn(["push", "send", username, ...options, "--wait", "30", "--json"]);
    const finished = collectOutput(child);
    const pending = await new Promise<{ txid: string; code: string | null }>((resolve, reject) => {
      let stderr = "";
      const timer = setTimeout(
        () => reject(new Error(`push send printed no code in 20 s: ${stderr}`)),
        20_000,
      );
      child.stderr!.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        const line = stderr.split("\n").find((l) => l.startsWith("{"));
        if (!line) return;
        clearTimeout(timer);
        resolve(JSON.parse(line) as { txid: string; code: string | null });
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`push send exited ${code} before sending: ${stderr}`));
      });
    });
    return {
      ...pending,
      outcome: finished.then((r) => ({
        exitCode: r.code,
        status: (JSON.parse(r.stdout) as { status: string }).status,
      })),
    };
  }

  /**
   * A login's push started in this process with the core services (faster than a CLI run, and with the
   * fields the CLI cannot set, such as the place); `outcome` is what the waiting login learns.
   */
  async startPush(request: Omit<PushRequest, "verified">): Promise<PushStarted> {
    const { services } = this.runtime;
    const started = await services.startPush({ ...request, verified: true });
    if (!started.started) throw new Error(`push not started: ${started.reason}`);
    return {
      txid: started.txid,
      code: started.code?.reveal() ?? null,
      outcome: services.waitForPush(started.txid, { timeoutMs: 30_000 }).then((status) => ({
        exitCode: null,
        status,
      })),
    };
  }

  /** Stop listening (the runtime stays open for the test's checks). */
  async stop(): Promise<void> {
    await this.running?.close();
    this.running = undefined;
  }

  async close(): Promise<void> {
    await this.stop().catch(() => undefined);
    await this.runtime.close().catch(() => undefined);
    this.box.cleanup();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
