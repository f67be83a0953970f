// A test clock that stands still until told to move (every time decision in the core reads it).
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
