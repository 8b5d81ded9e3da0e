import { describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../services/inference-api/lib/model-registry.ts';

class FakeModel {
  disposed = 0;
  constructor(readonly name: string) {}
  dispose(): void {
    this.disposed++;
  }
}

describe('ModelRegistry', () => {
  it('has nothing to lend before the first swap', () => {
    const registry = new ModelRegistry<FakeModel>();
    expect(registry.current).toBeUndefined();
    expect(registry.acquire()).toBeUndefined();
  });

  it('disposes a replaced model at once when nobody holds it', () => {
    const registry = new ModelRegistry<FakeModel>();
    const a = new FakeModel('a');
    registry.swap(a);
    registry.acquire()?.release();
    registry.swap(new FakeModel('b'));
    expect(a.disposed).toBe(1);
    expect(registry.current?.name).toBe('b');
  });

  it('keeps a replaced model until its last lease is released, exactly once', () => {
    const registry = new ModelRegistry<FakeModel>();
    const a = new FakeModel('a');
    registry.swap(a);
    const first = registry.acquire()!;
    const second = registry.acquire()!;
    const b = new FakeModel('b');
    registry.swap(b);
    expect(registry.acquire()?.value).toBe(b);
    expect(first.value).toBe(a);
    first.release();
    first.release(); // idempotent: must not count twice
    expect(a.disposed).toBe(0);
    second.release();
    expect(a.disposed).toBe(1);
    expect(b.disposed).toBe(0);
  });

  it('disposes the current model on close once it is released, and refuses later swaps', () => {
    const registry = new ModelRegistry<FakeModel>();
    const a = new FakeModel('a');
    registry.swap(a);
    const lease = registry.acquire()!;
    registry.close();
    expect(registry.current).toBeUndefined();
    expect(a.disposed).toBe(0);
    lease.release();
    expect(a.disposed).toBe(1);
    const late = new FakeModel('late');
    expect(() => registry.swap(late)).toThrow(/closed/);
    expect(late.disposed).toBe(1);
  });
});
