// Push waiting, enhanced: the countdown ticks, "Send again" appears after 15 s, and the page moves on within a second of
// the answer (server-sent events; a 3 s poll if they fail). Without it the page still works: Continue waits server-side.
// In the iframe SDK's frame it also sends the first push, once the page is shown (the no-script button does otherwise).

interface Outcome {
  outcome: string;
}

function start(section: HTMLElement): void {
  const data = section.dataset;
  const expiresAt = Number(data["expiresAt"]);
  const sendAgainAt = Number(data["sendAgainAt"]);
  // Server and browser clocks may differ: count from the server's "now" as the page was made.
  const skew = Date.now() - Number(data["now"]);
  const serverNow = () => Date.now() - skew;
  const countdown = section.querySelector<HTMLElement>("[data-countdown]");
  const live = section.querySelector<HTMLElement>("[data-live]");
  const sendAgain = section.querySelector<HTMLElement>("[data-send-again]");
  const noNotification = section.querySelector<HTMLElement>("[data-no-notification]");
  const continueForm = section.querySelector<HTMLFormElement>("form[data-continue]");
  let announcedSoon = false;
  let done = false;

  const format = (ms: number) => {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };
  const reveal = () => {
    const late = serverNow() >= sendAgainAt;
    if (sendAgain) sendAgain.hidden = !late;
    if (noNotification) noNotification.hidden = !late;
  };
  const finish = (outcome: string) => {
    if (done) return;
    done = true;
    if (outcome === "approved") {
      if (live) live.textContent = data["approved"] ?? "";
      continueForm?.requestSubmit();
    } else {
      // The page says how the push ended, with its way forward (its heading gets the focus there).
      window.location.assign(data["page"] ?? window.location.href);
    }
  };
  const tick = () => {
    if (done) return;
    const left = expiresAt - serverNow();
    if (countdown) countdown.textContent = format(left);
    if (!announcedSoon && left <= 15_000 && left > 0 && live) {
      announcedSoon = true;
      live.textContent = data["announceSoon"] ?? "";
    }
    reveal();
    if (left <= -1000) finish("expired");
  };
  reveal();
  tick();
  setInterval(tick, 1000);
  // The user chose something else (Not you?, Send again, Continue): that navigation wins over any outcome.
  document.addEventListener("submit", () => {
    done = true;
  });

  let polling: ReturnType<typeof setInterval> | undefined;
  const poll = () => {
    if (polling !== undefined || done) return;
    polling = setInterval(async () => {
      try {
        const response = await fetch(data["status"] ?? "", { headers: { accept: "application/json" } });
        if (!response.ok) return;
        const body = (await response.json()) as Outcome;
        if (body.outcome !== "pending") finish(body.outcome);
      } catch {
        // Offline for a moment: the next poll tries again.
      }
    }, 3000);
  };
  if (typeof EventSource === "function" && data["events"]) {
    const events = new EventSource(data["events"]);
    document.addEventListener("submit", () => events.close());
    events.addEventListener("outcome", (event) => {
      events.close();
      finish((JSON.parse((event as MessageEvent<string>).data) as Outcome).outcome);
    });
    events.addEventListener("error", () => {
      if (events.readyState === EventSource.CLOSED) poll();
    });
  } else poll();
}

for (const section of document.querySelectorAll<HTMLElement>('[data-behaviour="push-wait"]')) start(section);
