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
 * The time of day, moved forward when a test says so: for a server whose real clients sign with the real time, so
 * that a test can let an interval pass (a push's lifetime, a resend cooldown) without waiting it out. It never moves
 * back, as a server's clock would not; the clients' tolerance for skew (60 s for device answers and the OIDC tokens,
 * one TOTP step) bounds how far a test may move it.
 */
export class AdvancingClock implements Clock {
  #ahead = 0;
  now(): number {
    return Date.now() + this.#ahead;
  }
  /** How far ahead of the time of day it runs. */
  get ahead(): number {
    return this.#ahead;
  }
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock only moves forward: ${ms} ms`);
    this.#ahead += ms;
  }
}
