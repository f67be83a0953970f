// `twofold serve`: runs the HTTP server until SIGINT/SIGTERM; in demo mode seeds the demo organisation and prints a banner.
import { DEMO_CLI_COMMANDS, type DemoInfo } from "../../runtime/demo-info.ts";
import { type Command, type CommandContext, UsageError } from "../command.ts";
import { lanAddress, opensslMissing } from "../dev-certificates.ts";
import { renderTerminalQRCode } from "../terminal-qr-code.ts";
import { DEV_CERTS_DIR, DEV_TLS_PORT } from "./certs.ts";

export const serveCommands: Command[] = [
  {
    path: ["serve"],
    summary: "run the server (with --demo: SQLite under ./data and a demo organisation)",
    options: {
      host: {
        type: "string",
        value: "H",
        description: "address to listen on (server.host; 0.0.0.0: every one)",
      },
      port: { type: "string", value: "N", description: "port to listen on (server.port; 0: any free port)" },
      "public-url": {
        type: "string",
        value: "URL",
        description: "the address users reach this server at (server.publicUrl)",
      },
      "tls-cert": { type: "string", value: "FILE", description: "PEM certificate chain (server.tls.cert)" },
      "tls-key": { type: "string", value: "FILE", description: "PEM private key (server.tls.key)" },
    },
    configOverrides(options) {
      const port = options.integer("port", 0, 65535);
      const host = options.string("host");
      if (host !== undefined && host.trim() === "") throw new UsageError("--host must not be empty");
      const settings: Record<string, unknown> = {
        "server.host": host,
        "server.port": port,
        "server.publicUrl": options.string("public-url"),
        "server.tls.cert": options.string("tls-cert"),
        "server.tls.key": options.string("tls-key"),
      };
      return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
    },
    details:
      "Options win over the configuration file and TWOFOLD_* variables.\n" +
      "Stops cleanly on SIGINT or SIGTERM, letting open requests finish (server.shutdownGraceSeconds).",
    async run(ctx) {
      // Loaded here, not at the top, so other commands do not pay for loading the HTTP stack; asked for before the
      // runtime is built, so that its files are read meanwhile.
      const http = import("../../http/server.ts");
      http.catch(() => {});
      const runtime = await ctx.runtime();
      const demo = runtime.config.mode === "demo" ? await runtime.seedDemo() : undefined;
      const { startServer, installSignalHandlers } = await http;
      // Demo: the Campus Portal web application beside Twofold, and the HTTPS port its SDK needs.
      const portal = demo ? await import("../demo-portal.ts") : undefined;
      const back =
        demo && portal ? await portal.startBackChannel(runtime, ctx.path(DEV_CERTS_DIR), ctx.env) : undefined;
      const channel = back && "server" in back ? back : undefined;
      let portalURL: string | undefined;
      const main = await startServer(
        runtime,
        demo
          ? {
              demo,
              commandLine: ctx.commandLine,
              oidcOrigins: () => (channel ? [`https://${channel.apiHost}`] : []),
              demoPortal: () => portalURL,
            }
          : {},
      );
      let campus: Awaited<ReturnType<NonNullable<typeof portal>["startDemoPortal"]>> | undefined;
      if (demo && portal && channel) {
        const port = runtime.config.server.port === 0 ? 0 : runtime.config.server.port + 1;
        campus = await portal.startDemoPortal(runtime, demo, {
          apiHost: channel.apiHost,
          ca: channel.ca,
          browserOrigin: main.url,
          port,
        });
        portalURL = campus.url;
      }
      const server = {
        ...main,
        close: async () => {
          await campus?.close();
          await Promise.all([main.close(), channel?.server.close()]);
        },
      };

      // On SIGTERM/SIGINT the handlers close the server, then the runtime. A clean shutdown returns from
      // main, so bin/twofold.js sets exit code 0; a failed shutdown or a second signal exits at once.
      const stopped = new Promise<number>((resolve) => {
        installSignalHandlers(server, { ...runtime, close: ctx.closeRuntime }, (code) =>
          code === 0 || !ctx.exit ? resolve(code) : ctx.exit(code),
        );
      });
      await printBanner(ctx, server.url, demo, {
        portal: portalURL,
        skipped: back && "skipped" in back ? back.skipped : undefined,
      });
      return stopped;
    },
  },
];

