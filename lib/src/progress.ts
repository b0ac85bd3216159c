/**
 * A progress bar for long command-line runs: count, rate, ETA and the latest metrics. On a terminal it
 * redraws one line; otherwise (logs, CI) it prints a full line at most every `logEverySeconds`.
 */

/** Options of a `Progress` bar. */
export interface ProgressOptions {
  /** Shown at the start of every line. */
  label: string;
  /** The count at which the work is done. */
  total: number;
  /** Count already done when the bar starts (after a resume); the rate counts only new work. */
  start?: number;
  /** Unit of the rate, as in "12.3 trials/s" (default "it"). */
  unit?: string;
  /** Where to write (default: process.stderr). */
  stream?: NodeJS.WriteStream;
  /** Seconds between lines when not on a terminal (default: $FBC_PROGRESS_EVERY, else 30). */
  logEverySeconds?: number;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
}

/** A progress bar for a count of units of work; call `update` as work finishes and `log` for messages in between. */
export class Progress {
  private readonly t0 = performance.now();
  private readonly start: number;
  private lastLog = -Infinity;
  private readonly stream: NodeJS.WriteStream;

  /** @param opts label, total and where and how often to print */
  constructor(private readonly opts: ProgressOptions) {
    this.start = opts.start ?? 0;
    this.stream = opts.stream ?? process.stderr;
  }

  /** Reports that `done` of `total` are finished, with metrics to show (numbers are printed to 4 significant digits). */
  update(done: number, metrics: Record<string, number | string> = {}): void {
    const elapsed = (performance.now() - this.t0) / 1000;
    const rate = (done - this.start) / Math.max(elapsed, 1e-9);
    const eta = (this.opts.total - done) / rate;
    const frac = this.opts.total > 0 ? done / this.opts.total : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    const shown = Object.entries(metrics).map(([k, v]) => `${k} ${typeof v === "number" ? v.toPrecision(4) : v}`);
    const line = [
      `${this.opts.label} [${bar}] ${done}/${this.opts.total} ${(100 * frac).toFixed(0)}%`,
      `${rate.toPrecision(3)} ${this.opts.unit ?? "it"}/s`,
      `ETA ${duration(eta)}`,
      ...shown,
    ].join(" | ");
    if (this.stream.isTTY) {
      this.stream.write(`\r${line}\x1b[K`);
      if (done >= this.opts.total) this.stream.write("\n");
    } else if (elapsed - this.lastLog >= (this.opts.logEverySeconds ?? (Number(process.env.FBC_PROGRESS_EVERY) || 30)) || done >= this.opts.total) {
      this.lastLog = elapsed;
      this.stream.write(line + "\n");
    }
  }

  /** Prints a message on its own line without garbling the bar. */
  log(message: string): void {
    this.stream.write((this.stream.isTTY ? "\r\x1b[K" : "") + message + "\n");
  }
}
