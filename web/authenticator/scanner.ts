// Reading the activation QR code from the camera: BarcodeDetector where the browser has it, jsQR otherwise.
const SCAN_INTERVAL_MS = 150;
/** Frames are scaled down to this width before jsQR reads them: plenty for a QR code filling the view. */
const MAX_DECODE_WIDTH = 640;

/**
 * Open the camera into `video` and resolve with the text of the first QR code for which `accept(text)` is
 * true. Rejects when the camera cannot be opened or `signal` aborts. The camera is always released.
 */
/** The parts of the Barcode Detection API used here (not yet in TypeScript's DOM library). */
interface BarcodeDetectorLike {
  detect(source: CanvasImageSource): Promise<{ rawValue: string }[]>;
}
interface BarcodeDetectorClass {
  new (options: { formats: string[] }): BarcodeDetectorLike;
  getSupportedFormats(): Promise<string[]>;
}
type JsQR = (
  data: Uint8ClampedArray,
  width: number,
  height: number,
  options: { inversionAttempts: string },
) => { data: string } | null;
type Decoder = (video: HTMLVideoElement) => Promise<string | null>;
/** The decoder's URL: served by the app's route, outside this bundle (it is large and seldom needed). */
const JSQR_URL = "/authenticator/vendor/jsqr.js";

export async function scanQRCode({
  video,
  signal,
  accept,
}: {
  video: HTMLVideoElement;
  signal: AbortSignal;
  accept: (text: string) => boolean;
}): Promise<string> {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: "environment" } },
    audio: false,
  });
  try {
    video.srcObject = stream;
    await video.play();
    const decode = await createDecoder();
    while (!signal.aborted) {
      const text = video.readyState >= 2 ? await decode(video) : null;
      if (text !== null && accept(text)) return text;
      await wait(SCAN_INTERVAL_MS, signal);
    }
    throw new DOMException("scanning stopped", "AbortError");
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  }
}

async function createDecoder(): Promise<Decoder> {
  const Detector = (self as { BarcodeDetector?: BarcodeDetectorClass }).BarcodeDetector;
  if (Detector) {
    try {
      const formats = await Detector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const detector = new Detector({ formats: ["qr_code"] });
        return async (video) => {
          const codes = await detector.detect(video);
          return codes[0]?.rawValue ?? null;
        };
      }
    } catch {
      // Fall through to jsQR.
    }
  }
  // jsQR is a UMD bundle: loaded as a module it sets self.jsQR.
  await import(JSQR_URL);
  const jsQR = (self as unknown as { jsQR: JsQR }).jsQR;
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (!context) throw new Error("no 2D canvas");
  return async (video) => {
    const scale = Math.min(1, MAX_DECODE_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    if (canvas.width === 0 || canvas.height === 0) return null;
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const code = jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
    return code?.data ?? null;
  };
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
