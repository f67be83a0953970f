// The QR code library, loaded when a page or an activation first draws a code rather than when the server starts.
import type QRCode from "qrcode";

let loading: Promise<typeof QRCode> | undefined;

export function loadQRCode(): Promise<typeof QRCode> {
  loading ??= import("qrcode").then((m) => m.default);
  return loading;
}