async function printBanner(
  ctx: CommandContext,
  url: string,
  demo: DemoInfo | undefined,
  campus: { portal: string | undefined; skipped: string | undefined } = {
    portal: undefined,
    skipped: undefined,
  },
): Promise<void> {
  const config = await ctx.config();
  ctx.out.data({ url, mode: config.mode, demo: demo ?? null, campusPortal: campus.portal ?? null }, () => {});
  if (ctx.json) return;
  const out = ctx.out;
  if (!demo) {
    out.line(`Twofold is listening on ${url}`);
    return;
  }
  out.line(
    `Twofold demo (${demo.organization}): NOT for real users; data under ${config.database.sqlitePath}`,
  );
  out.line(`Listening on ${url}`);
  out.line();
  out.line("Demo users (local passwords):");
  for (const u of demo.users) out.line(`  ${u.username} / ${u.password}    ${u.factors.join("; ")}`);
  out.line(
    `Demo application: ${demo.application.name} (${demo.application.type}), integration key ${demo.application.integrationKey}`,
  );
  if (campus.portal)
    out.line(
      `Campus Portal (the demo web application, through Duo's Web SDK): ${campus.portal}  (alice / alice-demo)`,
    );
  else if (campus.skipped) out.line(`Campus Portal is not running: ${campus.skipped}`);
  if (demo.users.some((u) => u.factors.some((f) => f.startsWith("text message"))))
    out.line(
      "Texts and e-mails the demo sends appear in the Demo inbox on the start page (no gateway needed).",
    );
  out.line();
  out.line("alice's authenticator app: scan this QR code, or add the URI by hand:");
  out.line(`  ${demo.aliceTOTPURI}`);
  out.line(await renderTerminalQRCode(demo.aliceTOTPURI));
  out.line();
  out.line("Try the command line (in this directory, in another terminal):");
  for (const words of DEMO_CLI_COMMANDS) out.line(`  ${ctx.commandLine(words)}`);
  out.line();
  // Loaded already with the configuration: a dynamic import keeps it out of the command table.
  const { publicBaseUrl } = await import("../../config/load.ts");
  for (const line of phoneAdvice(ctx, publicBaseUrl(config), url)) out.line(line);
  out.line();
  out.line(`Open ${url} in a browser: the start page says what is running and what to try next.`);
}

/**
 * How to reach the demo from a phone. The authenticator app needs a secure origin (W3C Secure Contexts §3:
 * camera, WebCrypto keys, service worker), which plain HTTP on a LAN address is not.
 */
function phoneAdvice(ctx: CommandContext, publicUrl: string, url: string): string[] {
  if (url.startsWith("https:"))
    return [
      `From a phone on this network: open ${publicUrl}/ (with the CA of this certificate installed`,
      "on the phone, e.g. data/certs/ca.crt from `twofold certs dev`).",
    ];
  const lines = [
    "From a phone: the Twofold Authenticator needs HTTPS (browsers allow its camera and keys only on secure",
    "origins), and this server speaks plain HTTP.",
  ];
  const missing = opensslMissing(ctx.env);
  if (missing)
    return [
      ...lines,
      `\`twofold certs dev\` would make a local CA and certificate, but ${missing}.`,
      "Install it, or put the demo behind a reverse proxy with a certificate the phone trusts.",
    ];
  const address = lanAddress() ?? "localhost";
  return [
    ...lines,
    "To use the phone over this network with TLS:",
    `  1. Make a local CA and a certificate for ${address}: ${ctx.commandLine("certs dev")}`,
    `  2. Install ${DEV_CERTS_DIR}/ca.crt on the phone as a trusted CA certificate (certs dev says how)`,
    "  3. Stop this server and serve TLS on the LAN address:",
    `     ${ctx.commandLine(`serve --host 0.0.0.0 --port ${DEV_TLS_PORT} --tls-cert ${DEV_CERTS_DIR}/server.pem --tls-key ${DEV_CERTS_DIR}/server-key.pem --public-url https://${address}:${DEV_TLS_PORT}`)}`,
  ];
}
