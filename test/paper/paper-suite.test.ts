/**
 * A dry run of the whole paper suite (bench/paper) with the `tiny` profile on the shipped
 * sample: every experiment writes its result file with all metrics and 95% intervals, the
 * Markdown reports and PNG curves are made, and a second run skips everything (resumable).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPaperSuite } from '../../bench/paper/cli.ts';
import { writeResultsOverview } from '../../bench/paper/overview.ts';
import { estimateSeconds } from '../../bench/paper/estimate.ts';
import { buildPlan, selectExperiments } from '../../bench/paper/experiments.ts';
import { resolveProfile } from '../../bench/paper/profiles.ts';
import { loadResults, resultPath, type ExperimentResult } from '../../bench/paper/results.ts';
import { classWeightsFromCounts, SAMPLE_DATA_DIR } from '../../shared/data/index.ts';

const run = promisify(execFile);
const RUN_SCRIPT = new URL('../../bench/paper/run.ts', import.meta.url).pathname;
const REPO = new URL('../../', import.meta.url).pathname;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const METRICS = ['accuracy', 'precision', 'recall', 'specificity', 'f1', 'auc'] as const;

let work: string;
let results: string;
const logs: string[] = [];
const suite = (...args: string[]): Promise<number> =>
  runPaperSuite(args, { log: (m) => logs.push(m) });

beforeAll(async () => {
  process.env.FEDXRAY_QUIET = '1';
  work = await mkdtemp(join(tmpdir(), 'fedxray-paper-'));
  results = join(work, 'tiny');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('paper suite profiles and plan', () => {
  it('lists the experiments of every group with unique ids', () => {
    const plan = buildPlan(resolveProfile('cpu'));
    const ids = plan.experiments.map((e) => e.spec.id);
    expect(new Set(ids).size).toBe(ids.length);
    const group = (g: string): string[] =>
      plan.experiments.filter((e) => e.groups.includes(g as never)).map((e) => e.spec.id);
    expect(group('table2')).toHaveLength(8);
    expect(group('table3').sort()).toEqual([
      'centralised/alexnet/b16',
      'centralised/resnet18/b16',
      'centralised/se-resnet18-bn/b16',
      'centralised/vgg16/b16-e3',
      'federated/se-resnet18-gn/iid',
    ]);
    expect(group('curves').sort()).toEqual(group('table3').sort());
    // cpu: the pooled baseline has the federation's budget (6 rounds x 1 = 6 epochs), so it
    // is Table 2's SE-ResNet-GN run at batch 16.
    expect(group('federate')).toContain('centralised/se-resnet18-gn/b16');
    expect(group('federate').filter((id) => id.startsWith('local-only/'))).toHaveLength(6);
    // The operating point: the IID federation, and again with calibration splits.
    expect(group('threshold').sort()).toEqual([
      'federated/se-resnet18-gn/iid',
      'federated/se-resnet18-gn/iid-calibrated',
    ]);
    const calibrated = plan.experiments.find(
      (e) => e.spec.id === 'federated/se-resnet18-gn/iid-calibrated',
    );
    expect(calibrated?.spec.calibration).toEqual({
      fraction: 0.1,
      rule: 'min-recall:0.97',
      bins: 200,
    });
    expect(calibrated?.spec.federation).toEqual(
      plan.experiments.find((e) => e.spec.id === 'federated/se-resnet18-gn/iid')?.spec.federation,
    );
    // Why federate, non-IID: the Dirichlet federation again with federation-wide class weights,
    // the same spec otherwise.
    const dirichlet = plan.experiments.find(
      (e) => e.spec.id === 'federated/se-resnet18-gn/dirichlet-0.5',
    );
    const weighted = plan.experiments.find(
      (e) => e.spec.id === 'federated/se-resnet18-gn/dirichlet-0.5-federation-weights',
    );
    expect(weighted?.groups).toEqual(['federate']);
    expect(weighted?.spec.classWeights).toBe('federation');
    expect({ ...weighted?.spec, id: undefined, title: undefined, classWeights: undefined }).toEqual(
      { ...dirichlet?.spec, id: undefined, title: undefined },
    );
    expect(dirichlet?.spec.classWeights).toBeUndefined();
    expect(weighted?.spec.title).toBe(`${dirichlet?.spec.title}, federation-wide class weights`);
    const size = { train: 4694, val: 522 };
    const options = { workers: 2, jobs: 1 };
    expect(estimateSeconds(weighted!, size, options)).toBe(
      estimateSeconds(dirichlet!, size, options),
    );
    expect(plan.experiments).toHaveLength(21);
    const cpuFed = plan.experiments.find((e) => e.spec.id === 'federated/se-resnet18-gn/iid');
    expect(cpuFed?.spec.preprocessing.inputSize).toBe(64);

    const paper = buildPlan(resolveProfile('paper'));
    const fed = paper.experiments.find((e) => e.spec.id === 'federated/se-resnet18-gn/iid');
    expect(fed?.spec.federation).toMatchObject({ clients: 3, rounds: 20 });
    expect(fed?.spec.settings.epochs).toBe(10);
    expect(fed?.spec.preprocessing.inputSize).toBe(224);
    expect(fed?.spec.width).toBe(64);
    // 200 epochs of budget differ from the 50 centralised epochs: a pooled run of its own.
    expect(paper.experiments.map((e) => e.spec.id)).toContain(
      'centralised/se-resnet18-gn/b16-e200',
    );
    expect(paper.experiments).toHaveLength(22);
    expect(
      paper.experiments.find(
        (e) => e.spec.id === 'federated/se-resnet18-gn/dirichlet-0.5-federation-weights',
      )?.spec.federation,
    ).toEqual(
      paper.experiments.find((e) => e.spec.id === 'federated/se-resnet18-gn/dirichlet-0.5')?.spec
        .federation,
    );
    const tiny = buildPlan(resolveProfile('tiny'));
    expect(
      tiny.experiments
        .filter((e) => e.groups.includes('federate') && e.spec.kind === 'federated')
        .map((e) => e.spec.id),
    ).toEqual([
      'federated/se-resnet18-gn/iid',
      'federated/se-resnet18-gn/dirichlet-0.5',
      'federated/se-resnet18-gn/dirichlet-0.5-federation-weights',
    ]);
    expect(() => selectExperiments(paper, ['table9'])).toThrow(/nothing matches table9/);
    expect(selectExperiments(paper, ['local-only/*'])).toHaveLength(6);
  });
});

describe('paper suite --plan', () => {
  it('lists the federation with federation-wide class weights with an estimate', async () => {
    logs.length = 0;
    const code = await suite('--profile', 'cpu', '--plan', '--results', join(work, 'no-results'));
    expect(code).toBe(0);
    const text = logs.join('\n');
    expect(text).toMatch(
      /pending +federated\/se-resnet18-gn\/dirichlet-0\.5-federation-weights +federate +\d+ min/,
    );
    expect(text).toMatch(/21 of 21 to run/);
  });
});

describe('paper suite dry run (tiny profile, shipped sample)', () => {
  let first: ExperimentResult[];

  it('runs every experiment and writes its result file', async () => {
    const code = await suite('--profile', 'tiny', '--data', SAMPLE_DATA_DIR, '--results', results);
    expect(code, logs.join('\n')).toBe(0);
    const plan = buildPlan(resolveProfile('tiny'));
    first = await loadResults(results);
    expect(first.map((r) => r.id).sort()).toEqual(plan.experiments.map((e) => e.spec.id).sort());

    const valHashes = new Set(first.map((r) => r.data.valHash));
    expect(valHashes.size).toBe(1); // the same validation split everywhere
    for (const r of first) {
      const e = plan.experiments.find((x) => x.spec.id === r.id);
      expect(r.spec).toEqual(e?.spec);
      expect(r.groups.sort()).toEqual(e?.groups.sort());
      expect(r.data.valImages).toBeGreaterThan(0);
      expect(r.data.usedImages).toBe(40);
      expect(r.metrics.n).toBe(r.data.valImages);
      for (const m of METRICS) {
        const { value, ci95 } = r.metrics[m];
        expect(value, `${r.id} ${m}`).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(1);
        expect(ci95[0]).toBeLessThanOrEqual(value + 1e-12);
        expect(ci95[1]).toBeGreaterThanOrEqual(value - 1e-12);
      }
      const steps = r.kind === 'federated' ? r.spec.federation?.rounds : r.spec.settings.epochs;
      expect(r.history).toHaveLength(steps as number);
      for (const h of r.history) {
        expect(Number.isFinite(h.trainLoss)).toBe(true);
        expect(h.valAccuracy).toBeTypeOf('number');
        expect(h.valLoss).toBeTypeOf('number');
      }
      expect(r.wallSeconds).toBeGreaterThan(0);
      expect(r.machine.cpus).toBeGreaterThan(0);
      expect(r.machine.cpuModel).toBeTypeOf('string');
      expect(r.machine.memoryGiB).toBeGreaterThan(0);
      expect(r.backend.name).toBeTypeOf('string');
      expect(Date.parse(r.finishedAt)).toBeGreaterThanOrEqual(Date.parse(r.startedAt));
    }
  });

  it('trains each hospital alone on exactly its share of the federation', () => {
    for (const scheme of ['iid', 'dirichlet-0.5']) {
      const fed = first.find((r) => r.id === `federated/se-resnet18-gn/${scheme}`);
      expect(fed?.partitions).toHaveLength(3);
      for (let h = 1; h <= 3; h++) {
        const local = first.find(
          (r) => r.id === `local-only/se-resnet18-gn/${scheme}/hospital-${h}`,
        );
        expect(local?.partitions).toEqual([fed?.partitions?.[h - 1]]);
        expect(local?.spec.settings.epochs).toBe(2); // the federation's 2 rounds x 1 epoch
      }
    }
  });

  it("trains the federation-wide class weights run on the same shares with the summed counts' weights", () => {
    const plain = first.find((r) => r.id === 'federated/se-resnet18-gn/dirichlet-0.5');
    const weighted = first.find(
      (r) => r.id === 'federated/se-resnet18-gn/dirichlet-0.5-federation-weights',
    );
    expect(weighted?.groups).toEqual(['federate']);
    expect(weighted?.partitions).toEqual(plain?.partitions);
    const shares = weighted?.partitions ?? [];
    const counts: [number, number] = [
      shares.reduce((s, p) => s + p.images - p.pneumonia, 0),
      shares.reduce((s, p) => s + p.pneumonia, 0),
    ];
    expect(weighted?.classWeights).toEqual({
      source: 'federation',
      counts,
      weights: classWeightsFromCounts(counts),
    });
    expect(plain?.classWeights).toBeUndefined();
    // Only the class weights differ, and they change the training.
    expect(weighted?.history[0].trainLoss).not.toBe(plain?.history[0].trainLoss);
  });

  it("chooses the calibrated threshold on the hospitals' held-out splits only", () => {
    const plain = first.find((r) => r.id === 'federated/se-resnet18-gn/iid');
    const calibrated = first.find((r) => r.id === 'federated/se-resnet18-gn/iid-calibrated');
    const c = calibrated?.calibration;
    expect(c?.rule).toBe('min-recall:0.97');
    expect(calibrated?.threshold).toEqual(c?.threshold);
    expect(calibrated?.metrics.threshold).toBe(c?.threshold.threshold);
    expect(calibrated?.metricsAtDefault?.threshold).toBe(0.5);
    // Held out: the shares trained on are smaller than the uncalibrated federation's by
    // exactly the calibration images, which are the images the threshold was chosen on.
    const held = calibrated?.partitions?.map((p) => p.calibrationImages ?? 0) ?? [];
    expect(held.reduce((s, n) => s + n, 0)).toBe(c?.images);
    calibrated?.partitions?.forEach((p, i) =>
      expect(p.images + (p.calibrationImages ?? 0)).toBe(plain?.partitions?.[i].images),
    );
    if (c && c.pneumonia > 0) expect(c.recall).toBeGreaterThanOrEqual(0.97);
    expect(plain?.calibration).toBeUndefined();
  });

  it('writes the Markdown tables and PNG curves', async () => {
    for (const file of [
      'README.md',
      'table2.md',
      'table3.md',
      'federate.md',
      'curves.md',
      'threshold.md',
    ]) {
      const text = await readFile(join(results, file), 'utf8');
      expect(text).toMatch(/^# /);
      expect(text).not.toMatch(/not run yet/);
    }
    const table3 = await readFile(join(results, 'table3.md'), 'utf8');
    expect(table3).toMatch(/\| FL-SE-ResNet-GN \| federated \| 0\.952 \| \d\.\d{3} \[/);
    expect(table3).toMatch(/\| VGG-16 \| centralised \| 0\.847 \|/);
    expect(table3).toMatch(/Wall time and machine/);
    const threshold = await readFile(join(results, 'threshold.md'), 'utf8');
    expect(threshold).toMatch(
      /\| Paper: FL-SE-ResNet-GN on .* \| - \| 0\.952 \| 0\.933 \| 0\.974 \|/,
    );
    expect(threshold).toMatch(/at the calibrated threshold \(min-recall:0\.97\)/);
    expect(threshold).toMatch(/No validation image took part in the choice/);
    const federate = await readFile(join(results, 'federate.md'), 'utf8');
    expect(federate).toMatch(/Federated, Dirichlet alpha 0\.5/);
    // The federation-wide class weights row comes right after the Dirichlet federation's.
    expect(federate).toMatch(
      /\| Federated, Dirichlet alpha 0\.5 \| [^\n]+\n\| Federated, Dirichlet alpha 0\.5, federation-wide class weights \| [\d +]+ images \| \d\.\d{3} \[/,
    );
    const weighted = first.find(
      (r) => r.id === 'federated/se-resnet18-gn/dirichlet-0.5-federation-weights',
    );
    const w = weighted?.classWeights;
    expect(federate).toContain(
      `weighted every hospital's loss by NORMAL ${w?.weights[0].toFixed(4)}, PNEUMONIA ${w?.weights[1].toFixed(4)}, computed from the summed class counts of the three shares (${w?.counts[0]} NORMAL, ${w?.counts[1]} PNEUMONIA images)`,
    );
    expect(federate).toMatch(/Pooled centralised/);
    for (const png of [
      'table2-val-accuracy.png',
      'table2-val-loss.png',
      'federate-iid-val-accuracy.png',
      'federate-dirichlet-val-loss.png',
      'curves-val-accuracy.png',
      'curves-val-loss.png',
    ]) {
      const bytes = await readFile(join(results, png));
      expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE), png).toBe(true);
    }
  });

  it('writes the overview (docs/results.md) from the committed result files only', async () => {
    const out = join(work, 'results.md');
    await writeResultsOverview(join(REPO, 'docs/results'), out);
    const text = await readFile(out, 'utf8');
    expect(text).toMatch(/\| `cpu` \| \d+ of 21 \|/);
    expect(text).toMatch(/\| `paper` \| \d+ of 22 \|/);
    // The committed federation-weights result, in the row after the Dirichlet federation.
    expect(text).toMatch(
      /\| Federated, Dirichlet alpha 0\.5 \|[^\n]+\n\| Federated, Dirichlet alpha 0\.5, federation-wide class weights \| [^|]+ \| 0\.743 \[0\.704, 0\.779\] \|/,
    );
    expect(text).toMatch(/## How our setup differs from the paper's/);
    // The committed federated IID result, beside the paper's 0.952.
    expect(text).toMatch(/\| FL-SE-ResNet-GN \| federated \| 0\.952 \| 0\.927 \[0\.902, 0\.947\]/);
    expect(text).toMatch(/\]\([^)]*results\/cpu\/table3\.md\)/);
  });

  it('skips everything on a second run through the CLI (resumable)', async () => {
    const before = await stat(resultPath(results, 'federated/se-resnet18-gn/iid'));
    const { stderr } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        RUN_SCRIPT,
        '--profile',
        'tiny',
        '--data',
        SAMPLE_DATA_DIR,
        '--results',
        results,
      ],
      { cwd: REPO, env: { ...process.env, FEDXRAY_QUIET: '0' }, maxBuffer: 1 << 24 },
    );
    expect(stderr).toMatch(/nothing to run: every selected experiment has a result/);
    expect(stderr.match(/skip .*: done/g)).toHaveLength(first.length);
    const after = await stat(resultPath(results, 'federated/se-resnet18-gn/iid'));
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });

  it('keeps results made with other settings unless --force', async () => {
    logs.length = 0;
    const code = await suite(
      '--profile',
      'tiny',
      '--data',
      SAMPLE_DATA_DIR,
      '--results',
      results,
      '--epochs',
      '3',
      '--only',
      'centralised/alexnet/b8',
    );
    expect(code).toBe(0);
    expect(logs.join('\n')).toMatch(
      /skip centralised\/alexnet\/b8: a result exists but its settings differ \(settings\)/,
    );
    const stored = (await loadResults(results)).find((r) => r.id === 'centralised/alexnet/b8');
    expect(stored?.spec.settings.epochs).toBe(2);
  });

  it('trains centralised models without BatchNorm data-parallel with --threads, BN on one thread', async () => {
    const dir = join(work, 'threads');
    logs.length = 0;
    const code = await suite(
      '--profile',
      'tiny',
      '--data',
      SAMPLE_DATA_DIR,
      '--results',
      dir,
      '--threads',
      '2',
      '--only',
      'centralised/se-resnet18-gn/b8,centralised/se-resnet18-bn/b8',
    );
    expect(code, logs.join('\n')).toBe(0);
    const written = await loadResults(dir);
    const threads = Object.fromEntries(written.map((r) => [r.id, r.workers]));
    expect(threads).toEqual({
      'centralised/se-resnet18-gn/b8': 2,
      'centralised/se-resnet18-bn/b8': 1,
    });
    expect(logs.join('\n')).toMatch(/se-resnet18-gn\/b8\] .*data-parallel on 2 threads/);
    // Same settings: the single-thread result of the first dry run stays comparable.
    const single = first.find((r) => r.id === 'centralised/se-resnet18-gn/b8');
    const parallel = written.find((r) => r.id === 'centralised/se-resnet18-gn/b8');
    expect(parallel?.spec).toEqual(single?.spec);
    // The report's rerun command keeps the threads (the numbers depend on them).
    const table2 = await readFile(join(dir, 'table2.md'), 'utf8');
    expect(table2).toContain('--only centralised/se-resnet18-gn/b8 --force --threads 2`');
    expect(table2).toContain('--only centralised/se-resnet18-bn/b8 --force`');
  });

  it('--verify reruns stored results and finds them reproduced, data-parallel ones included; a tampered one differs', async () => {
    const verify = async (dir: string, id: string): Promise<{ code: number; text: string }> => {
      logs.length = 0;
      const code = await suite(
        '--profile',
        'tiny',
        '--data',
        SAMPLE_DATA_DIR,
        '--results',
        dir,
        '--verify',
        '--only',
        id,
      );
      return { code, text: logs.join('\n') };
    };
    const weighted = await verify(
      results,
      'federated/se-resnet18-gn/dirichlet-0.5-federation-weights',
    );
    expect(weighted.code, weighted.text).toBe(0);
    expect(weighted.text).toMatch(/dirichlet-0\.5-federation-weights: reproduced/);
    const single = await verify(results, 'centralised/se-resnet18-gn/b8');
    expect(single.code, single.text).toBe(0);
    expect(single.text).toMatch(/centralised\/se-resnet18-gn\/b8: reproduced/);
    expect(single.text).toMatch(/\| accuracy \| [\d.]+ \| [\d.]+ \| yes \|/);
    // Made on 2 threads (the --threads test above): rerun on 2 threads, the same numbers.
    const parallel = await verify(join(work, 'threads'), 'centralised/se-resnet18-gn/b8');
    expect(parallel.code, parallel.text).toBe(0);
    expect(parallel.text).toMatch(/rerun with 2 thread\(s\)/);

    const path = resultPath(results, 'centralised/se-resnet18-gn/b8');
    const original = await readFile(path, 'utf8');
    const tampered = JSON.parse(original) as ExperimentResult;
    tampered.metrics.auc.value = Math.max(0, tampered.metrics.auc.value - 0.01);
    await writeFile(path, JSON.stringify(tampered));
    try {
      const differs = await verify(results, 'centralised/se-resnet18-gn/b8');
      expect(differs.code).toBe(1);
      expect(differs.text).toMatch(/DIFFERS/);
      expect(differs.text).toMatch(/\| auc \| [\d.]+ \| [\d.]+ \| NO \|/);
    } finally {
      await writeFile(path, original);
    }
    const missing = await verify(join(work, 'threads'), 'centralised/alexnet/b8');
    expect(missing.code).toBe(1);
    expect(missing.text).toMatch(/cannot verify centralised\/alexnet\/b8: there is no result/);
  });

  it('dry-runs the paper profile at tiny size with its own structure', async () => {
    const dir = join(work, 'paper-dry-run');
    logs.length = 0;
    const code = await suite(
      '--profile',
      'paper',
      '--dry-run',
      '--data',
      SAMPLE_DATA_DIR,
      '--results',
      dir,
      '--only',
      'federated/se-resnet18-gn/iid,centralised/se-resnet18-bn/b16',
    );
    expect(code, logs.join('\n')).toBe(0);
    const written = await loadResults(dir);
    expect(written.map((r) => r.id).sort()).toEqual([
      'centralised/se-resnet18-bn/b16',
      'federated/se-resnet18-gn/iid',
    ]);
    for (const r of written) {
      expect(r.profile).toBe('paper');
      expect(r.dryRun).toBe(true);
      expect(r.spec.preprocessing.inputSize).toBe(32);
      expect(r.spec.settings.batchSize).toBe(16); // the paper profile's batch size
    }
    const table3 = await readFile(join(dir, 'table3.md'), 'utf8');
    expect(table3).toMatch(/dry run at tiny scale/);
    expect(table3).toMatch(/not run yet/); // AlexNet, ResNet-18, VGG-16 were not selected
    const federate = await readFile(join(dir, 'federate.md'), 'utf8');
    expect(federate).toMatch(
      /\| Federated, Dirichlet alpha 0\.5, federation-wide class weights \| - \| - \| - \| - \| - \| - \|/,
    );
    expect(federate).toMatch(
      /federation-wide class weights \(not run yet\) gives every hospital's loss one set of class weights, computed from the summed class counts of the three shares/,
    );
    expect(federate).toMatch(
      /\| FL-SE-ResNet-GN, 3 hospitals non-IID .*federation-wide class weights \| not run yet/,
    );
  });
});
