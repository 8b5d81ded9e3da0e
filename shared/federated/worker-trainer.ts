import { Worker } from 'node:worker_threads';
import type { LocalTrainResult, TrainProgress } from '../training/local-train.ts';
import type { ClientJob, ClientTrainer } from './client-trainer.ts';
import type { WorkerModelSpec, WorkerReply } from './worker-protocol.ts';

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
}

/**
 * Trains clients in parallel worker threads, each with its own model and tfjs backend. The
 * wasm backend computes on one thread, so on a machine with k cores k workers train k
 * hospitals at once. Results are identical to InProcessTrainer's: the same seed, weights and
 * kernels give the same numbers whichever thread runs them.
 */
export class WorkerPoolTrainer implements ClientTrainer {
  readonly concurrency: number;
  private readonly slots: Slot[];
  private readonly waiting: Array<(slot: Slot) => void> = [];

  constructor(spec: WorkerModelSpec, workers: number) {
    this.concurrency = Math.max(1, workers);
    const entry = new URL('./client-worker-entry.mjs', import.meta.url);
    this.slots = Array.from({ length: this.concurrency }, () => {
      const worker = new Worker(entry, { workerData: spec });
      const ready = new Promise<void>((resolve, reject) => {
        const onMessage = (m: WorkerReply): void => {
          if (m.type === 'ready') {
            worker.off('message', onMessage);
            resolve();
          }
        };
        worker.on('message', onMessage);
        worker.once('error', reject);
        worker.once('exit', (code) =>
          reject(new Error(`training worker exited with code ${code} during start-up`)),
        );
      });
      ready.catch(() => undefined);
      return { worker, ready, busy: false };
    });
  }

  private acquire(): Promise<Slot> {
    const free = this.slots.find((s) => !s.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else slot.busy = false;
  }

  async train(job: ClientJob, onProgress?: (p: TrainProgress) => void): Promise<LocalTrainResult> {
    const slot = await this.acquire();
    try {
      await slot.ready;
      return await new Promise<LocalTrainResult>((resolve, reject) => {
        const onExit = (code: number): void =>
          reject(new Error(`training worker for ${job.clientId} exited with code ${code}`));
        const onMessage = (m: WorkerReply): void => {
          if (m.type === 'progress') {
            onProgress?.(m.progress);
            return;
          }
          slot.worker.off('message', onMessage);
          slot.worker.off('exit', onExit);
          if (m.type === 'done') resolve(m.result);
          else if (m.type === 'error') reject(new Error(`${job.clientId}: ${m.message}`));
        };
        slot.worker.on('message', onMessage);
        slot.worker.once('exit', onExit);
        slot.worker.postMessage(job);
      });
    } finally {
      this.release(slot);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
