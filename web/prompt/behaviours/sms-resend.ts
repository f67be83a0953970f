// "Didn't get a text?", enhanced: Send again waits out its cooldown as a visible countdown, then appears. Without script the
// button is always there, and the server answers an early press with how many seconds are left.

function startResendCountdown(section: HTMLElement): void {
  const data = section.dataset;
  const sendAgainAt = Number(data["sendAgainAt"]);
  // Server and browser clocks may differ: count from the server's "now" as the page was made.
  const skew = Date.now() - Number(data["now"]);
  const countdown = section.querySelector<HTMLElement>("[data-countdown]");
  const seconds = section.querySelector<HTMLElement>("[data-seconds]");
  const button = section.querySelector<HTMLElement>("[data-send-again]");
  let timer: ReturnType<typeof setInterval> | undefined;
  const tick = () => {
    const left = Math.ceil((sendAgainAt - (Date.now() - skew)) / 1000);
    const waiting = left > 0;
    if (seconds) seconds.textContent = String(Math.max(0, left));
    if (countdown) countdown.hidden = !waiting;
    if (button) button.hidden = waiting;
    if (!waiting && timer !== undefined) clearInterval(timer);
  };
  tick();
  timer = setInterval(tick, 1000);
}

for (const section of document.querySelectorAll<HTMLElement>('[data-behaviour="sms-resend"]'))
  startResendCountdown(section);
