// `twofold key …`: a user's WebAuthn keys (Windows Hello, Touch ID, security keys, passkeys): list, rename, remove.
import type { Command } from "../command.ts";

const when = (ms: number | null) => (ms === null ? "never" : new Date(ms).toISOString());

export const keyCommands: Command[] = [
  {
    path: ["key", "list"],
    summary:
      "a user's security keys and passkeys (suspect = its signature counter went back: a possible clone)",
    args: [{ name: "USER" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const keys = await services.listWebAuthnCredentials(ctx.args[0]!);
      ctx.out.data({ user: ctx.args[0], keys }, () => {
        if (keys.length === 0) ctx.out.line(`${ctx.args[0]} has no security keys or passkeys`);
        for (const k of keys)
          ctx.out.line(
            `${k.id}  ${k.status.padEnd(7)}  ${k.name}  (${k.transports.join(", ") || "no transports"}; ` +
              `${k.deviceType === "multiDevice" ? "passkey" : "single device"}; added ${when(k.createdAt)}; last used ${when(k.lastUsedAt)})`,
          );
      });
      return 0;
    },
  },
  {
    path: ["key", "rename"],
    summary: "rename one of a user's keys",
    args: [{ name: "USER" }, { name: "ID" }, { name: "NAME" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const [username, credentialId, name] = ctx.args as [string, string, string];
      const key = await services.renameWebAuthnCredential(ctx.actor, { username, credentialId, name });
      ctx.out.data(key, () => ctx.out.line(`renamed ${key.id} to ${key.name}`));
      return 0;
    },
  },
  {
    path: ["key", "remove"],
    summary: "remove one of a user's keys (lost, or suspect); the user is notified",
    args: [{ name: "USER" }, { name: "ID" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const [username, credentialId] = ctx.args as [string, string];
      await services.removeWebAuthnCredential(ctx.actor, { username, credentialId });
      ctx.out.data({ removed: credentialId }, () => ctx.out.line(`removed ${credentialId}`));
      return 0;
    },
  },
];
