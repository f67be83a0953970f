// The activation QR code, enhanced: the page moves on by itself within a second of the phone activating the app
// (server-sent events; a 3 s poll if they fail), until the code stops working. Without it the page still works:
// the user chooses "Activated: continue".

interface Status {
  activated: boolean;
}

function start(section: HTMLElement): void {
  const data = section.dataset;
  // Server and browser clocks may differ: count from the server's "now" as the page was made.
  const skew = Date.now() - Number(data["now"]);
  const stopAt = Number(data["expiresAt"]) + skew;
  const live = section.querySelector<HTMLElement>("[data-live]");
  const entry = section.querySelector<HTMLElement>("[data-enroll-continue]");
  let done = false;
  let events: EventSource | undefined;
  let polling: ReturnType<typeof setInterval> | undefined;

  const stop = () => {
    done = true;
    events?.close();
    if (polling !== undefined) clearInterval(polling);
  };
  const moveOn = () => {
    if (done) return;
    stop();
    if (live) live.textContent = data["activated"] ?? "";
    const form = entry?.querySelector("form");
    const link = entry?.querySelector<HTMLAnchorElement>("a[href]");
    if (form) form.requestSubmit();
    else if (link) window.location.assign(link.href);
  };
  // The user chose something else (Show a new code, Not you?): that navigation wins.
  document.addEventListener("submit", stop);
  // The code works for 10 minutes: after that nothing can activate it, and the page stops asking.
  setTimeout(stop, Math.max(0, stopAt - Date.now()));

  const poll = () => {
    if (polling !== undefined || done) return;
    polling = setInterval(async () => {
      if (done) return;
      try {
        const response = await fetch(data["status"] ?? "", {
          headers: { accept: "application/json" },
          cache: "no-store",
        });
        // The login is over: its page says so on the next navigation; nothing to wait for here.
        if (response.status === 404 || response.status === 410) return stop();
        if (!response.ok) return;
        if (((await response.json()) as Status).activated) moveOn();
      } catch {
        // Offline for a moment: the next poll tries again.
      }
    }, 3000);
  };
  if (typeof EventSource === "function" && data["events"]) {
    events = new EventSource(data["events"]);
    events.addEventListener("activated", moveOn);
    events.addEventListener("error", () => {
      if (events?.readyState === EventSource.CLOSED) poll();
    });
  } else poll();
}

for (const section of document.querySelectorAll<HTMLElement>('[data-behaviour="enroll-wait"]'))
  start(section);

export {};
