// `twofold push …`: activate a user's Twofold Authenticator, send a test push and wait for it, manage devices and fraud holds.
import type { Command } from "../command.ts";
import { shellWord } from "../command-line.ts";
import { renderTerminalQRCode } from "../terminal-qr-code.ts";

function when(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export const pushCommands: Command[] = [
  {
    path: ["push", "activate"],
    summary: "a single-use activation link (and QR code) for a user's Twofold Authenticator",
    args: [{ name: "USER" }],
    details:
      "The link is valid for policy.push.activationSeconds (10 minutes by default) and works once.\n" +
      "Open it on the phone, scan the QR code in the app, or run `twofold device activate LINK`.",
    async run(ctx) {
      const runtime = await ctx.runtime();
      const ticket = await runtime.services.createDeviceActivation(ctx.actor, ctx.args[0]!);
      const { activationLink } = await import("../../config/load.ts");
      const link = activationLink(runtime.config, ticket.token.reveal());
      const qr = ctx.json ? "" : await renderTerminalQRCode(link);
      ctx.out.data({ activationId: ticket.activationId, link, expiresAt: ticket.expiresAt }, () => {
        ctx.out.line(
          `Activation link for ${ctx.args[0]} (valid until ${when(ticket.expiresAt)}, works once):`,
        );
        ctx.out.line(`  ${link}`);
        ctx.out.line(qr);
      });
      return 0;
    },
  },
  {
    path: ["push", "send"],
    summary: "send a push to a user's devices as a login would, and wait for the answer",
    args: [{ name: "USER" }],
    options: {
      app: { type: "string", value: "APP", description: "application id (default: none, shown as Twofold)" },
      info: { type: "string", value: "TEXT", description: "extra text shown in the app" },
      "no-code": {
        type: "boolean",
        description: "plain approve: no code to type (integrations without a screen)",
      },
      ip: { type: "string", value: "IP", description: "requesting IP shown in the app" },
      wait: {
        type: "string",
        value: "SECONDS",
        description: "how long to wait for the answer (default 60; 0: don't)",
      },
    },
    details:
      "With --json and a wait, one JSON line with the txid and code is printed on stderr at once.\n" +
      "Exit codes:\n" +
      "  0  approved (with --wait 0: sent)\n" +
      "  1  denied, reported as fraud, expired or not answered in time (or another failure, on stderr)\n" +
      "  2  usage error (unknown option, bad --wait)\n" +
      "  3  not sent: no activated device, fraud hold, too many pushes, unknown user, …",
    async run(ctx) {
      const waitSeconds = ctx.integer("wait", 0, 600) ?? 60;
      const { services } = await ctx.runtime();
      const appId = ctx.string("app");
      const application = appId ? await services.requireApplication(appId) : null;
      const started = await services.startPush({
        username: ctx.args[0]!,
        application,
        ip: ctx.string("ip") ?? null,
        info: ctx.string("info") ?? null,
        verified: !ctx.flag("no-code"),
      });
      if (!started.started) {
        ctx.out.data({ started: false, reason: started.reason }, () =>
          ctx.out.line(`No push sent: ${describeRefusal(started.reason, ctx.args[0]!, ctx.commandLine)}`),
        );
        return 3;
      }
      const code = started.code?.reveal() ?? null;
      if (!ctx.json) {
        ctx.out.line(`Push ${started.txid} sent to ${started.devices.length} device(s).`);
        if (code) ctx.out.line(`Code to type in the app: ${code}`);
        if (waitSeconds > 0) ctx.out.line(`Waiting up to ${waitSeconds} s for the answer…`);
      } else if (waitSeconds > 0) {
        // Scripts need the code before the answer can happen: one JSON line on stderr now, the result on stdout.
        ctx.out.note(JSON.stringify({ txid: started.txid, code, status: "pending" }));
      }
      const status =
        waitSeconds > 0
          ? await services.waitForPush(started.txid, { timeoutMs: waitSeconds * 1000 })
          : "pending";
      ctx.out.data({ txid: started.txid, code, status }, () => ctx.out.line(`Result: ${status}`));
      return status === "approved" ? 0 : waitSeconds === 0 ? 0 : 1;
    },
  },
  {
    path: ["push", "devices"],
    summary: "a user's Twofold Authenticator devices",
    args: [{ name: "USER" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const devices = await services.listUserDevices(ctx.args[0]!);
      ctx.out.data(devices, () => {
        if (devices.length === 0) ctx.out.line(`${ctx.args[0]} has no devices`);
        for (const d of devices)
          ctx.out.line(
            `${d.id}  ${d.status.padEnd(7)}  ${d.webPush ? "web-push" : "stream  "}  last seen ${
              d.lastSeenAt ? when(d.lastSeenAt) : "never"
            }  ${d.name}`,
          );
      });
      return 0;
    },
  },
  {
    path: ["push", "revoke"],
    summary: "revoke a device (lost phone): its answers and passcodes stop working",
    args: [{ name: "DEVICE_ID" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      await services.revokeDevice(ctx.actor, ctx.args[0]!);
      ctx.out.data({ revoked: ctx.args[0] }, () => ctx.out.line(`Device ${ctx.args[0]} revoked`));
      return 0;
    },
  },
  {
    path: ["push", "clear-fraud"],
    summary: "allow pushes again for a user who reported one as fraud (after talking to them)",
    args: [{ name: "USER" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      await services.clearPushSuspension(ctx.actor, ctx.args[0]!);
      ctx.out.data({ cleared: ctx.args[0] }, () => ctx.out.line(`Pushes allowed again for ${ctx.args[0]}`));
      return 0;
    },
  },
];

/** Why no push was sent, with the command that fixes it where there is one (ready to paste). */
function describeRefusal(reason: string, username: string, commandLine: (words: string) => string): string {
  const user = shellWord(username);
  switch (reason) {
    case "no_devices":
      return `the user has no activated device (activate one: ${commandLine(`push activate ${user}`)})`;
    case "push_suspended":
      return `the user reported a push as fraud; clear it with ${commandLine(`push clear-fraud ${user}`)}`;
    default:
      return REASONS[reason] ?? reason;
  }
}

const REASONS: Record<string, string> = {
  push_pending: "a push for this user is still waiting for an answer",
  rate_limited: "too many pushes for this user in the last minutes; try later",
  too_many_since_success: "too many pushes since the user last approved one",
  locked_out: "the user is locked out",
  unknown_user: "no such user (or disabled)",
  application_disabled: "the application is disabled (twofold app enable APP)",
  verified_push_required:
    "this application must show a code (number matching); create it with --allow-plain-push if it has no screen",
};
