/**
 * A one-line progress bar for a terminal (redrawn with \r on stderr); silent when stderr is
 * not a TTY, so logs and pipes get only the final summary.
 */
export class ProgressBar {
  readonly #out: NodeJS.WriteStream;
  readonly #enabled: boolean;
  #last = 0;

  constructor(out: NodeJS.WriteStream = process.stderr, enabled = out.isTTY === true) {
    this.#out = out;
    this.#enabled = enabled;
  }

  /** Draws `label [####....] counts`; `counts` defaults to `done/total`. */
  update(label: string, done: number, total: number, counts = `${done}/${total}`): void {
    if (!this.#enabled) return;
    const now = Date.now();
    // At most ~20 redraws a second, but always draw the last step.
    if (done < total && now - this.#last < 50) return;
    this.#last = now;
    const width = 30;
    const filled = total > 0 ? Math.round((done / total) * width) : width;
    this.#out.write(
      `\r${label.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${counts}\x1b[K`,
    );
  }

  done(): void {
    if (this.#enabled) this.#out.write('\r\x1b[K');
  }
}
