/**
 * Worker-thread side of GradientPeers: a replica of the model that, per message, takes the
 * main thread's current weights and returns its shard's gradients (buffers transferred).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildModel } from '../model/architectures.ts';
import { initBackend } from '../tf/backend.ts';
import { tf } from '../tf/tf.ts';
import type {
  GradientWorkerReply,
  GradientWorkerSpec,
  ShardRequest,
} from './gradient-worker-protocol.ts';
import { shardGradients } from './gradients.ts';

const port = parentPort;
if (!port) throw new Error('gradient-worker must run in a worker thread');

const spec = workerData as GradientWorkerSpec;
process.env.FEDXRAY_QUIET = '1';
await initBackend({ preferred: spec.backend });
const model = buildModel(spec.architecture, { inputSize: spec.inputSize, width: spec.width });
const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);

function reply(message: GradientWorkerReply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

port.on('message', (request: ShardRequest) => {
  try {
    tf.tidy(() => {
      model.weights.forEach((variable, i) =>
        variable.write(tf.tensor(request.weights[i], variable.shape as number[], 'float32')),
      );
    });
    const result = shardGradients(
      model,
      trainable,
      request.shard,
      request.classWeights,
      request.labelSmoothing,
      request.scale,
      request.dropoutSeed,
    );
    const grads = result.grads.map((g) => {
      const data = new Float32Array(g.dataSync());
      g.dispose();
      return data;
    });
    reply(
      {
        type: 'grads',
        grads,
        loss: result.loss,
        hits: result.hits,
        numTensors: tf.memory().numTensors,
      },
      grads.map((g) => g.buffer as ArrayBuffer),
    );
  } catch (error) {
    reply({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
});
reply({
  type: 'ready',
  weightShapes: model.weights.map((v) => [...v.shape] as number[]),
  trainable: trainable.length,
});
