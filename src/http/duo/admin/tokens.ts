// Admin API hardware tokens (duo-compat §5.4): list, find by serial, import one, read, delete, resync.
import { Type as T } from "@sinclair/typebox";
import { TwofoldError } from "../../../core/errors.ts";
import type { ServiceRuntime } from "../../../runtime/runtime.ts";
import { strict, Text } from "../signed-routes.ts";
import {
  type AdminRoute,
  AnyObject,
  actorOf,
  Empty,
  invalid,
  LIST_PAGE,
  Paging,
  Path,
  pageMetadata,
  pageOf,
  pathOf,
  refuseUnsupported,
  Whole,
} from "./admin-route.ts";
import { createFinders, tokenType } from "./objects.ts";

export function registerTokenRoutes(admin: AdminRoute, runtime: ServiceRuntime): void {
  const { services } = runtime;
  const { tokenById, tokenWithUsers } = createFinders(services);

  admin(
    "GET",
    "/admin/v1/tokens",
    T.Object({ type: Text(8), serial: Text(128), ...Paging }, strict),
    T.Array(AnyObject),
    async ({ params }) => {
      if ((params.type === undefined) !== (params.serial === undefined))
        throw invalid("type and serial (both)");
      if (params.serial !== undefined) {
        const token = await services.findTokenBySerial(params.serial);
        const found =
          token?.kind === "token" && tokenType(token) === params.type ? [await tokenWithUsers(token)] : [];
        return {
          response: found,
          metadata: { total_objects: found.length, next_offset: null, prev_offset: null },
        };
      }
      const page = pageOf(params, LIST_PAGE);
      const { credentials, total } = await services.listOTPCredentials({ kind: "token", ...page });
      const objects = await Promise.all(credentials.map(tokenWithUsers));
      return { response: objects, metadata: pageMetadata(page, credentials.length, total) };
    },
  );

  admin(
    "POST",
    "/admin/v1/tokens",
    T.Object(
      {
        type: T.String({ maxLength: 8 }),
        serial: T.String({ minLength: 1, maxLength: 128 }),
        secret: Text(256),
        counter: Whole(15),
        totp_step: Whole(3),
        private_id: Text(64),
        aes_key: Text(64),
      },
      strict,
    ),
    AnyObject,
    async (call) => {
      const { params } = call;
      const kind = /^([ht])([68])$/.exec(params.type);
      if (!kind) {
        if (params.type === "yk" || params.type === "d1")
          throw invalid(`type (${params.type} tokens are not supported; use h6, h8, t6 or t8)`);
        throw invalid("type (h6, h8, t6 or t8)");
      }
      refuseUnsupported(params, ["private_id", "aes_key"]);
      const hotp = kind[1] === "h";
      if (hotp && params.totp_step !== undefined) throw invalid("totp_step (TOTP tokens only)");
      if (!hotp && params.counter !== undefined) throw invalid("counter (HOTP tokens only)");
      // Duo takes the secret as hex (RFC 4226 seeds are bytes).
      if (params.secret === undefined || !/^(?:[0-9a-fA-F]{2})+$/.test(params.secret))
        throw invalid("secret (hex)");
      const token = await services.createToken(
        actorOf(call),
        {
          serial: params.serial,
          type: hotp ? "hotp" : "totp",
          digits: kind[2] === "6" ? 6 : 8,
          secret: new Uint8Array(Buffer.from(params.secret, "hex")),
          ...(params.counter !== undefined ? { counter: Number(params.counter) } : {}),
          ...(params.totp_step !== undefined ? { period: Number(params.totp_step) } : {}),
        },
        { period: "totp_step" },
      );
      return { response: await tokenWithUsers(await tokenById(token.id)) };
    },
  );

  admin(
    "GET",
    "/admin/v1/tokens/:token_id",
    T.Object({}, strict),
    AnyObject,
    async (call) => ({ response: await tokenWithUsers(await tokenById(pathOf(call).token_id!)) }),
    Path("token_id"),
  );

  // Deleting a token that is already gone does nothing, as duo_client_python documents.
  admin(
    "DELETE",
    "/admin/v1/tokens/:token_id",
    T.Object({}, strict),
    Empty,
    async (call) => {
      const token = await services.getOTPCredential(pathOf(call).token_id!);
      if (token?.kind === "token") await services.deleteToken(actorOf(call), token.id);
      return { response: "" };
    },
    Path("token_id"),
  );

  const Code = T.String({ pattern: "^[0-9]{6,8}$" });
  admin(
    "POST",
    "/admin/v1/tokens/:token_id/resync",
    T.Object({ code1: Code, code2: Code, code3: Code }, strict),
    Empty,
    async (call) => {
      const token = await tokenById(pathOf(call).token_id!);
      const { code1, code2, code3 } = call.params;
      try {
        await services.resyncToken(actorOf(call), token.serial!, code1, code2, code3);
      } catch (error) {
        if (error instanceof TwofoldError && error.code === "ERR_TOKEN_RESYNC_FAILED")
          throw invalid("code1, code2, code3 (not three consecutive codes of this token)", error.code);
        throw error;
      }
      return { response: "" };
    },
    Path("token_id"),
  );
}
