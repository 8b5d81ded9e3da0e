/** How the node retries a call to the aggregator (p-retry's exponential backoff, no jitter). */
export interface RetryPolicy {
  /** Tries after the first one. */
  retries: number;
  /** Pause before the first retry. */
  minTimeoutMs: number;
  /** Growth of the pause per retry (default 2). */
  factor?: number;
  /** Longest pause (default no limit). */
  maxTimeoutMs?: number;
}

/**
 * Pauses of 1, 2, 4, 8 and 15 s: 6 tries over about 30 s, long enough to ride out an
 * aggregator restart or a database restart (503) without losing a round's training.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 5,
  minTimeoutMs: 1000,
  factor: 2,
  maxTimeoutMs: 15_000,
};
