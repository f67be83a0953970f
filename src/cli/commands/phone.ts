// `twofold phone …`: phones for text-message passcodes: add one (a verification code is texted to it), confirm the code, send it again.
import type { Command, CommandContext } from "../command.ts";

type SendOutcome = Awaited<
  ReturnType<Awaited<ReturnType<CommandContext["runtime"]>>["services"]["sendPhoneVerification"]>
>;

function reportSend(ctx: CommandContext, phoneId: string, sent: SendOutcome): number {
  ctx.out.data({ phoneId, ...sent }, () => {
    if (sent.sent) {
      ctx.out.line(`Sent a verification code to ${sent.maskedNumber} (phone ${phoneId}).`);
      ctx.out.line(`When the user reads it out: ${ctx.commandLine(`phone verify ${phoneId} CODE`)}`);
    } else ctx.out.line(`No code was sent: ${sent.message}`);
  });
  return sent.sent ? 0 : 1;
}

export const phoneCommands: Command[] = [
  {
    path: ["phone", "add"],
    summary: "register a user's mobile number for text-message passcodes and text it a verification code",
    args: [{ name: "USER" }, { name: "NUMBER" }],
    options: {
      name: { type: "string", value: "TEXT", description: 'what to call it, e.g. "Work mobile"' },
      country: {
        type: "string",
        value: "CC",
        description: "country for a number given without +, e.g. HK (default: none; give +852…)",
      },
    },
    details:
      "The number is checked (premium-rate, shared-cost, unassigned and fixed-line numbers are refused) and stored\n" +
      "in E.164. It receives login passcodes only after the code texted to it is confirmed with `phone verify`.\n" +
      "Administrators, and users with no authenticator app, token or device, cannot use text messages.",
    async run(ctx) {
      const { services } = await ctx.runtime();
      const name = ctx.string("name");
      const country = ctx.string("country");
      const { phone, sent } = await services.addSMSPhone(ctx.actor, {
        user: ctx.args[0]!,
        number: ctx.args[1]!,
        ...(name ? { name } : {}),
        ...(country ? { defaultCountry: country.toUpperCase() } : {}),
      });
      return reportSend(ctx, phone.id, sent);
    },
  },
  {
    path: ["phone", "verify"],
    summary: "confirm the code texted to a phone: its number then receives passcodes",
    args: [{ name: "PHONE_ID" }, { name: "CODE" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const phone = await services.confirmPhoneVerification(ctx.actor, {
        phoneId: ctx.args[0]!,
        code: ctx.args[1]!,
      });
      ctx.out.data({ phoneId: phone.id, verified: true }, () =>
        ctx.out.line(`Phone ${phone.id} is verified: it now receives text-message passcodes.`),
      );
      return 0;
    },
  },
  {
    path: ["phone", "send-code"],
    summary: "text a phone its verification code again (the earlier one stops working)",
    args: [{ name: "PHONE_ID" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const sent = await services.sendPhoneVerification(ctx.actor, ctx.args[0]!);
      return reportSend(ctx, ctx.args[0]!, sent);
    },
  },
];
