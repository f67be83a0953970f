// `twofold totp …`: enrol an authenticator app for a user (URI and terminal QR code), confirm it, remove it.
import { isTwofoldError } from "../../core/errors.ts";
import type { Command, CommandContext } from "../command.ts";
import { prompt } from "../input.ts";
import { isoTime } from "../output.ts";
import { renderTerminalQRCode } from "../terminal-qr-code.ts";

const MAX_TRIES = 3;

/** Ask for the first code at the terminal; true once confirmed, false when the operator gives up. */
async function confirmInteractively(ctx: CommandContext, credentialId: string): Promise<boolean> {
  const { services, config } = await ctx.runtime();
  const question = `Enter the ${config.policy.totp.digits}-digit code your app shows to activate: `;
  for (let attempt = 1; attempt <= MAX_TRIES; attempt++) {
    const code = await prompt(question, ctx.stdin, ctx.stdout);
    if (code === undefined || code.trim() === "") return false;
    try {
      await services.confirmTOTP(ctx.actor, credentialId, code.trim());
      return true;
    } catch (error) {
      if (!isTwofoldError(error) || error.code !== "ERR_TOTP_INVALID" || attempt === MAX_TRIES) throw error;
      ctx.out.note(
        `${error.message} (${MAX_TRIES - attempt} more tr${MAX_TRIES - attempt === 1 ? "y" : "ies"})`,
      );
    }
  }
  return false;
}

export const totpCommands: Command[] = [
  {
    path: ["totp", "enroll"],
    summary: "start an authenticator-app enrolment: prints the otpauth URI and a QR code",
    args: [{ name: "USER" }],
    options: { label: { type: "string", value: "L", description: 'name of the app, e.g. "work phone"' } },
    details:
      "On a terminal, asks for the first code to activate the enrolment; otherwise finish it with\n" +
      "`twofold totp confirm ENROLLMENT_ID CODE` before it expires.",
    async run(ctx) {
      const { services } = await ctx.runtime();
      const label = ctx.string("label");
      const e = await services.enrollTOTP(ctx.actor, ctx.args[0]!, label ? { label } : {});
      // The one place the secret is shown: to the operator enrolling the app, once.
      const uri = e.uri.reveal();
      const next = ctx.commandLine(`totp confirm ${e.credentialId} CODE`);
      ctx.out.data(
        { enrollmentId: e.credentialId, uri, secret: e.secret.reveal(), expiresAt: e.expiresAt },
        () => {},
      );
      if (ctx.json) return 0;
      const out = ctx.out;
      out.line(`Authenticator-app enrolment ${e.credentialId} for ${ctx.args[0]}`);
      out.line("Scan this QR code with the app, or add the URI or key by hand:");
      out.line(await renderTerminalQRCode(uri));
      out.line(`URI:     ${uri}`);
      out.line(`key:     ${e.secret.reveal()}`);
      out.line(`expires: ${isoTime(e.expiresAt)} unless confirmed`);
      if (ctx.stdin.isTTY && (await confirmInteractively(ctx, e.credentialId))) {
        out.line("The authenticator app is active.");
      } else {
        out.line(`To activate it, run: ${next}`);
      }
      return 0;
    },
  },
  {
    path: ["totp", "confirm"],
    summary: "activate a pending enrolment with a code from the app",
    args: [{ name: "ENROLLMENT_ID" }, { name: "CODE" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const [id, code] = ctx.args as [string, string];
      await services.confirmTOTP(ctx.actor, id, code);
      ctx.out.data({ enrollmentId: id, status: "active" }, () =>
        ctx.out.line(`authenticator app ${id} is active`),
      );
      return 0;
    },
  },
  {
    path: ["totp", "remove"],
    summary: "remove an authenticator app from its user",
    args: [{ name: "CREDENTIAL_ID" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      await services.removeOTPCredential(ctx.actor, ctx.args[0]!);
      ctx.out.data({ removed: ctx.args[0] }, () => ctx.out.line(`removed authenticator app ${ctx.args[0]}`));
      return 0;
    },
  },
];
