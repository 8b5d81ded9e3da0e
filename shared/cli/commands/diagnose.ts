import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InferenceApiClient, type Diagnosis } from '../../client/inference-api.ts';
import { flag, parseCommandArgs, stringOpt, UsageError } from '../options.ts';

export const DIAGNOSE_HELP = `fedxray diagnose --api URL [--api-key K] FILE... [--explain DIR] [--json]
  Diagnoses each X-ray (JPEG, PNG or DICOM) with a running inference API: one line per file,
  or one JSON object per line with --json. --explain DIR asks for Grad-CAM explanations and
  writes each heatmap as DIR/<file>.heatmap.png. --api and --api-key default to
  FEDXRAY_INFERENCE_URL and FEDXRAY_API_KEY. Research use only: not a medical device.`;

/** The part of an answer's explanation this command reads (absent from older APIs). */
interface HeatmapExplanation {
  heatmapPng: string;
}

function heatmapOf(answer: Diagnosis): string | undefined {
  const explanation = (answer as { explanation?: Partial<HeatmapExplanation> }).explanation;
  return typeof explanation?.heatmapPng === 'string' ? explanation.heatmapPng : undefined;
}

export async function diagnoseCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    argv,
    {
      api: { type: 'string' },
      'api-key': { type: 'string' },
      explain: { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (args.positionals.length === 0) throw new UsageError('diagnose needs at least one file');
  const baseUrl = stringOpt(args, 'api', process.env.FEDXRAY_INFERENCE_URL ?? '');
  if (!baseUrl) throw new UsageError('--api is required (or FEDXRAY_INFERENCE_URL)');
  const apiKey = stringOpt(args, 'api-key', process.env.FEDXRAY_API_KEY ?? '') || undefined;
  const explainDir = typeof args.values.explain === 'string' ? args.values.explain : undefined;
  if (explainDir) await mkdir(explainDir, { recursive: true });
  const api = new InferenceApiClient({ baseUrl, apiKey, timeoutMs: 120_000, retry: {} });
  const json = flag(args, 'json');
  let failures = 0;
  for (const file of args.positionals) {
    const name = basename(file);
    try {
      const answer = await api.diagnose(await readFile(file), name, { explain: !!explainDir });
      let heatmap: string | undefined;
      if (explainDir) {
        const png = heatmapOf(answer);
        if (!png) throw new Error('the API answered no explanation (does it support explain?)');
        heatmap = join(explainDir, `${name}.heatmap.png`);
        await writeFile(heatmap, Buffer.from(png, 'base64'));
      }
      const { explanation: _explanation, ...rest } = answer;
      process.stdout.write(
        json
          ? `${JSON.stringify({ file, ...rest, ...(heatmap ? { heatmap } : {}) })}\n`
          : `${name}\t${answer.label}\tp(pneumonia)=${answer.probability.toFixed(4)}` +
              `\tthreshold=${answer.threshold.toFixed(4)}${heatmap ? `\t${heatmap}` : ''}\n`,
      );
    } catch (error) {
      failures++;
      const message = (error as Error).message;
      process.stdout.write(
        json ? `${JSON.stringify({ file, error: message })}\n` : `${name}\terror: ${message}\n`,
      );
    }
  }
  return failures > 0 ? 1 : 0;
}
