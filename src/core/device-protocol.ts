// The texts a Twofold Authenticator signs (docs/authenticator-protocol.md), shared by the server, the CLI device client and the web app.
// It imports nothing, so the browser bundle, the CLI and the core all use this one definition.

/** The lines a signed device request covers ("Signed device requests"); bodyHash is base64url SHA-256 of the body. */
export function deviceRequestText(
  method: string,
  pathAndQuery: string,
  timestamp: number,
  bodyHash: string,
): string {
  return ["twofold-device-request/1", method.toUpperCase(), pathAndQuery, String(timestamp), bodyHash].join(
    "\n",
  );
}

/** The lines a push answer covers ("Answering a push"): fixed fields, one per line, so none bleeds into another (D3). */
export function pushAnswerText(
  txid: string,
  decision: string,
  code: string | undefined | null,
  timestamp: number,
): string {
  return ["twofold-push-answer/1", txid, decision, code ?? "", String(timestamp)].join("\n");
}
