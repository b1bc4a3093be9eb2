/**
 * Terminal progress for long runs: on a TTY one live status line (step, bar for timed phases,
 * elapsed time) redrawn in place; otherwise one plain line per step. Written to stderr, so stdout
 * carries only the result tables.
 */
export class Progress {
  private readonly tty: boolean;
  private status = "";
  private stepStart = 0;
  private expectMs = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly t0 = Date.now();

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = out.isTTY === true;
  }

  /** A scenario header. */
  section(title: string): void {
    this.clear();
    this.out.write(`\n▶ ${title}  (${this.clock()})\n`);
  }

  /** The current step; `expectMs` draws a bar that fills over that time. */
  step(text: string, expectMs = 0): void {
    this.status = text;
    this.stepStart = Date.now();
    this.expectMs = expectMs;
    if (!this.tty) {
      this.out.write(`  · ${text}\n`);
      return;
    }
    this.timer ??= setInterval(() => this.draw(), 200);
    this.timer.unref();
    this.draw();
  }

  /** A finished result line (kept on screen). */
  note(text: string): void {
    this.clear();
    this.out.write(`  ✓ ${text}\n`);
    if (this.tty && this.status !== "") this.draw();
  }

  /** Stop redrawing (end of run). */
  stop(): void {
    this.clear();
    this.status = "";
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private clock(): string {
    const s = Math.round((Date.now() - this.t0) / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} elapsed`;
  }

  private draw(): void {
    if (!this.tty || this.status === "") return;
    const elapsed = (Date.now() - this.stepStart) / 1000;
    let bar = "";
    if (this.expectMs > 0) {
      const width = 20;
      const done = Math.min(width, Math.round(((Date.now() - this.stepStart) / this.expectMs) * width));
      bar = ` [${"█".repeat(done)}${"░".repeat(width - done)}]`;
    }
    const line = `  … ${this.status}${bar} ${elapsed.toFixed(1)} s · ${this.clock()}`;
    const cols = this.out.columns ?? 100;
    this.out.write(`\r\x1b[2K${line.slice(0, cols - 1)}`);
  }

  private clear(): void {
    if (this.tty) this.out.write("\r\x1b[2K");
  }
}
