// What a client is told about a failure: the shape both the generic error handler and the Duo envelope speak.
import type { ErrorCode, ErrorIssue } from "../core/errors.ts";

export interface ErrorBody {
  error: { code: ErrorCode; message: string; issues?: ErrorIssue[] };
}

/** An error turned into an answer (by describeError in errors.ts), before it is framed for the path it answers. */
export interface ErrorReply {
  status: number;
  body: ErrorBody;
  /** The code to log (may be more specific than the one sent, for 5xx). */
  logCode: string;
  /** Whether this is our fault: logged at error level with the detail. */
  internal: boolean;
}

/** What a refusal's detail says: its first three issues (`field: problem`), else its message. */
export function issueSummary(described: ErrorReply): string {
  const issues = described.body.error.issues ?? [];
  const detail = issues
    .slice(0, 3)
    .map((i) => `${i.path.replace(/^(body|query|params)\.?/, "") || "request"}: ${i.message}`)
    .join("; ");
  return detail || described.body.error.message;
}
