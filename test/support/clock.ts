// Test clocks: one that stands still until told to move, and one that keeps the time of day but can be moved forward
// (every time decision in the core reads the clock it is given).
import type { Clock } from "../../src/core/ports.ts";

export class TestClock implements Clock {
  #now: number;
  constructor(start = Date.UTC(2026, 10, 22, 12, 0, 0)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  set(ms: number): void {
    this.#now = ms;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

/**
 * A test clock that also runs on by itself at the rate of real time (from `start`, moved and set like TestClock):
 * for a benchmark, whose rows written in a second must not all carry the same millisecond, as they never would.
 */
export class RunningClock extends TestClock {
  readonly #started = performance.now();
  override now(): number {
    return super.now() + Math.floor(performance.now() - this.#started);
  }
  override set(ms: number): void {
    super.set(ms - Math.floor(performance.now() - this.#started));
  }
}

/**
 * The time of day, moved forward when a test says so: for a server whose real clients sign with the real time, so
 * that a test can let an interval pass (a push's lifetime, a resend cooldown) without waiting it out. It never moves
 * back, as a server's clock would not. The server is then ahead of its clients: what they sign or compute with the
 * time of day (device answers and OIDC tokens: 60 s of skew; TOTP passcodes: one step) may be refused after a move,
 * so a test that moves it comes last in its file.
 */
export class AdvancingClock implements Clock {
  #ahead = 0;
  now(): number {
    return Date.now() + this.#ahead;
  }
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock only moves forward: ${ms} ms`);
    this.#ahead += ms;
  }
}
