export { sleep } from '../../../shared/util/sleep.ts';

/**
 * Pauses between tries: 6 tries over about 30 s, long enough to ride out an aggregator restart
 * or a database restart (503) without losing a round's training.
 */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1000, 2000, 4000, 8000, 15000];
