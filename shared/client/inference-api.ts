/**
 * A typed client of the inference API (services/inference-api): POST /diagnose (multipart),
 * GET /models/current and /ready. Answers are typed by the routes' own TypeBox schemas.
 */
import type { Static } from '@sinclair/typebox';
import {
  DiagnoseBodySchema,
  DiagnosisSchema,
  DiagnoseQuerySchema,
} from '../../services/inference-api/schemas/diagnose.ts';
import { ModelInfoSchema } from '../../services/inference-api/schemas/model.ts';
import {
  ClearThresholdQuerySchema,
  SetThresholdBodySchema,
} from '../../services/inference-api/schemas/operating-point.ts';
import { ReadySchema } from '../../services/inference-api/schemas/ready.ts';
import { HttpClient, route, type ClientOptions } from './http.ts';

export type Diagnosis = Static<typeof DiagnosisSchema>;
export type ModelInfo = Static<typeof ModelInfoSchema>;

/** The routes this client calls, with the schemas the inference API declares for them. */
export const INFERENCE_ROUTES = {
  diagnose: route('POST', '/diagnose', {
    body: DiagnoseBodySchema,
    response: DiagnosisSchema,
  }),
  currentModel: route('GET', '/models/current', { response: ModelInfoSchema }),
  ready: route('GET', '/ready', { response: ReadySchema }),
  setThreshold: route('PUT', '/models/current/threshold', {
    body: SetThresholdBodySchema,
    response: ModelInfoSchema,
  }),
  clearThreshold: route('DELETE', '/models/current/threshold', { response: ModelInfoSchema }),
};

export type ThresholdChange = Static<typeof SetThresholdBodySchema>;

/** The query of POST /diagnose (for the contract test). */
export const DIAGNOSE_QUERY = DiagnoseQuerySchema;

export interface InferenceApiClientOptions extends ClientOptions {
  /** Sent as x-api-key to /diagnose (API_KEYS_FILE on the server). */
  apiKey?: string;
}

const MEDIA_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  dcm: 'application/dicom',
};

/** The media type of an upload by its file name (the server checks the bytes anyway). */
export function mediaTypeOf(filename: string): string {
  const ext = filename.toLowerCase().split('.').pop() ?? '';
  return MEDIA_TYPES[ext] ?? 'application/octet-stream';
}

export class InferenceApiClient {
  private readonly http: HttpClient;

  constructor(private readonly options: InferenceApiClientOptions) {
    this.http = new HttpClient(options);
  }

  /**
   * Diagnoses one image (JPEG, PNG or DICOM bytes). With `explain`, the answer carries
   * `explanation` (a Grad-CAM heatmap PNG, base64).
   */
  diagnose(
    image: Uint8Array,
    filename: string,
    options: { explain?: boolean } = {},
  ): Promise<Diagnosis> {
    const form = new FormData();
    form.append('image', new Blob([image], { type: mediaTypeOf(filename) }), filename);
    return this.http.call(INFERENCE_ROUTES.diagnose, {
      body: form,
      query: options.explain ? { explain: true } : {},
      headers: this.options.apiKey === undefined ? {} : { 'x-api-key': this.options.apiKey },
    });
  }

  currentModel(): Promise<ModelInfo> {
    return this.http.call(INFERENCE_ROUTES.currentModel);
  }

  ready(): Promise<Static<typeof ReadySchema>> {
    return this.http.call(INFERENCE_ROUTES.ready);
  }

  /** Sets the site's threshold for the loaded model (the admin token as `token`). */
  setThreshold(change: ThresholdChange): Promise<ModelInfo> {
    return this.http.call(INFERENCE_ROUTES.setThreshold, { body: change });
  }

  /** Back to the loaded model's own threshold (audited with the reason). */
  clearThreshold(reason?: string): Promise<ModelInfo> {
    const query: Static<typeof ClearThresholdQuerySchema> = reason === undefined ? {} : { reason };
    return this.http.call(INFERENCE_ROUTES.clearThreshold, { query });
  }
}
