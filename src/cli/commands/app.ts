// `twofold app …`: create applications (integration key, secret key, API host), list, rotate the secret, delete.
import {
  APPLICATION_TYPES,
  type ApplicationPolicy,
  AUTH_METHODS,
  type AuthMethod,
  MAX_REMEMBER_DAYS,
  NEW_USER_POLICIES,
  type NewUserPolicy,
} from "../../core/model.ts";
import type { Services } from "../../core/services.ts";
import { publicApplication } from "../../core/use-cases/applications.ts";
import { type Command, type CommandContext, UsageError } from "../command.ts";
import { shellWord } from "../command-line.ts";
import { isoTime } from "../output.ts";

/** The policy as `app show` and `app policy` print it; `(config)` marks fields the configuration file sets. */
function printPolicy(ctx: CommandContext, p: { effective: ApplicationPolicy; configured: string[] }): void {
  const mark = (field: string) => (p.configured.includes(field) ? " (set in the configuration file)" : "");
  const e = p.effective;
  ctx.out.line(`  methods:        ${e.methods.join(", ")}${mark("methods")}`);
  ctx.out.line(
    `  trust browsers: ${e.rememberDays === 0 ? "off" : `${e.rememberDays} day${e.rememberDays === 1 ? "" : "s"}`}${mark("rememberDays")}`,
  );
  ctx.out.line(`  new users:      ${e.newUserPolicy}${mark("newUserPolicy")}`);
  ctx.out.line(
    `  plain push:     ${e.allowPlainPush ? "allowed" : "refused (number matching only)"}${mark("allowPlainPush")}`,
  );
}

/** `--methods push,passcode-app`: each a known method, at least one. */
function parseMethods(value: string | undefined): AuthMethod[] | undefined {
  if (value === undefined) return undefined;
  const methods = value
    .split(",")
    .map((m) => m.trim())
    .filter((m) => m.length > 0);
  const unknown = methods.filter((m) => !(AUTH_METHODS as readonly string[]).includes(m));
  if (unknown.length > 0 || methods.length === 0)
    throw new UsageError(
      unknown.length > 0 ? `unknown method ${unknown.join(", ")}` : "--methods needs at least one method",
      `methods: ${AUTH_METHODS.join(", ")} (comma-separated)`,
    );
  return methods as AuthMethod[];
}

/** `--new-user deny|enroll|allow`. */
function parseNewUser(value: string | undefined): NewUserPolicy | undefined {
  if (value !== undefined && !(NEW_USER_POLICIES as readonly string[]).includes(value))
    throw new UsageError(
      `--new-user must be one of ${NEW_USER_POLICIES.join(", ")}, got ${JSON.stringify(value)}`,
    );
  return value as NewUserPolicy | undefined;
}

async function showPolicy(services: Services, id: string) {
  const { effective, stored, configured } = await services.describeApplicationPolicy(id);
  return { effective, stored, configured };
}

