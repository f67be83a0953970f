// Types for the parts of Duo's official Node clients the tests drive (the packages ship none).
declare module "@duosecurity/duo_api" {
  /** A parsed Duo envelope (duo-compat §2.1). */
  export interface Reply {
    stat: "OK" | "FAIL" | "ERROR";
    response?: unknown;
    code?: number;
    message?: string;
    message_detail?: string;
    metadata?: Record<string, unknown>;
  }
  type Callback = (reply: Reply) => void;
  class Client {
    constructor(ikey: string, skey: string, host: string, sigVersion?: 2 | 5);
    jsonApiCall(method: string, path: string, params: Record<string, unknown>, callback: Callback): void;
    /** The raw body, decoded as UTF-8. */
    apiCall(
      method: string,
      path: string,
      params: Record<string, unknown>,
      callback: (body: string) => void,
    ): void;
  }
  const duo: { Client: typeof Client };
  export default duo;
}

declare module "@duosecurity/duo_api/lib/constants.js" {
  const constants: { DUO_PINNED_CERT: string | string[] };
  export default constants;
}

declare module "@duosecurity/duo_api/lib/duo_sig.js" {
  export function sign(
    ikey: string,
    skey: string,
    method: string,
    host: string,
    path: string,
    params: Record<string, unknown>,
    date: string,
  ): string;
  export function signV5(
    ikey: string,
    skey: string,
    method: string,
    host: string,
    path: string,
    params: Record<string, unknown>,
    date: string,
    body: string,
  ): string;
  /** The client's canonical params line (sorted, percent-encoded). */
  export function _canonParams(params: Record<string, unknown>): string;
}

declare module "@duosecurity/duo_web" {
  /** `TX|…:APP|…`, or an `ERR|…` string for bad arguments. */
  export function sign_request(ikey: string, skey: string, akey: string, username: string): string;
  /** The username when `sig_response` (AUTH|…:APP|…) verifies, else null. */
  export function verify_response(
    ikey: string,
    skey: string,
    akey: string,
    sigResponse: string,
  ): string | null;
}
