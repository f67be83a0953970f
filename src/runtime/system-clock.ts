// The production Clock: the system's wall clock (tests inject their own).
import type { Clock } from "../core/ports.ts";

export const systemClock: Clock = { now: () => Date.now() };
