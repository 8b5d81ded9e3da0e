/** Human output goes to stderr so stdout carries only the result (JSON when asked). */
export function info(message: string): void {
  if (process.env.FEDXRAY_QUIET !== '1') process.stderr.write(message + '\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}
