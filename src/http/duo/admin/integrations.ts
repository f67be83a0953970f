// Admin API integrations (applications) with their policy, in Duo's field names where Duo has one; users' trusted browsers.
import { Type as T } from "@sinclair/typebox";
import {
  APPLICATION_TYPES,
  type Application,
  type ApplicationPolicy,
  type ApplicationType,
  AUTH_METHODS,
  type AuthMethod,
  MAX_REMEMBER_DAYS,
  NEW_USER_POLICIES,
  type NewUserPolicy,
} from "../../../core/model.ts";
import type { TrustedBrowserSummary } from "../../../core/use-cases/trusted-browsers.ts";
import type { ServiceRuntime } from "../../../runtime/runtime.ts";
import { strict, Text } from "../signed-routes.ts";
import {
  type AdminRoute,
  AnyObject,
  actorOf,
  Empty,
  invalid,
  notFound,
  Paging,
  Path,
  pageOfList,
  pathOf,
  seconds,
} from "./admin-route.ts";
import { createFinders } from "./objects.ts";

/** Duo's integration type names (duo_client's `type`), and back. */
const DUO_TYPES: Record<ApplicationType, string> = {
  "auth-api": "authapi",
  "admin-api": "adminapi",
  "web-sdk": "websdk",
  unix: "unix",
  radius: "radius",
  oidc: "oidc",
};
const TYPE_OF = new Map(Object.entries(DUO_TYPES).map(([k, v]) => [v, k as ApplicationType]));

/**
 * The policy parameters. Duo's own: `enroll_policy` (deny | enroll | allow) and `trusted_device_days`; Twofold's:
 * `methods` (comma-separated) and `plain_push` ("1"/"0").
 */
const PolicyFields = {
  enroll_policy: T.Optional(T.Union(NEW_USER_POLICIES.map((p) => T.Literal(p)))),
  trusted_device_days: T.Optional(T.String({ pattern: "^[0-9]{1,3}$" })),
  methods: Text(200),
  plain_push: T.Optional(T.Union([T.Literal("0"), T.Literal("1")])),
};
type PolicyParams = {
  enroll_policy?: NewUserPolicy;
  trusted_device_days?: string;
  methods?: string;
  plain_push?: "0" | "1";
};

function policyFrom(params: PolicyParams): Partial<ApplicationPolicy> {
  const patch: Partial<ApplicationPolicy> = {};
  if (params.enroll_policy !== undefined) patch.newUserPolicy = params.enroll_policy;
  if (params.trusted_device_days !== undefined) {
    const days = Number(params.trusted_device_days);
    if (days > MAX_REMEMBER_DAYS) throw invalid(`trusted_device_days (0 to ${MAX_REMEMBER_DAYS})`);
    patch.rememberDays = days;
  }
  if (params.methods !== undefined) {
    const methods = params.methods
      .split(",")
      .map((m) => m.trim())
      .filter((m) => m !== "");
    if (methods.length === 0 || methods.some((m) => !(AUTH_METHODS as readonly string[]).includes(m)))
      throw invalid(`methods (comma-separated: ${AUTH_METHODS.join(", ")})`);
    patch.methods = methods as AuthMethod[];
  }
  if (params.plain_push !== undefined) patch.allowPlainPush = params.plain_push === "1";
  return patch;
}

