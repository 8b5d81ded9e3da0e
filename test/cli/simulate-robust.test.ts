// fedxray simulate with a robust strategy's settings and Byzantine hospitals: what the report
// records, and the usage errors.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fedxrayProcess } from '../helpers/fedxray-process.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_DATA_DIR } from '../../shared/data/index.ts';

const fedxray = fedxrayProcess;

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fedxray-robust-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

const simulate = (out: string, ...options: string[]): string[] => [
  'simulate',
  '--data',
  SAMPLE_DATA_DIR,
  '--out',
  out,
  ...options,
];

describe('fedxray simulate --strategy krum --byzantine', () => {
  it('federates five hospitals, one attacking, and records the strategy and the attack', async () => {
    const out = join(work, 'krum');
    const sim = await fedxray(
      ...simulate(out, '--clients', '5', '--rounds', '1', '--limit', '40', '--size', '32'),
      ...['--width', '8', '--batch', '8', '--workers', '1', '--json'],
      ...['--strategy', 'krum', '--krum-select', '2', '--byzantine', 'hospital-2:scale'],
    );
    expect(sim.code, sim.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      training: { strategy: unknown; byzantine: unknown; roundsDetail: unknown[] };
    };
    expect(report.training.strategy).toEqual({
      name: 'krum',
      fraction: 1,
      byzantine: 1,
      krumSelect: 2,
    });
    expect(report.training.byzantine).toEqual([{ clientId: 'hospital-2', attack: 'scale=-10' }]);
    expect(report.training.roundsDetail).toHaveLength(1);
  });

  it('refuses settings of another strategy and a bad attack plan with exit code 2', async () => {
    const out = join(work, 'bad');
    for (const [options, message] of [
      [['--trim-beta', '0.1'], 'trimBeta: applies to trimmed-mean only, not fedavg'],
      [['--strategy', 'krum', '--krum-f', '1.5'], '--krum-f must be an integer'],
      [['--strategy', 'krum'], 'needs 2f + 3 = 5 hospitals per round, got 3'],
      [['--byzantine', 'hospital-4:scale'], '"hospital-4" is not a simulated hospital'],
    ] as const) {
      const bad = await fedxray(...simulate(out, '--clients', '3', ...options));
      expect(bad.code, options.join(' ')).toBe(2);
      expect(bad.stderr, options.join(' ')).toContain(message);
    }
  });
});
