// The Duo-compatible Admin API (duo-compat §5): users, phones, hardware tokens, bypass codes, authentication logs, integrations and trusted browsers.
import type { FastifyInstance } from "fastify";
import type { ServiceRuntime } from "../../../runtime/runtime.ts";
import { registerDuoScope } from "../signed-routes.ts";
import { adminRoutes } from "./admin-route.ts";
import { registerBypassCodeRoutes } from "./bypass-codes.ts";
import { registerIntegrationRoutes } from "./integrations.ts";
import { registerLogRoutes } from "./logs.ts";
import { registerPhoneRoutes } from "./phones.ts";
import { registerSmsRoutes } from "./sms.ts";
import { registerTokenRoutes } from "./tokens.ts";
import { registerUserFactorRoutes } from "./user-factors.ts";
import { registerUserRoutes } from "./users.ts";

export function registerAdminAPIRoutes(app: FastifyInstance, runtime: ServiceRuntime): void {
  registerDuoScope(app, runtime, (route) => {
    const admin = adminRoutes(route);
    registerUserRoutes(admin, runtime);
    registerUserFactorRoutes(admin, runtime);
    registerBypassCodeRoutes(admin, runtime);
    registerPhoneRoutes(admin, runtime);
    registerTokenRoutes(admin, runtime);
    registerLogRoutes(admin, runtime);
    registerIntegrationRoutes(admin, runtime);
    registerSmsRoutes(admin, runtime);
  });
}
