// `twofold keys reseal`: re-encrypt every stored secret with the primary (first) configured key.
import type { Command } from "../command.ts";
import { createProgress } from "../progress.ts";

export const keysCommands: Command[] = [
  {
    path: ["keys", "reseal"],
    summary: "re-encrypt stored secrets with the first configured key (after adding a new key)",
    async run(ctx) {
      const { services } = await ctx.runtime();
      const progress = createProgress("re-sealing secrets", ctx.stderr);
      let report: Awaited<ReturnType<typeof services.resealSecrets>>;
      try {
        report = await services.resealSecrets(ctx.actor, (done, total) => progress.update(done, total));
      } finally {
        progress.finish();
      }
      ctx.out.data(report, () => {
        ctx.out.line(
          `re-sealed ${report.otpCredentials} OTP secrets, ${report.applications} application secrets, ${report.devices} device delivery records and ${report.settings} server keys; ${report.alreadyCurrent} already current`,
        );
        ctx.out.line(
          "Keep older keys configured until the bypass and rescue codes hashed with them have expired.",
        );
      });
      return 0;
    },
  },
];
