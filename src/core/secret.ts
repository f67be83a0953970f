// A wrapper for secret values whose JSON and console forms are redacted, so secrets cannot leak into logs by accident.

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

export class Secret<T = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  /** The secret itself. Call only where the value is really needed (verification, showing it once). */
  reveal(): T {
    return this.#value;
  }

  toJSON(): string {
    return "[redacted]";
  }

  toString(): string {
    return "[redacted]";
  }

  [INSPECT](): string {
    return "Secret([redacted])";
  }
}
