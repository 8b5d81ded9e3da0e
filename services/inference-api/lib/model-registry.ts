/** What the registry holds: anything that must be freed once nobody uses it. */
export interface Disposable {
  dispose(): void;
}

/** A request's hold on one model; release() once done (idempotent). */
export interface Lease<T> {
  readonly value: T;
  release(): void;
}

interface Entry<T> {
  value: T;
  leases: number;
  retired: boolean;
}

/**
 * The current model, swapped atomically. A request takes a lease and keeps the model it
 * started with even if a newer one is swapped in meanwhile; a replaced model is disposed when
 * its last lease is released (reference counting), never under a running request.
 */
export class ModelRegistry<T extends Disposable> {
  private entry: Entry<T> | undefined;
  private closed = false;

  get current(): T | undefined {
    return this.entry?.value;
  }

  acquire(): Lease<T> | undefined {
    const entry = this.entry;
    if (!entry) return undefined;
    entry.leases++;
    let released = false;
    return {
      value: entry.value,
      release: () => {
        if (released) return;
        released = true;
        entry.leases--;
        this.disposeIfUnused(entry);
      },
    };
  }

  /** Makes `value` current; the previous model is disposed once its leases are released. */
  swap(value: T): void {
    if (this.closed) {
      value.dispose();
      throw new Error('the model registry is closed');
    }
    const previous = this.entry;
    this.entry = { value, leases: 0, retired: false };
    if (previous) this.retire(previous);
  }

  /** Retires the current model (disposed when unused); swap() is refused afterwards. */
  close(): void {
    this.closed = true;
    const previous = this.entry;
    this.entry = undefined;
    if (previous) this.retire(previous);
  }

  private retire(entry: Entry<T>): void {
    entry.retired = true;
    this.disposeIfUnused(entry);
  }

  private disposeIfUnused(entry: Entry<T>): void {
    if (entry.retired && entry.leases === 0) entry.value.dispose();
  }
}
