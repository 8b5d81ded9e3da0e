/**
 * The inference API's own Prometheus metrics: diagnoses by label and model, model loads
 * (time, failures) and which model is loaded (docs/metrics.md).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LoadedModelInfo } from '../schemas/model.ts';

/** Seconds: a tiny test model in well under a second, a downloaded ensemble in tens. */
export const MODEL_LOAD_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

type ModelSource = LoadedModelInfo['source'];

/**
 * The model's version as a label: the aggregator's version number, or the model id
 * (`local-<sha256 prefix>`) for a MODEL_DIR model, which has none.
 */
export function modelVersionLabel(info: Pick<LoadedModelInfo, 'id' | 'version'>): string {
  return info.version === null ? info.id : String(info.version);
}

export class InferenceMetrics {
  private readonly diagnoses: Counter<'label' | 'model_version'>;
  private readonly loadSeconds: Histogram<'source'>;
  private readonly pollFailures: Counter;
  private readonly modelInfo: Gauge<'id' | 'version' | 'source'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.diagnoses = new Counter({
      name: 'fedxray_diagnoses_total',
      help: 'Diagnoses answered (POST /diagnose 200), by label and model version',
      labelNames: ['label', 'model_version'],
      registers,
    });
    this.loadSeconds = new Histogram({
      name: 'fedxray_model_load_seconds',
      help: 'Time to load a model (read or download, build, warm up) before it is swapped in',
      labelNames: ['source'],
      buckets: MODEL_LOAD_BUCKETS,
      registers,
    });
    this.pollFailures = new Counter({
      name: 'fedxray_model_poll_failures_total',
      help: "Polls of the aggregator's production model that failed (the current model stays)",
      registers,
    });
    this.modelInfo = new Gauge({
      name: 'fedxray_model_info',
      help: 'The model in service (1); absent while none is loaded',
      labelNames: ['id', 'version', 'source'],
      registers,
    });
  }

  diagnosis(label: string, model: Pick<LoadedModelInfo, 'id' | 'version'>): void {
    this.diagnoses.inc({ label, model_version: modelVersionLabel(model) });
  }

  /** A model was loaded in `seconds` and is now the one in service. */
  modelLoaded(info: LoadedModelInfo, seconds: number): void {
    const source: ModelSource = info.source;
    this.loadSeconds.observe({ source }, seconds);
    this.modelInfo.reset();
    this.modelInfo.set({ id: info.id, version: modelVersionLabel(info), source }, 1);
  }

  pollFailed(): void {
    this.pollFailures.inc();
  }
}
