import { Worker } from 'node:worker_threads';
import type { tf } from '../tf/tf.ts';
import type {
  GradientWorkerReply,
  GradientWorkerSpec,
  ShardRequest,
} from './gradient-worker-protocol.ts';
import type { BatchShard } from './gradients.ts';

export type { GradientWorkerSpec };

/** A shard's gradients as plain data, from a peer. */
export interface PeerGradients {
  grads: Float32Array[];
  loss: number;
  hits: number;
  numTensors: number;
}

interface Peer {
  worker: Worker;
  weightShapes: number[][];
  trainable: number;
}

/**
 * Worker threads holding replicas of a model, for data-parallel training within one process:
 * each step the main thread keeps one shard of the batch and every peer computes the
 * gradients of another, starting from the main thread's weights. The wasm backend computes on
 * one thread, so on a k-core machine k - 1 peers and the main thread train k times the images.
 */
export class GradientPeers {
  private closed = false;
  private readonly tensors: number[];

  private exited = false;

  private constructor(private readonly peers: Peer[]) {
    this.tensors = peers.map(() => 0);
    for (const peer of peers) peer.worker.once('exit', () => (this.exited = true));
  }

  /** false once closed or once any worker has died: start new peers then. */
  get alive(): boolean {
    return !this.closed && !this.exited;
  }

  /** Stops one worker as a crash would (tests of what depends on the peers). */
  async killWorkerForTest(index = 0): Promise<void> {
    await this.peers[index]?.worker.terminate();
  }

  /** Each worker's tf.memory().numTensors after its last step (0 before any). */
  workerTensors(): number[] {
    return [...this.tensors];
  }

  /** Starts `count` workers building `spec`'s model; resolves when all are ready. */
  static async start(spec: GradientWorkerSpec, count: number): Promise<GradientPeers> {
    const entry = new URL('./gradient-worker-entry.mjs', import.meta.url);
    const workers = Array.from({ length: count }, () => new Worker(entry, { workerData: spec }));
    const settled = await Promise.allSettled(
      workers.map(
        (worker) =>
          new Promise<Peer>((resolve, reject) => {
            worker.once('message', (m: GradientWorkerReply) => {
              if (m.type === 'ready')
                resolve({ worker, weightShapes: m.weightShapes, trainable: m.trainable });
              else reject(new Error(m.type === 'error' ? m.message : 'unexpected first message'));
            });
            worker.once('error', reject);
            worker.once('exit', (code) =>
              reject(new Error(`gradient worker exited with code ${code} during start-up`)),
            );
          }),
      ),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    }
    return new GradientPeers(settled.map((s) => (s as PromiseFulfilledResult<Peer>).value));
  }

  /** Peers for training on `threads` threads in all (this one included); none for 1. */
  static forThreads(spec: GradientWorkerSpec, threads: number): Promise<GradientPeers | undefined> {
    return threads > 1 ? GradientPeers.start(spec, threads - 1) : Promise.resolve(undefined);
  }

  get size(): number {
    return this.peers.length;
  }

  /** Throws unless every peer's replica has exactly the model's weights and trainables. */
  assertMatches(model: tf.LayersModel): void {
    const shapes = model.weights.map((v) => (v.shape as number[]).join('x')).join(',');
    for (const peer of this.peers) {
      if (
        peer.weightShapes.map((s) => s.join('x')).join(',') !== shapes ||
        peer.trainable !== model.trainableWeights.length
      )
        throw new Error(`a gradient worker's model does not match ${model.name}'s weights`);
    }
  }

  /**
   * Sends shard i to peer i (fewer shards than peers leaves the rest idle) with the current
   * weights, and resolves with their gradients in the same order.
   */
  compute(
    /** All of model.weights in order; handed over (transferred): do not use them afterwards. */
    weights: readonly Float32Array[],
    shards: readonly BatchShard[],
    scales: readonly number[],
    dropoutSeeds: readonly number[],
    classWeights: [number, number],
    labelSmoothing: number,
  ): Promise<PeerGradients[]> {
    if (this.closed) return Promise.reject(new Error('gradient workers are closed'));
    if (this.exited) return Promise.reject(new Error('a gradient worker has exited'));
    if (shards.length > this.peers.length)
      return Promise.reject(new Error(`${shards.length} shards for ${this.peers.length} peers`));
    return Promise.all(
      shards.map((shard, i) => {
        const request: ShardRequest = {
          type: 'shard',
          // The last peer takes the caller's arrays (transferred); the others get copies.
          weights: i === shards.length - 1 ? [...weights] : weights.map((w) => w.slice()),
          shard,
          classWeights,
          labelSmoothing,
          scale: scales[i],
          dropoutSeed: dropoutSeeds[i],
        };
        return this.request(this.peers[i], request).then((reply) => {
          this.tensors[i] = reply.numTensors;
          return reply;
        });
      }),
    );
  }

  private request(peer: Peer, request: ShardRequest): Promise<PeerGradients> {
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        peer.worker.off('message', onMessage);
        peer.worker.off('exit', onExit);
        peer.worker.off('error', onError);
      };
      const onMessage = (m: GradientWorkerReply): void => {
        cleanup();
        if (m.type === 'grads')
          resolve({ grads: m.grads, loss: m.loss, hits: m.hits, numTensors: m.numTensors });
        else reject(new Error(`gradient worker: ${m.type === 'error' ? m.message : m.type}`));
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new Error(`gradient worker exited with code ${code} during a step`));
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(error);
      };
      peer.worker.on('message', onMessage);
      peer.worker.once('exit', onExit);
      peer.worker.once('error', onError);
      peer.worker.postMessage(request, [
        ...request.weights.map((w) => w.buffer as ArrayBuffer),
        request.shard.xs.buffer as ArrayBuffer,
      ]);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.peers.map((p) => p.worker.terminate()));
  }
}
