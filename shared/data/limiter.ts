/** FIFO concurrency limiter (p-limit): at most `limit` tasks run at once, started in call order. */
import pLimit from 'p-limit';

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimiter(limit: number): Limiter {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
  }
  const run = pLimit(limit);
  return <T>(task: () => Promise<T>): Promise<T> => run(task);
}
