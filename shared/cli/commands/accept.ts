/** fedxray accept: a site checks the served model on its own labelled images before use. */
import { loadDataset } from '../../data/index.ts';
import { formatReportTable } from '../../metrics/index.ts';
import type { OperatingTarget } from '../../metrics/target-threshold.ts';
import { runAcceptance, type AcceptanceReport } from '../acceptance.ts';
import { InferenceApiClient, type ThresholdChange } from '../../client/index.ts';
import {
  flag,
  numberOpt,
  parseCommandArgs,
  stringOpt,
  UsageError,
  type ParsedArgs,
} from '../options.ts';
import { printJson } from '../output.ts';
import { createProgress } from '../progress.ts';
import { formatScores } from './evaluate.ts';

export const ACCEPT_HELP = `fedxray accept --api URL --data DIR [--api-key KEY] [--target-sensitivity S | --target-specificity S]
               [--set --admin-token TOKEN --reason TEXT] [--concurrency 4] [--bootstrap 1000] [--json]
  Scores a labelled directory (NORMAL/ and PNEUMONIA/ folders, or a manifest.csv) with a running
  inference API (POST URL/diagnose, x-api-key KEY when given; 429/503 retried) and reports the
  metrics with 95% intervals at the API's threshold. The images are only sent to /diagnose.
  --target-sensitivity S: the highest threshold with sensitivity >= S on these images;
  --target-specificity S: the lowest with specificity >= S; with the metrics there and the
  interval of what was reached (wide with few images).
  --set: PUT that threshold to URL/models/current/threshold (the API's ADMIN_TOKEN, a --reason;
  needs a target and every image scored). Exit 1 when an image failed or --set did not happen.`;

const MAX_REASON_LENGTH = 500;

interface SetRequest {
  adminToken: string;
  reason: string;
}

type SetOutcome =
  | { done: true; threshold: number; thresholdSource: 'model' | 'site' | null; modelId: string }
  | { done: false; error: string };

export async function acceptCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    api: { type: 'string' },
    data: { type: 'string' },
    'api-key': { type: 'string' },
    'target-sensitivity': { type: 'string' },
    'target-specificity': { type: 'string' },
    set: { type: 'boolean' },
    'admin-token': { type: 'string' },
    reason: { type: 'string' },
    concurrency: { type: 'string' },
    bootstrap: { type: 'string' },
    json: { type: 'boolean' },
  });
  const api = apiUrl(stringOpt(args, 'api'));
  const dataDir = stringOpt(args, 'data');
  const target = targetOpt(args);
  const set = setOpt(args, target);
  const concurrency = numberOpt(args, 'concurrency', 4, { integer: true, min: 1, max: 64 });
  const bootstrapSamples = numberOpt(args, 'bootstrap', 1000, {
    integer: true,
    min: 0,
    max: 100000,
  });
  const apiKey = args.values['api-key'];

  const records = await loadDataset(dataDir);
  const client = new InferenceApiClient({
    baseUrl: api,
    apiKey: typeof apiKey === 'string' ? apiKey : undefined,
    timeoutMs: 60_000,
    retry: {},
  });
  const progress = createProgress({ label: 'accept', total: records.length });
  const report = await runAcceptance({
    client,
    records,
    concurrency,
    bootstrapSamples,
    target,
    onProgress: (done) => progress.update(done),
  });
  progress.done();

  let outcome: SetOutcome | null = null;
  if (set) outcome = await setThreshold(api, report, set);
  if (flag(args, 'json')) printJson({ api, data: dataDir, ...report, set: outcome });
  else process.stdout.write(formatAcceptance(api, dataDir, report, outcome) + '\n');

  if (report.failed.length > 0) {
    process.stderr.write(`fedxray accept: ${report.failed.length} images could not be scored\n`);
  }
  if (outcome && !outcome.done) process.stderr.write(`fedxray accept: not set: ${outcome.error}\n`);
  return report.failed.length > 0 || (outcome !== null && !outcome.done) ? 1 : 0;
}

function apiUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--api must be a URL such as http://127.0.0.1:3200, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--api must be an http:// or https:// URL, got "${text}"`);
  }
  return text.replace(/\/+$/, '');
}

