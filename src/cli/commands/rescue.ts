// `twofold rescue …`: generate a user's rescue codes (printed once; voids the old set) and count the unused ones.
import type { Command } from "../command.ts";

export const rescueCommands: Command[] = [
  {
    path: ["rescue", "generate"],
    summary: "generate a new set of rescue codes for a user (printed once; voids the old set)",
    args: [{ name: "USER" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const { codes, setId } = await services.generateRescueCodes(ctx.actor, ctx.args[0]!);
      // Shown once, to be handed to the user; only keyed hashes are stored.
      const plain = codes.reveal();
      ctx.out.data({ setId, codes: plain }, () => {
        ctx.out.line(`Rescue codes for ${ctx.args[0]}:`);
        for (const code of plain) ctx.out.line(`  ${code}`);
        ctx.out.line("Store these safely; each works once; generating again voids them.");
      });
      return 0;
    },
  },
  {
    path: ["rescue", "status"],
    summary: "how many unused rescue codes a user has",
    args: [{ name: "USER" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const unused = await services.countUnusedRescueCodes(ctx.args[0]!);
      ctx.out.data({ user: ctx.args[0], unused }, () =>
        ctx.out.line(`${ctx.args[0]} has ${unused} unused rescue code${unused === 1 ? "" : "s"}`),
      );
      return 0;
    },
  },
];
