// QR codes drawn with text characters, for the links and otpauth:// URIs that commands print.

/** `text` as a QR code for a terminal, without the trailing newline. */
export async function renderTerminalQRCode(text: string): Promise<string> {
  // Loaded on use: only the commands that draw a code pay for loading the library.
  const { default: QRCode } = await import("qrcode");
  return (await QRCode.toString(text, { type: "terminal", small: true })).trimEnd();
}