function targetOpt(args: ParsedArgs): OperatingTarget | undefined {
  const given = (['sensitivity', 'specificity'] as const).filter(
    (metric) => args.values[`target-${metric}`] !== undefined,
  );
  if (given.length > 1) {
    throw new UsageError('give --target-sensitivity or --target-specificity, not both');
  }
  const [metric] = given;
  if (!metric) return undefined;
  const value = numberOpt(args, `target-${metric}`, 0, { min: 0, max: 1 });
  if (value === 0) throw new UsageError(`--target-${metric} must be > 0`);
  return { metric, value };
}

function setOpt(args: ParsedArgs, target: OperatingTarget | undefined): SetRequest | undefined {
  if (!flag(args, 'set')) {
    for (const name of ['admin-token', 'reason']) {
      if (args.values[name] !== undefined) throw new UsageError(`--${name} goes with --set`);
    }
    return undefined;
  }
  if (!target) {
    throw new UsageError('--set needs --target-sensitivity or --target-specificity');
  }
  const adminToken = stringOpt(args, 'admin-token');
  const reason = stringOpt(args, 'reason').trim();
  if (reason === '' || reason.length > MAX_REASON_LENGTH) {
    throw new UsageError(`--reason must be 1 to ${MAX_REASON_LENGTH} characters`);
  }
  return { adminToken, reason };
}

/** PUTs the target's threshold, only when it was reached on every image of DIR. */
async function setThreshold(
  api: string,
  report: AcceptanceReport,
  request: SetRequest,
): Promise<SetOutcome> {
  const { target } = report;
  if (!target) return { done: false, error: 'no target' };
  if (!target.reached) return { done: false, error: target.reason };
  if (report.failed.length > 0) {
    return {
      done: false,
      error: `${report.failed.length} images were not scored: the threshold would not rest on all of DIR`,
    };
  }
  const client = new InferenceApiClient({ baseUrl: api, token: request.adminToken, retry: {} });
  try {
    const current = await client.currentModel();
    if (current.sha256 !== report.model.sha256) {
      return {
        done: false,
        error: `the API now serves another model (${current.id}) than the one measured (${report.model.id})`,
      };
    }
    const { recall, specificity, confusion } = target.metrics;
    const change: ThresholdChange = {
      threshold: target.threshold,
      reason: request.reason,
      basis: {
        n: report.n,
        target: { metric: target.metric, value: target.value },
        // An absent class has no sensitivity (or specificity) to record.
        ...(confusion.tp + confusion.fn > 0 ? { sensitivity: recall.value } : {}),
        ...(confusion.tn + confusion.fp > 0 ? { specificity: specificity.value } : {}),
      },
    };
    const after = await client.setThreshold(change);
    return {
      done: true,
      threshold: after.threshold,
      thresholdSource: after.thresholdSource ?? null,
      modelId: after.id,
    };
  } catch (error) {
    return { done: false, error: (error as Error).message };
  }
}

function formatAcceptance(
  api: string,
  dataDir: string,
  report: AcceptanceReport,
  set: SetOutcome | null,
): string {
  const { current, target } = report;
  const source =
    current.thresholdSource === 'site'
      ? "this site's operating point"
      : current.thresholdSource === 'model'
        ? "the model's own"
        : 'source unknown';
  const lines = [
    `${report.n} images of ${dataDir} (NORMAL ${report.images.NORMAL}, PNEUMONIA ${report.images.PNEUMONIA}) scored by ${api}`,
    `model ${report.model.id} (sha256 ${report.model.sha256.slice(0, 12)}), ${report.failed.length} failed`,
    '',
    `At the API's threshold ${current.threshold} (${source}):`,
    formatReportTable(current.metrics),
    formatScores(report.scores),
  ];
  if (target) {
    lines.push('', `Target ${target.metric} >= ${target.value}:`);
    if (target.reached) {
      lines.push(
        `threshold ${target.threshold} (${target.description})`,
        formatReportTable(target.metrics),
        target.note,
      );
    } else lines.push(`not reachable: ${target.reason}`);
  }
  if (set) {
    lines.push(
      '',
      set.done
        ? `Set: the API now labels with threshold ${set.threshold} (thresholdSource ${set.thresholdSource}) for model ${set.modelId}`
        : `Not set: ${set.error}`,
    );
  }
  if (report.failed.length > 0) {
    lines.push('', 'Not scored:', ...report.failed.map((f) => `  ${f.path}: ${f.error}`));
  }
  return lines.join('\n');
}
