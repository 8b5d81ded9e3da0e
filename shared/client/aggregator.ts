/**
 * A typed client of the aggregator (services/aggregator): runs, their live events, models and
 * hospitals. Bodies and answers are typed by the routes' own TypeBox schemas.
 */
import type { Static } from '@sinclair/typebox';
import {
  CreateHospitalBodySchema,
  HospitalCreatedSchema,
  HospitalListSchema,
  HospitalViewSchema,
  UpdateHospitalBodySchema,
} from '../../services/aggregator/schemas/hospitals.ts';
import { ModelListSchema, ModelViewSchema } from '../../services/aggregator/schemas/models.ts';
import {
  CancelRunBodySchema,
  RunCreatedSchema,
  RunDetailSchema,
  RunListSchema,
  StartRunBodySchema,
} from '../../services/aggregator/schemas/runs.ts';
import { HttpClient, route, type ClientOptions } from './http.ts';
import { readServerSentEvents } from './sse.ts';

export type StartRunBody = Static<typeof StartRunBodySchema>;
export type RunDetail = Static<typeof RunDetailSchema>;
export type RunList = Static<typeof RunListSchema>;
export type ModelView = Static<typeof ModelViewSchema>;
export type HospitalView = Static<typeof HospitalViewSchema>;

/** The routes this client calls, with the schemas the aggregator declares for them. */
export const AGGREGATOR_ROUTES = {
  startRun: route('POST', '/rounds', {
    status: 202,
    body: StartRunBodySchema,
    response: RunCreatedSchema,
  }),
  listRuns: route('GET', '/rounds', { response: RunListSchema }),
  getRun: route('GET', '/rounds/{id}', { response: RunDetailSchema }),
  cancelRun: route('POST', '/rounds/{id}/cancel', {
    body: CancelRunBodySchema,
    response: RunDetailSchema,
  }),
  runEvents: route('GET', '/rounds/{id}/events'),
  listModels: route('GET', '/models', { response: ModelListSchema }),
  productionModel: route('GET', '/models/production', { response: ModelViewSchema }),
  getModel: route('GET', '/models/{id}', { response: ModelViewSchema }),
  promoteModel: route('POST', '/models/{id}/promote', { response: ModelViewSchema }),
  listHospitals: route('GET', '/hospitals', { response: HospitalListSchema }),
  createHospital: route('POST', '/hospitals', {
    status: 201,
    body: CreateHospitalBodySchema,
    response: HospitalCreatedSchema,
  }),
  getHospital: route('GET', '/hospitals/{id}', { response: HospitalViewSchema }),
  updateHospital: route('PATCH', '/hospitals/{id}', {
    body: UpdateHospitalBodySchema,
    response: HospitalViewSchema,
  }),
};

/** A progress event of GET /rounds/{id}/events (services/aggregator/lib/run-events.ts). */
export type RunEvent =
  | { type: 'snapshot'; data: RunDetail }
  | {
      type: 'round-started';
      data: { round: number; index: number; selected: Array<{ id: string; name: string }> };
    }
  | {
      type: 'hospital-updated';
      data: {
        round: number;
        hospitalId: string;
        hospital: string;
        status: string;
        failureReason: string | null;
      };
    }
  | {
      type: 'round-completed';
      data: { round: number; modelId: string; version: number; metrics: unknown };
    }
  | { type: 'round-failed'; data: { round: number; reason: string } }
  | {
      type: 'run-completed';
      data: { finalModelId: string; version: number; promoted: boolean; rounds: number };
    }
  | { type: 'run-failed'; data: { reason: string } }
  | { type: 'run-cancelled'; data: Record<string, unknown> };

export const RUN_END_EVENTS = ['run-completed', 'run-failed', 'run-cancelled'] as const;

export class AggregatorClient {
  private readonly http: HttpClient;

  /** `token`: the admin token for startRun, cancelRun, promoteModel and the hospital routes. */
  constructor(options: ClientOptions) {
    this.http = new HttpClient(options);
  }

  /** Starts a federated run (202: it goes on in the background); answers its id. */
  async startRun(settings: StartRunBody = {}): Promise<string> {
    const { id } = await this.http.call(AGGREGATOR_ROUTES.startRun, { body: settings });
    return id;
  }

  listRuns(): Promise<RunList> {
    return this.http.call(AGGREGATOR_ROUTES.listRuns);
  }

  getRun(id: string): Promise<RunDetail> {
    return this.http.call(AGGREGATOR_ROUTES.getRun, { params: { id } });
  }

  cancelRun(id: string, reason?: string): Promise<RunDetail> {
    return this.http.call(AGGREGATOR_ROUTES.cancelRun, {
      params: { id },
      body: reason === undefined ? {} : { reason },
    });
  }

  /**
   * The run's events as they happen: first `snapshot` (the run as GET /rounds/{id}), then its
   * progress, ending after run-completed, run-failed or run-cancelled (at once for a run
   * already finished). Breaking out of the loop, or `signal`, closes the stream.
   */
  async *watchRun(id: string, signal?: AbortSignal): AsyncGenerator<RunEvent> {
    const stop = new AbortController();
    const signals = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    const response = await this.http.open(AGGREGATOR_ROUTES.runEvents, {
      params: { id },
      headers: { accept: 'text/event-stream' },
      signal: signals,
      timeoutMs: 0,
    });
    try {
      if (!response.body) return;
      for await (const message of readServerSentEvents(response.body)) {
        yield { type: message.event, data: JSON.parse(message.data) } as RunEvent;
      }
    } finally {
      stop.abort();
    }
  }

  async listModels(): Promise<ModelView[]> {
    return (await this.http.call(AGGREGATOR_ROUTES.listModels)).models;
  }

  productionModel(): Promise<ModelView> {
    return this.http.call(AGGREGATOR_ROUTES.productionModel);
  }

  getModel(id: string): Promise<ModelView> {
    return this.http.call(AGGREGATOR_ROUTES.getModel, { params: { id } });
  }

  /** Puts a model into production (the previous one is archived). */
  promoteModel(id: string): Promise<ModelView> {
    return this.http.call(AGGREGATOR_ROUTES.promoteModel, { params: { id } });
  }

  /**
   * Rolls production back: promotes the newest archived version older than the production
   * one (the aggregator keeps every version; a rollback is a promotion). Answers it.
   */
  async rollbackModel(): Promise<ModelView> {
    const models = await this.listModels();
    const production = models.find((m) => m.stage === 'production');
    const previous = models
      .filter((m) => m.stage === 'archived' && (!production || m.version < production.version))
      .sort((a, b) => b.version - a.version)[0];
    if (!previous)
      throw new Error('no archived model version older than production to roll back to');
    return this.promoteModel(previous.id);
  }

  async listHospitals(): Promise<HospitalView[]> {
    return (await this.http.call(AGGREGATOR_ROUTES.listHospitals)).hospitals;
  }

  /** Registers a hospital; its token (shown once) is in the answer. */
  createHospital(body: Static<typeof CreateHospitalBodySchema>) {
    return this.http.call(AGGREGATOR_ROUTES.createHospital, { body });
  }

  getHospital(id: string): Promise<HospitalView> {
    return this.http.call(AGGREGATOR_ROUTES.getHospital, { params: { id } });
  }

  updateHospital(id: string, body: Static<typeof UpdateHospitalBodySchema>) {
    return this.http.call(AGGREGATOR_ROUTES.updateHospital, { params: { id }, body });
  }
}
