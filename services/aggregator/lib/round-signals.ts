/** Wakes a round's wait loop when one of its updates changes, instead of polling alone. */
export class RoundSignals {
  private readonly waiters = new Map<string, Set<() => void>>();

  notify(roundId: string): void {
    const set = this.waiters.get(roundId);
    if (!set) return;
    this.waiters.delete(roundId);
    for (const wake of set) wake();
  }

  /** Resolves after `ms`, on notify(roundId) or when `signal` aborts, whichever is first. */
  wait(roundId: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(roundId);
      if (!set) this.waiters.set(roundId, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }
}
