/**
 * Dependency-free progress reporting on stderr. On a terminal it redraws one line with a
 * bar, percent, rate and ETA; otherwise (CI, files, pipes) it prints a plain line at most
 * every 5 s plus a final one, so logs stay readable. FEDXRAY_QUIET=1 turns it off.
 */

/** The part of a stream the progress bar uses (process.stderr satisfies it). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  label: string;
  /** Expected number of items; 0 or less means unknown (no percent, bar or ETA). */
  total: number;
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Default true; FEDXRAY_QUIET=1 disables regardless. */
  enabled?: boolean;
  /** Clock in milliseconds; for tests. */
  now?: () => number;
  /** Minimum gap between plain-text lines when not on a terminal. Default 5000 ms. */
  logIntervalMs?: number;
}

export interface Progress {
  /** Adds n (default 1) completed items. */
  tick(n?: number, info?: string): void;
  /** Sets the number of completed items. */
  update(done: number, info?: string): void;
  /** Final report; later calls are ignored. */
  done(info?: string): void;
}

const TTY_REDRAW_MS = 100;
const BAR_WIDTH = 24;

export function createProgress(opts: ProgressOptions): Progress {
  const enabled = (opts.enabled ?? true) && process.env.FEDXRAY_QUIET !== '1';
  if (!enabled) return { tick: () => {}, update: () => {}, done: () => {} };

  const stream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const now = opts.now ?? Date.now;
  const logInterval = opts.logIntervalMs ?? 5000;
  const start = now();
  let count = 0;
  let info = '';
  let finished = false;
  let lastDraw = -Infinity;
  let lastLog = start;

  const status = (final: boolean): string => {
    const elapsed = (now() - start) / 1000;
    const rate = elapsed > 0 ? count / elapsed : 0;
    const known = opts.total > 0;
    const parts = [final && !tty ? `${opts.label} done:` : opts.label];
    if (known && tty) parts.push(bar(count / opts.total));
    if (known) parts.push(`${percent(count / opts.total)} ${count}/${opts.total}`);
    else parts.push(`${count}`);
    parts.push(`${formatRate(rate)}/s`);
    if (final) parts.push(`in ${formatDuration(elapsed)}`);
    else if (known)
      parts.push(`ETA ${rate > 0 ? formatDuration(Math.max(0, opts.total - count) / rate) : '?'}`);
    if (info) parts.push(info);
    return parts.join(' ');
  };

  const render = (final: boolean): void => {
    const t = now();
    if (tty) {
      if (!final && t - lastDraw < TTY_REDRAW_MS) return;
      lastDraw = t;
      let line = status(final);
      const columns = stream.columns ?? 0;
      if (columns > 1 && line.length > columns - 1) line = line.slice(0, columns - 1);
      stream.write(`\r${line}\x1b[K${final ? '\n' : ''}`);
    } else {
      if (!final && t - lastLog < logInterval) return;
      lastLog = t;
      stream.write(`${status(final)}\n`);
    }
  };

  return {
    tick(n = 1, text) {
      if (finished) return;
      count += n;
      if (text !== undefined) info = text;
      render(false);
    },
    update(done, text) {
      if (finished) return;
      count = done;
      if (text !== undefined) info = text;
      render(false);
    },
    done(text) {
      if (finished) return;
      finished = true;
      if (text !== undefined) info = text;
      render(true);
    },
  };
}

function bar(fraction: number): string {
  const filled = Math.round(clamp01(fraction) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
}

function percent(fraction: number): string {
  return `${Math.floor(clamp01(fraction) * 100)}%`;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function formatRate(rate: number): string {
  return rate >= 10 ? rate.toFixed(0) : rate >= 1 ? rate.toFixed(1) : rate.toFixed(2);
}

/** m:ss, or h:mm:ss from an hour up. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
