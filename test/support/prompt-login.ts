// A prompt login started as Duo's Node SDK starts one: authorize with a request JWT signed by the client's secret.
import assert from "node:assert/strict";
import { randomHex } from "../../src/core/crypto/index.ts";
import { signHS512 } from "../../src/core/crypto/jwt.ts";
import type { Services } from "../../src/core/services.ts";

export interface PromptClient {
  /** The Web SDK application's client id and secret (as createApplication reveals it). */
  id: string;
  secret: string;
  /** One of the application's registered redirect URIs. */
  redirect: string;
  /** The audience the request JWT names (the server's public origin). */
  audience: string;
}

/** The prompt handle of a new login for `username` at `client`, signed at `nowMs` (the test's clock). */
export async function startPromptLogin(
  services: Pick<Services, "startOIDCLogin">,
  client: PromptClient,
  username: string,
  nowMs: number,
  ip = "192.0.2.9",
): Promise<string> {
  const seconds = nowMs / 1000;
  const request = signHS512(
    {
      response_type: "code",
      scope: "openid",
      exp: seconds + 300,
      client_id: client.id,
      redirect_uri: client.redirect,
      state: randomHex(18),
      duo_uname: username,
      iss: client.id,
      aud: client.audience,
    },
    new Uint8Array(Buffer.from(client.secret, "utf8")),
  );
  const r = await services.startOIDCLogin({
    params: {
      response_type: "code",
      client_id: client.id,
      request,
      redirect_uri: client.redirect,
      scope: "openid",
    },
    audiences: [client.audience],
    ip,
  });
  assert.ok(r.ok, JSON.stringify(r));
  return r.handle;
}
