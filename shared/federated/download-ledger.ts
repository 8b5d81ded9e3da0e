/**
 * Counts how often each hospital downloaded the global model and checks it against S_max
 * before a round, as the paper's protocol does.
 */
export class DownloadLedger {
  private readonly counts = new Map<string, number>();

  constructor(readonly maxDownloads: number) {
    if (!(maxDownloads >= 1)) throw new Error(`S_max must be at least 1, got ${maxDownloads}`);
  }

  canDownload(clientId: string): boolean {
    return this.count(clientId) < this.maxDownloads;
  }

  record(clientId: string): number {
    if (!this.canDownload(clientId)) {
      throw new Error(
        `Hospital ${clientId} reached its download limit S_max = ${this.maxDownloads}`,
      );
    }
    const next = this.count(clientId) + 1;
    this.counts.set(clientId, next);
    return next;
  }

  count(clientId: string): number {
    return this.counts.get(clientId) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