export function registerIntegrationRoutes(admin: AdminRoute, runtime: ServiceRuntime): void {
  const { services } = runtime;
  const { userById } = createFinders(services);

  async function integrationObject(app: Application): Promise<Record<string, unknown>> {
    const { effective, configured } = await services.describeApplicationPolicy(app.id);
    return {
      integration_key: app.id,
      name: app.name,
      type: DUO_TYPES[app.type],
      status: app.status,
      enroll_policy: effective.newUserPolicy,
      trusted_device_days: effective.rememberDays,
      methods: effective.methods,
      plain_push: effective.allowPlainPush ? 1 : 0,
      // Fields the server's configuration file sets: changing them here is refused.
      policy_set_in_configuration: configured,
    };
  }

  async function integrationById(id: string): Promise<Application> {
    const app = await services.getApplication(id);
    if (!app) throw notFound();
    return app;
  }

  admin("GET", "/admin/v1/integrations", T.Object(Paging, strict), T.Array(AnyObject), async ({ params }) => {
    const { slice, metadata } = pageOfList(await services.listApplications(), params);
    return { response: await Promise.all(slice.map(integrationObject)), metadata };
  });

  admin(
    "POST",
    "/admin/v1/integrations",
    T.Object({ name: Text(100), type: Text(20), ...PolicyFields }, strict),
    AnyObject,
    async (call) => {
      const { params } = call;
      if (params.name === undefined) throw invalid("name");
      const type = params.type === undefined ? undefined : TYPE_OF.get(params.type);
      if (!type || !APPLICATION_TYPES.includes(type))
        throw invalid(`type (${Object.values(DUO_TYPES).join(", ")})`);
      const { application, secretKey } = await services.createApplication(actorOf(call), {
        name: params.name,
        type,
        policy: policyFrom(params),
      });
      // The secret key is in this answer only: it is stored sealed (as `twofold app create` shows it once).
      return { response: { ...(await integrationObject(application)), secret_key: secretKey.reveal() } };
    },
  );

  admin(
    "GET",
    "/admin/v1/integrations/:integration_key",
    T.Object({}, strict),
    AnyObject,
    async (call) => ({
      response: await integrationObject(await integrationById(pathOf(call).integration_key!)),
    }),
    Path("integration_key"),
  );

  // Modify the name or the policy; every other field (the key, the secret, the type) is refused (K4).
  admin(
    "POST",
    "/admin/v1/integrations/:integration_key",
    T.Object({ name: Text(100), ...PolicyFields }, strict),
    AnyObject,
    async (call) => {
      const app = await integrationById(pathOf(call).integration_key!);
      const policy = policyFrom(call.params);
      const updated = await services.updateApplication(actorOf(call), app.id, {
        ...(call.params.name !== undefined ? { name: call.params.name } : {}),
        ...(Object.keys(policy).length > 0 ? { policy } : {}),
      });
      return { response: await integrationObject(updated) };
    },
    Path("integration_key"),
  );

  admin(
    "DELETE",
    "/admin/v1/integrations/:integration_key",
    T.Object({}, strict),
    Empty,
    async (call) => {
      const app = await services.getApplication(pathOf(call).integration_key!);
      // An integration may not delete the key it signs with: it would lock the administrator out.
      if (app?.id === call.application.id)
        throw invalid("integration_key (the integration making this call)");
      if (app) await services.deleteApplication(actorOf(call), app.id);
      return { response: "" };
    },
    Path("integration_key"),
  );

  const browserObject = (b: TrustedBrowserSummary) => ({
    trusted_browser_id: b.id,
    integration_key: b.applicationId,
    application: b.application,
    browser: b.browser,
    ip: b.ip,
    created: seconds(b.createdAt),
    expires: seconds(b.expiresAt),
    last_used: b.lastUsedAt === null ? null : seconds(b.lastUsedAt),
    status: b.status,
    revoked_reason: b.revokedReason,
  });

  admin(
    "GET",
    "/admin/v1/users/:user_id/trusted_browsers",
    T.Object(Paging, strict),
    T.Array(AnyObject),
    async (call) => {
      const user = await userById(pathOf(call).user_id!);
      const { slice, metadata } = pageOfList(await services.listTrustedBrowsers(user.id), call.params);
      return { response: slice.map(browserObject), metadata };
    },
    Path("user_id"),
  );

  admin(
    "DELETE",
    "/admin/v1/users/:user_id/trusted_browsers",
    T.Object({}, strict),
    AnyObject,
    async (call) => {
      const user = await userById(pathOf(call).user_id!);
      return { response: { revoked: await services.revokeAllTrustedBrowsers(actorOf(call), user.id) } };
    },
    Path("user_id"),
  );

  admin(
    "DELETE",
    "/admin/v1/users/:user_id/trusted_browsers/:trusted_browser_id",
    T.Object({}, strict),
    Empty,
    async (call) => {
      const user = await userById(pathOf(call).user_id!);
      await services.revokeTrustedBrowser(actorOf(call), user.id, pathOf(call).trusted_browser_id!);
      return { response: "" };
    },
    Path("user_id", "trusted_browser_id"),
  );
}
