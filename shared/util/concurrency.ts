import pMap from 'p-map';

/** Maps items through an async function with at most `limit` calls in flight (p-map); keeps input order. */
export function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  return pMap(items, fn, { concurrency: Math.max(1, Math.floor(limit)) });
}