export const appCommands: Command[] = [
  {
    path: ["app", "create"],
    summary: "create an application: prints its integration key, secret key and API host",
    synopsis: "--name N --type T [--redirect-uri URL …]",
    options: {
      name: { type: "string", value: "N", description: "display name" },
      type: { type: "string", value: "T", description: APPLICATION_TYPES.join("|") },
      "redirect-uri": {
        type: "string",
        value: "URL",
        multiple: true,
        description: "web-sdk: a redirect URI the prompt may send browsers back to (exact match; repeatable)",
      },
      "allow-plain-push": {
        type: "boolean",
        description:
          "allow pushes without number matching (only for integrations with no screen, e.g. RADIUS)",
      },
      "refuse-undated-signatures": {
        type: "boolean",
        description: "refuse requests signed without a date (duo_unix up to 2.0.4, Debian's 1.11.3)",
      },
      "allow-enroll": {
        type: "boolean",
        description:
          "let this integration create users through the Auth API's /auth/v2/enroll (off by default)",
      },
      methods: {
        type: "string",
        value: "M,…",
        description: "the methods allowed (default: policy.applications.methods)",
      },
      "remember-days": {
        type: "string",
        value: "N",
        description: `days a trusted browser skips the second factor, 0 = off (default: policy.applications.rememberDays)`,
      },
      "new-user": {
        type: "string",
        value: "P",
        description: `${NEW_USER_POLICIES.join("|")} (default: policy.newUserPolicy)`,
      },
    },
    async run(ctx) {
      const name = ctx.string("name");
      const type = ctx.string("type");
      if (!name || !type)
        throw new UsageError(
          `missing ${!name ? "--name" : "--type"}`,
          `usage: twofold app create --name N --type ${APPLICATION_TYPES.join("|")}`,
        );
      if (!(APPLICATION_TYPES as readonly string[]).includes(type))
        throw new UsageError(
          `--type must be one of ${APPLICATION_TYPES.join(", ")}, got ${JSON.stringify(type)}`,
        );
      const methods = parseMethods(ctx.string("methods"));
      const rememberDays = ctx.integer("remember-days", 0, MAX_REMEMBER_DAYS);
      const newUser = parseNewUser(ctx.string("new-user"));
      const runtime = await ctx.runtime();
      const redirectURIs = ctx.strings("redirect-uri");
      const { application, secretKey } = await runtime.services.createApplication(ctx.actor, {
        name,
        type,
        ...(redirectURIs.length > 0 ? { redirectURIs } : {}),
        policy: {
          ...(methods ? { methods } : {}),
          ...(rememberDays !== undefined ? { rememberDays } : {}),
          ...(newUser ? { newUserPolicy: newUser } : {}),
          ...(ctx.flag("allow-plain-push") ? { allowPlainPush: true } : {}),
          ...(ctx.flag("refuse-undated-signatures") ? { refuseUndatedSignatures: true } : {}),
          ...(ctx.flag("allow-enroll") ? { allowEnrollment: true } : {}),
        },
      });
      const { apiHost } = await import("../../config/load.ts");
      // The secret key is shown here and by rotate-secret only: it is stored sealed.
      const shown = {
        integrationKey: application.id,
        secretKey: secretKey.reveal(),
        apiHost: apiHost(runtime.config),
        name: application.name,
        type: application.type,
        ...(application.redirectURIs ? { redirectURIs: application.redirectURIs } : {}),
      };
      ctx.out.data(shown, () => {
        ctx.out.line(`Created application ${shown.name} (${shown.type})`);
        ctx.out.line(`  integration key: ${shown.integrationKey}`);
        ctx.out.line(`  secret key:      ${shown.secretKey}`);
        ctx.out.line(`  API host:        ${shown.apiHost}`);
        for (const uri of shown.redirectURIs ?? []) ctx.out.line(`  redirect URI:    ${uri}`);
        ctx.out.line("Keep the secret key safe: it is not shown again (rotate-secret makes a new one).");
      });
      return 0;
    },
  },
  {
    path: ["app", "list"],
    summary: "list applications (never their secrets)",
    async run(ctx) {
      const { services } = await ctx.runtime();
      const apps = (await services.listApplications()).map(publicApplication);
      ctx.out.data(apps, () =>
        ctx.out.table(
          apps,
          [
            { header: "INTEGRATION KEY", value: (a) => a.id },
            { header: "NAME", value: (a) => a.name },
            { header: "TYPE", value: (a) => a.type },
            { header: "STATUS", value: (a) => a.status },
            { header: "CREATED", value: (a) => isoTime(a.createdAt) },
          ],
          "(no applications)",
        ),
      );
      return 0;
    },
  },
  {
    path: ["app", "update"],
    summary: "rename an application or change its settings",
    args: [{ name: "ID" }],
    synopsis:
      "[--name N] [--redirect-uri URL …|--no-redirect-uris] [--refuse-undated-signatures|--accept-undated-signatures]",
    options: {
      name: { type: "string", value: "N", description: "new display name" },
      "redirect-uri": {
        type: "string",
        value: "URL",
        multiple: true,
        description: "web-sdk: replace the registered redirect URIs with these (repeatable)",
      },
      "no-redirect-uris": { type: "boolean", description: "web-sdk: remove every registered redirect URI" },
      "refuse-undated-signatures": {
        type: "boolean",
        description: "refuse requests signed without a date (a captured one could be sent again any time)",
      },
      "accept-undated-signatures": {
        type: "boolean",
        description: "accept them again (the default: duo_unix up to 2.0.4 cannot sign otherwise)",
      },
    },
    async run(ctx) {
      const refuse = ctx.flag("refuse-undated-signatures");
      const accept = ctx.flag("accept-undated-signatures");
      if (refuse && accept)
        throw new UsageError(
          "--refuse-undated-signatures and --accept-undated-signatures contradict each other",
        );
      const name = ctx.string("name");
      const uris = ctx.strings("redirect-uri");
      const clearURIs = ctx.flag("no-redirect-uris");
      if (clearURIs && uris.length > 0)
        throw new UsageError("--redirect-uri and --no-redirect-uris contradict each other");
      const redirectURIs = clearURIs ? [] : uris.length > 0 ? uris : undefined;
      if (name === undefined && !refuse && !accept && redirectURIs === undefined)
        throw new UsageError(
          "nothing to change",
          "give --name, --redirect-uri, --no-redirect-uris, --refuse-undated-signatures or --accept-undated-signatures",
        );
      const { services } = await ctx.runtime();
      const updated = publicApplication(
        await services.updateApplication(ctx.actor, ctx.args[0]!, {
          ...(name !== undefined ? { name } : {}),
          ...(redirectURIs !== undefined ? { redirectURIs } : {}),
          ...(refuse || accept ? { policy: { refuseUndatedSignatures: refuse } } : {}),
        }),
      );
      ctx.out.data(updated, () => {
        ctx.out.line(`Updated application ${updated.name} (${updated.type}, ${updated.id})`);
        ctx.out.line(
          `  undated signatures: ${updated.policy.refuseUndatedSignatures === true ? "refused" : "accepted"}`,
        );
        for (const uri of updated.redirectURIs ?? []) ctx.out.line(`  redirect URI: ${uri}`);
      });
      return 0;
    },
  },
  {
    path: ["app", "show"],
    summary: "show an application: type, status and its policy (methods, trusted browsers, new users, push)",
    args: [{ name: "ID" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const app = publicApplication(await services.requireApplication(ctx.args[0]!));
      const policy = await showPolicy(services, app.id);
      ctx.out.data(
        { ...app, policy: policy.effective, storedPolicy: policy.stored, configured: policy.configured },
        () => {
          ctx.out.line(`${app.name} (${app.id})`);
          ctx.out.line(`  type:           ${app.type}`);
          ctx.out.line(`  status:         ${app.status}`);
          ctx.out.line(`  created:        ${isoTime(app.createdAt)}`);
          printPolicy(ctx, policy);
          ctx.out.line(
            `  undated signatures: ${app.policy.refuseUndatedSignatures === true ? "refused" : "accepted"}`,
          );
          ctx.out.line(`  Auth API enrolment: ${app.policy.allowEnrollment === true ? "allowed" : "off"}`);
        },
      );
      return 0;
    },
  },
  {
    path: ["app", "policy"],
    summary: "show or change an application's policy: methods, trusted-browser days, new users, plain push",
    args: [{ name: "ID" }],
    synopsis: "[--methods M,…] [--remember-days N] [--new-user deny|enroll|allow] [--plain-push on|off]",
    details:
      `Methods: ${AUTH_METHODS.join(", ")}. A login with a method left out is denied (factor_not_allowed).\n` +
      `--remember-days: how long "Yes, trust this browser" skips the second factor, 0 (off) to ${MAX_REMEMBER_DAYS}.\n` +
      "--new-user: what a user with no second factor gets: deny, enroll (in the prompt) or allow (logged);\n" +
      "enroll and allow only for users who never had a second factor (twofold user reset-enrollment).\n" +
      "Fields set in the configuration file (policy.applications.overrides) are changed there, not here.",
    options: {
      methods: { type: "string", value: "M,…", description: "the methods allowed (comma-separated)" },
      "remember-days": {
        type: "string",
        value: "N",
        description: `days a trusted browser skips the second factor, 0 = off (max ${MAX_REMEMBER_DAYS})`,
      },
      "new-user": { type: "string", value: "P", description: NEW_USER_POLICIES.join("|") },
      "plain-push": { type: "string", value: "on|off", description: "pushes without number matching" },
    },
    async run(ctx) {
      const methods = parseMethods(ctx.string("methods"));
      const rememberDays = ctx.integer("remember-days", 0, MAX_REMEMBER_DAYS);
      const newUser = parseNewUser(ctx.string("new-user"));
      const plainPush = ctx.string("plain-push");
      if (plainPush !== undefined && plainPush !== "on" && plainPush !== "off")
        throw new UsageError(`--plain-push must be on or off, got ${JSON.stringify(plainPush)}`);
      const patch: Partial<ApplicationPolicy> = {
        ...(methods ? { methods } : {}),
        ...(rememberDays !== undefined ? { rememberDays } : {}),
        ...(newUser !== undefined ? { newUserPolicy: newUser } : {}),
        ...(plainPush !== undefined ? { allowPlainPush: plainPush === "on" } : {}),
      };
      const { services } = await ctx.runtime();
      const changed = Object.keys(patch).length > 0;
      if (changed) await services.updateApplication(ctx.actor, ctx.args[0]!, { policy: patch });
      const app = await services.requireApplication(ctx.args[0]!);
      const policy = await showPolicy(services, app.id);
      ctx.out.data(
        { integrationKey: app.id, policy: policy.effective, configured: policy.configured },
        () => {
          ctx.out.line(`${changed ? "Updated policy of" : "Policy of"} ${app.name} (${app.id})`);
          printPolicy(ctx, policy);
        },
      );
      return 0;
    },
  },
  {
    path: ["app", "rotate-secret"],
    summary: "replace an application's secret key (prints the new one once)",
    args: [{ name: "ID" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const secret = await services.rotateApplicationSecret(ctx.actor, ctx.args[0]!);
      ctx.out.data({ integrationKey: ctx.args[0], secretKey: secret.reveal() }, () => {
        ctx.out.line(`new secret key for ${ctx.args[0]}: ${secret.reveal()}`);
        ctx.out.line("The old secret no longer works; update the application's configuration.");
      });
      return 0;
    },
  },
  ...(["disable", "enable"] as const).map(
    (verb): Command => ({
      path: ["app", verb],
      summary:
        verb === "disable"
          ? "disable an application: its requests are refused and its logins under way are denied"
          : "enable a disabled application again",
      args: [{ name: "ID" }],
      async run(ctx) {
        const { services } = await ctx.runtime();
        const app = await services.setApplicationStatus(
          ctx.actor,
          ctx.args[0]!,
          verb === "disable" ? "disabled" : "active",
        );
        ctx.out.data({ integrationKey: app.id, status: app.status }, () =>
          ctx.out.line(`application ${app.id} (${app.name}) is now ${app.status}`),
        );
        return 0;
      },
    }),
  ),
  {
    path: ["app", "delete"],
    summary: "delete an application",
    args: [{ name: "ID" }],
    synopsis: "--yes",
    options: { yes: { type: "boolean", description: "confirm the deletion" } },
    async run(ctx) {
      if (!ctx.flag("yes"))
        throw new UsageError(
          "deleting an application stops every login through it",
          `run \`${ctx.commandLine(`app delete ${shellWord(ctx.args[0]!)} --yes`)}\` to confirm`,
        );
      const { services } = await ctx.runtime();
      await services.deleteApplication(ctx.actor, ctx.args[0]!);
      ctx.out.data({ deleted: ctx.args[0] }, () => ctx.out.line(`deleted application ${ctx.args[0]}`));
      return 0;
    },
  },
];
