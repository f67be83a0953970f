// A progress bar on stderr: redrawn in place on a terminal, a line at each quarter otherwise (logs, pipes).

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface Progress {
  update(done: number, total: number): void;
  /** Show 100 % (if not shown yet) and end the line. */
  finish(): void;
}

const WIDTH = 30;

export function createProgress(label: string, stream: ProgressStream): Progress {
  const tty = stream.isTTY === true;
  let nextQuarter = 0;
  let lastTotal = 0;
  let finished = false;
  let drawn = false;

  const render = (done: number, total: number) => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const percent = Math.floor(fraction * 100);
    if (tty) {
      const filled = Math.round(fraction * WIDTH);
      stream.write(
        `\r${label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${percent}% ${done}/${total}`,
      );
      drawn = true;
      return;
    }
    while (nextQuarter <= 100 && percent >= nextQuarter) {
      stream.write(`${label}: ${nextQuarter}%\n`);
      nextQuarter += 25;
    }
  };

  return {
    update(done, total) {
      if (finished) return;
      lastTotal = total;
      render(done, total);
    },
    finish() {
      if (finished) return;
      render(lastTotal, lastTotal);
      if (tty && drawn) stream.write("\n");
      finished = true;
    },
  };
}
