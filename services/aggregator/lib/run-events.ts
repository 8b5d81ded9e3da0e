export type RunEventType =
  | 'round-started'
  | 'hospital-updated'
  | 'round-completed'
  | 'round-failed'
  | 'run-completed'
  | 'run-failed'
  | 'run-cancelled';

export interface RunEvent {
  type: RunEventType;
  runId: string;
  data: Record<string, unknown>;
}

/** Whether an event ends its run's stream. */
export function endsRun(event: RunEvent): boolean {
  return (
    event.type === 'run-completed' || event.type === 'run-failed' || event.type === 'run-cancelled'
  );
}

/** In-process publish/subscribe of run progress, for GET /rounds/:id/events. */
export class RunEvents {
  private readonly listeners = new Map<string, Set<(event: RunEvent) => void>>();
  private readonly everyRun = new Set<(event: RunEvent) => void>();

  publish(runId: string, type: RunEventType, data: Record<string, unknown>): void {
    const event: RunEvent = { type, runId, data };
    for (const listener of this.listeners.get(runId) ?? []) listener(event);
    for (const listener of this.everyRun) listener(event);
  }

  /** Every run's events (the metrics); returns the unsubscribe function. */
  subscribeAll(listener: (event: RunEvent) => void): () => void {
    this.everyRun.add(listener);
    return () => this.everyRun.delete(listener);
  }

  /** Returns the unsubscribe function. */
  subscribe(runId: string, listener: (event: RunEvent) => void): () => void {
    let set = this.listeners.get(runId);
    if (!set) this.listeners.set(runId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(runId);
    };
  }
}
