// `twofold passcode check`: an administrator's test login with a passcode, through the one real verification path.
import { type Command, UsageError } from "../command.ts";
import { readStdinText } from "../input.ts";
import { isoTime } from "../output.ts";

export const passcodeCommands: Command[] = [
  {
    path: ["passcode", "check"],
    summary: "test a passcode for a user: prints allow or deny (the attempt is real and is logged)",
    args: [{ name: "USER" }, { name: "CODE" }],
    options: {
      app: { type: "string", value: "ID", description: "check under this application's policy" },
    },
    details:
      "CODE may be `-` to read it from stdin (keeps it out of the shell history and process list).\n" +
      "A matching code is used up exactly as in a real login. Exit code: 0 allow, 1 deny.",
    async run(ctx) {
      const [username, given] = ctx.args as [string, string];
      const passcode = given === "-" ? (await readStdinText(ctx.stdin)).trim() : given;
      if (passcode === "") throw new UsageError("the passcode is empty");
      const { services } = await ctx.runtime();
      const appId = ctx.string("app");
      const application = appId ? await services.requireApplication(appId) : null;
      const outcome = await services.verifyPasscode({ username, passcode, application });
      // Never echo the passcode: the result, the factor that matched and the operator-facing reason only.
      const shown = {
        result: outcome.result,
        factor: outcome.factor,
        reason: outcome.reason,
        txid: outcome.txid,
        ...(outcome.result === "allow" && outcome.usesLeft !== undefined
          ? { usesLeft: outcome.usesLeft }
          : {}),
        // Locked or delayed: when the factor takes attempts again (the user is told the same).
        ...(outcome.result === "deny" && outcome.retryAt !== undefined ? { retryAt: outcome.retryAt } : {}),
      };
      ctx.out.data(shown, () => {
        const extra =
          "usesLeft" in shown
            ? `, ${shown.usesLeft === null ? "unlimited" : shown.usesLeft} use${shown.usesLeft === 1 ? "" : "s"} left`
            : "";
        const retry = "retryAt" in shown ? `, next attempt from ${isoTime(shown.retryAt)}` : "";
        ctx.out.line(`${shown.result} (factor: ${shown.factor}, reason: ${shown.reason}${extra}${retry})`);
      });
      return outcome.result === "allow" ? 0 : 1;
    },
  },
];
