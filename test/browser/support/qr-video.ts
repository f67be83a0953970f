// A camera recording for Chromium's fake capture device: a QR code drawn into YUV4MPEG2 (Y4M) 4:2:0 frames.
import { writeFileSync } from "node:fs";
import QRCode from "qrcode";

/** Studio-swing luma, as 8-bit video uses it. */
const BLACK = 16;
const WHITE = 235;
const QUIET_ZONE = 4;

/**
 * Write `frames` identical frames of `text` as a QR code (ISO/IEC 18004, the 4-module quiet zone included),
 * centred on white. Chromium plays the file in a loop.
 */
export function writeQRCodeVideo(
  path: string,
  text: string,
  options: { width?: number; height?: number; frames?: number } = {},
): void {
  const { width = 640, height = 480, frames = 2 } = options;
  const { modules } = QRCode.create(text, { errorCorrectionLevel: "M" });
  const total = modules.size + 2 * QUIET_ZONE;
  const scale = Math.floor((Math.min(width, height) * 0.9) / total);
  if (scale < 2) throw new Error(`QR code with ${modules.size} modules does not fit ${width}x${height}`);
  const left = Math.floor((width - total * scale) / 2) + QUIET_ZONE * scale;
  const top = Math.floor((height - total * scale) / 2) + QUIET_ZONE * scale;

  const luma = Buffer.alloc(width * height, WHITE);
  for (let row = 0; row < modules.size; row++) {
    for (let col = 0; col < modules.size; col++) {
      if (!modules.get(row, col)) continue;
      for (let y = 0; y < scale; y++) {
        const start = (top + row * scale + y) * width + left + col * scale;
        luma.fill(BLACK, start, start + scale);
      }
    }
  }
  // Grey: both chroma planes at the midpoint, each a quarter of the luma plane (4:2:0).
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from("FRAME\n"), luma, chroma]);
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`);
  writeFileSync(path, Buffer.concat([header, ...Array.from({ length: frames }, () => frame)]));
}
