/**
 * Worker-thread side of WorkerPoolTrainer: builds its own copy of the model once, then trains
 * one client job per message and posts the weights back (buffers transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ImageCache } from '../data/index.ts';
import { buildModel } from '../model/architectures.ts';
import { initBackend } from '../tf/backend.ts';
import { InProcessTrainer, type ClientJob } from './client-trainer.ts';
import type { WorkerModelSpec, WorkerReply } from './worker-protocol.ts';

const port = parentPort;
if (!port) throw new Error('client-worker must run in a worker thread');

const spec = workerData as WorkerModelSpec;
process.env.FEDXRAY_QUIET = '1';
await initBackend({ preferred: spec.backend });
const model = buildModel(spec.architecture, { inputSize: spec.inputSize, width: spec.width });
const trainer = new InProcessTrainer(model, new ImageCache({ maxBytes: spec.cacheBytes }));

port.on('message', (job: ClientJob) => {
  const reply = (message: WorkerReply, transfer: ArrayBuffer[] = []): void =>
    port.postMessage(message, transfer);
  trainer
    .train(job, (progress) => reply({ type: 'progress', progress }))
    .then((result) =>
      reply(
        { type: 'done', result },
        result.weights.map((w) => w.data.buffer as ArrayBuffer),
      ),
    )
    .catch((error: unknown) =>
      reply({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
    );
});
port.postMessage({ type: 'ready' } satisfies WorkerReply);
