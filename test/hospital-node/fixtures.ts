import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadDataset, SAMPLE_DATA_DIR } from '../../shared/data/index.ts';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import type { HospitalConfig } from '../../services/hospital-node/config.ts';
import type { JobView } from '../../services/hospital-node/schemas/job.ts';
import { hashToken } from '../../shared/service/auth.ts';
import { SIGNATURE_HEADER, signRequest } from '../../shared/service/signing.ts';

export const TOKEN = 'hospital-token-for-tests-0123456789';

/** What must never appear in anything the node answers or sends. */
export interface LocalSecrets {
  dir: string;
  fileNames: string[];
  patientIds: string[];
}

/**
 * A small hospital: `perClass` sample images per class under distinctive file names, with
 * distinctive patient ids (two images per patient) in a manifest, so a leak is easy to spot.
 */
export async function makeHospitalData(perClass = 20): Promise<LocalSecrets> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fedxray-hospital-'));
  const sample = await loadDataset(SAMPLE_DATA_DIR);
  const rows = ['path,label,patient_id'];
  const fileNames: string[] = [];
  const patientIds = new Set<string>();
  for (const label of [0, 1] as const) {
    const name = label === 0 ? 'NORMAL' : 'PNEUMONIA';
    await mkdir(path.join(dir, name), { recursive: true });
    const records = sample.filter((r) => r.label === label).slice(0, perClass);
    for (const [i, record] of records.entries()) {
      const fileName = `zzsecretscan-${name.toLowerCase()}-${String(i).padStart(3, '0')}.jpg`;
      const patientId = `MRN-ZQX-${label}${String(Math.floor(i / 2)).padStart(3, '0')}`;
      await copyFile(record.path, path.join(dir, name, fileName));
      rows.push(`${name}/${fileName},${name},${patientId}`);
      fileNames.push(fileName);
      patientIds.add(patientId);
    }
  }
  await writeFile(path.join(dir, 'manifest.csv'), rows.join('\n') + '\n');
  return { dir, fileNames, patientIds: [...patientIds] };
}

export function hospitalConfig(
  dataDir: string,
  aggregatorUrl: string,
  overrides: Partial<HospitalConfig> = {},
): HospitalConfig {
  return {
    hospitalId: 'hospital-a',
    dataDir,
    aggregatorUrl,
    hospitalToken: TOKEN,
    port: 0,
    host: '127.0.0.1',
    valFraction: 0.2,
    seed: 42,
    ...overrides,
  };
}

/** Every string in `text` that gives local data away. */
export function leaks(text: string, secrets: LocalSecrets): string[] {
  const found: string[] = [];
  const needles = [
    secrets.dir,
    'zzsecretscan',
    'MRN-ZQX',
    '.jpg',
    ...secrets.fileNames,
    ...secrets.patientIds,
  ];
  for (const needle of needles) if (text.includes(needle)) found.push(needle);
  return found;
}

/** A POST signed the way the aggregator signs it (x-fedxray-signature, keyed by the token's hash). */
export function signedPost(
  node: FastifyInstance,
  path: string,
  body: string | object,
  options: { token?: string; signedPath?: string; now?: number } = {},
): request.Test {
  const json = typeof body === 'string' ? body : JSON.stringify(body);
  const signature = signRequest(
    hashToken(options.token ?? TOKEN),
    'POST',
    options.signedPath ?? path,
    json,
    options.now,
  );
  return request(node.server)
    .post(path)
    .set('content-type', 'application/json')
    .set(SIGNATURE_HEADER, signature)
    .send(json);
}

/** Polls GET /train/{jobId} until `until` (default: done or failed); `record` sees each answer. */
export async function waitForJob(
  node: FastifyInstance,
  jobId: string,
  until: (job: JobView) => boolean = (job) => job.status === 'done' || job.status === 'failed',
  record?: (res: request.Response) => void,
): Promise<JobView> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await request(node.server).get(`/train/${jobId}`);
    record?.(res);
    if (res.status !== 200)
      throw new Error(`GET /train/${jobId} answered ${res.status}: ${res.text}`);
    const job = res.body as JobView;
    if (until(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} stuck: ${res.text}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A POST /train body for the fake aggregator's tiny model (32 px, width 8), round 1. */
export function trainRequest(
  model: { id: string; sha256: string },
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    runId: 'run-1',
    round: 1,
    model,
    architecture: 'se-resnet18-gn',
    inputSize: 32,
    width: 8,
    preprocessing: { inputSize: 32, normalization: 'per-image', equalize: false },
    settings: { epochs: 1, batchSize: 8, augment: false },
    schedule: { startEpoch: 0, totalEpochs: 2 },
    ...overrides,
  };
}
