/**
 * What `fedxray rounds watch` shows of a run's events: on a terminal, a live block of one line
 * per hospital of the round in progress; otherwise one plain line per event. And the per-round
 * table printed when the run ends.
 */
import type { RunDetail, RunEvent } from '../client/aggregator.ts';

interface HospitalLine {
  name: string;
  status: string;
  note: string;
}

export class RunWatchView {
  private round = 0;
  private readonly hospitals = new Map<string, HospitalLine>();
  /** Lines of the live block now on screen (TTY), to redraw over. */
  private drawn = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
  ) {}

  show(event: RunEvent): void {
    switch (event.type) {
      case 'snapshot': {
        const run = event.data;
        this.line(
          `run ${run.id}: ${run.status}, round ${run.currentRound} of ${run.settings.rounds}`,
        );
        const current = run.rounds.at(-1);
        if (current && !['completed', 'failed', 'cancelled'].includes(run.status)) {
          this.startRound(current.round);
          for (const u of current.updates)
            this.hospital(u.hospitalId, u.hospitalName, u.status, u.failureReason);
        }
        return;
      }
      case 'round-started':
        this.finishBlock();
        this.line(
          `round ${event.data.round} started: ${event.data.selected.map((h) => h.name).join(', ')}`,
        );
        this.startRound(event.data.round);
        for (const h of event.data.selected) this.hospital(h.id, h.name, 'dispatched', null);
        return;
      case 'hospital-updated':
        this.hospital(
          event.data.hospitalId,
          event.data.hospital,
          event.data.status,
          event.data.failureReason,
        );
        return;
      case 'round-completed':
        this.finishBlock();
        this.line(
          `round ${event.data.round} completed: model v${event.data.version}${metricsNote(event.data.metrics)}`,
        );
        return;
      case 'round-failed':
        this.finishBlock();
        this.line(`round ${event.data.round} failed: ${event.data.reason}`);
        return;
      case 'run-completed':
        this.finishBlock();
        this.line(
          `run completed after ${event.data.rounds} round(s): final model v${event.data.version}` +
            (event.data.promoted ? ' (promoted)' : ' (not promoted)'),
        );
        return;
      case 'run-failed':
        this.finishBlock();
        this.line(`run failed: ${event.data.reason}`);
        return;
      case 'run-cancelled':
        this.finishBlock();
        this.line('run cancelled');
        return;
    }
  }

  private startRound(round: number): void {
    this.round = round;
    this.hospitals.clear();
    this.drawn = 0;
  }

  private hospital(id: string, name: string, status: string, reason: string | null): void {
    const line = { name, status, note: reason ? ` (${reason})` : '' };
    this.hospitals.set(id, line);
    if (this.tty) this.redraw();
    else this.line(`round ${this.round} ${name}: ${status}${line.note}`);
  }

  /** TTY: rewrites the block of hospital lines in place. */
  private redraw(): void {
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    const lines = [...this.hospitals.values()].map(
      (h) => `\x1b[2K  ${h.name.padEnd(20)} ${h.status}${h.note}\n`,
    );
    this.write(up + lines.join(''));
    this.drawn = lines.length;
  }

  /** The block stays on screen as it is; later lines go below it. */
  private finishBlock(): void {
    this.drawn = 0;
    this.hospitals.clear();
  }

  private line(text: string): void {
    this.write(`${text}\n`);
  }
}

function get(value: unknown, ...path: string[]): unknown {
  let node = value;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function fixed(value: unknown, digits = 4): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function metricsNote(metrics: unknown): string {
  const auc = get(metrics, 'validation', 'auc');
  const loss = get(metrics, 'train', 'loss');
  const parts = [
    typeof loss === 'number' ? `train loss ${fixed(loss)}` : '',
    typeof auc === 'number' ? `val AUC ${fixed(auc)}` : '',
  ].filter(Boolean);
  return parts.length > 0 ? `, ${parts.join(', ')}` : '';
}

/** One row per round: status, hospitals accepted, the round's loss and validation metrics. */
export function roundTable(run: RunDetail): string {
  const header = [
    'round',
    'status',
    'accepted',
    'train loss',
    'val loss',
    'val AUC',
    'val acc',
    'threshold',
  ];
  const rows = run.rounds.map((r) => [
    String(r.round),
    r.status,
    `${r.updates.filter((u) => u.status === 'accepted').length}/${r.updates.length}`,
    fixed(get(r.metrics, 'train', 'loss')),
    fixed(get(r.metrics, 'validation', 'loss')),
    fixed(get(r.metrics, 'validation', 'auc')),
    fixed(get(r.metrics, 'validation', 'accuracy')),
    fixed(get(r.metrics, 'threshold', 'threshold'), 3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const format = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [format(header), ...rows.map(format)].join('\n') + '\n';
}
