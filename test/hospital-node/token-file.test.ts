/**
 * HOSPITAL_TOKEN_FILE: the node takes up a rotated token without a restart, both for the
 * aggregator's signed calls it checks and for its own calls to the aggregator.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { loadHospitalConfig } from '../../services/hospital-node/config.ts';
import type { JobView } from '../../services/hospital-node/schemas/job.ts';
import { signedPost, TOKEN, trainRequest, waitForJob } from './fixtures.ts';
import { useHospitalNode } from './test-node.ts';

const NEW_TOKEN = 'rotated-hospital-token-9876543210';

let dir: string;
let tokenPath: string;
const warnings: string[] = [];

const hospital = useHospitalNode({
  perClass: 6,
  config: async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fedxray-token-file-'));
    tokenPath = path.join(dir, 'hospital-token');
    await writeFile(tokenPath, `${TOKEN}\n`);
    return { hospitalToken: undefined, hospitalTokenFile: tokenPath };
  },
  deps: {
    logger: {
      level: 'warn',
      stream: { write: (line: string) => void warnings.push(line) },
    },
    retry: { retries: 1, minTimeoutMs: 10 },
  },
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

let round = 0;

/** A new job each call (a repeated run and round would answer the same job). */
function train(token: string): request.Test {
  round++;
  return signedPost(hospital.node, '/train', trainRequest(hospital.fake.model, { round }), {
    token,
  });
}

const finished = (jobId: string): Promise<JobView> => waitForJob(hospital.node, jobId);

/** The file is looked at once a second at most. */
const afterRecheck = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1100));

describe('hospital node: HOSPITAL_TOKEN_FILE', () => {
  it('uses the token in the file for signed calls and its own requests', async () => {
    const res = await train(TOKEN);
    expect(res.status, res.text).toBe(202);
    const job = await finished(res.body.jobId as string);
    expect(job.status, JSON.stringify(job)).toBe('done');
    expect(hospital.fake.updates.at(-1)?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('takes up a rotated token without a restart', async () => {
    await writeFile(tokenPath, `${NEW_TOKEN}\n`);
    await afterRecheck();
    const old = await train(TOKEN);
    expect(old.status).toBe(401);
    const res = await train(NEW_TOKEN);
    expect(res.status, res.text).toBe(202);
    // The fake aggregator still knows only the old token: the node's download, now sent with
    // the new one, is refused, which shows what it sent.
    const job = await finished(res.body.jobId as string);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/answered GET .*\/weights with 401/);
    expect(job.error).not.toContain(NEW_TOKEN);
  });

  it('keeps the token in force when the file is later unreadable or holds no valid token', async () => {
    await writeFile(tokenPath, 'short\n');
    await afterRecheck();
    const res = await train(NEW_TOKEN);
    expect(res.status, res.text).toBe(202);
    await finished(res.body.jobId as string);
    expect(warnings.join('')).toMatch(
      /HOSPITAL_TOKEN_FILE: .*the token read before stays in force/,
    );
    expect(warnings.join('')).not.toContain(NEW_TOKEN);
  });

  it('needs exactly one of HOSPITAL_TOKEN and HOSPITAL_TOKEN_FILE', () => {
    const env = {
      HOSPITAL_ID: 'h',
      DATA_DIR: hospital.secrets.dir,
      AGGREGATOR_URL: 'http://127.0.0.1:1',
    };
    expect(() => loadHospitalConfig(env)).toThrow(
      /HOSPITAL_TOKEN or HOSPITAL_TOKEN_FILE is required/,
    );
    expect(() =>
      loadHospitalConfig({ ...env, HOSPITAL_TOKEN: TOKEN, HOSPITAL_TOKEN_FILE: tokenPath }),
    ).toThrow(/not both/);
    expect(loadHospitalConfig({ ...env, HOSPITAL_TOKEN_FILE: tokenPath }).hospitalTokenFile).toBe(
      tokenPath,
    );
  });
});
