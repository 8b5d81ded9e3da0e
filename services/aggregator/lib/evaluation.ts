import type { Evaluation } from '../schemas/hospital-node.ts';
import type { RunSettings } from '../schemas/runs.ts';
import type { HospitalClient, HospitalTarget } from './hospital-client.ts';
import { nodeModelInput } from './run-settings.ts';

/** Ids under which a round's aggregate is served to its hospitals for evaluation. */
export const CANDIDATE_PREFIX = 'candidate-';

export interface Candidate {
  id: string;
  sha256: string;
  storagePath: string;
  sizeBytes: number;
}

/**
 * Permissions for hospitals to download a round's aggregate before it is a model version
 * (GET /models/candidate-<sha256>/weights), while the aggregator asks them to evaluate it.
 * Such downloads are audited but not counted against S_max.
 */
export class EvaluationGrants {
  private readonly grants = new Map<string, { candidate: Candidate; hospitals: Set<string> }>();

  open(candidate: Candidate, hospitalIds: readonly string[]): () => void {
    this.grants.set(candidate.id, { candidate, hospitals: new Set(hospitalIds) });
    return () => this.grants.delete(candidate.id);
  }

  find(modelId: string, hospitalId: string): Candidate | undefined {
    const grant = this.grants.get(modelId);
    return grant?.hospitals.has(hospitalId) ? grant.candidate : undefined;
  }
}

export interface HospitalEvaluation {
  hospitalId: string;
  hospitalName: string;
  evaluation?: Evaluation;
  error?: string;
}

/** Asks each hospital (in parallel) to score the candidate on its validation split. */
export async function evaluateCandidate(
  client: HospitalClient,
  grants: EvaluationGrants,
  settings: RunSettings,
  candidate: Candidate,
  hospitals: readonly HospitalTarget[],
  signal: AbortSignal,
): Promise<HospitalEvaluation[]> {
  const revoke = grants.open(
    candidate,
    hospitals.map((h) => h.id),
  );
  try {
    const body = nodeModelInput(settings, candidate);
    return await Promise.all(
      hospitals.map(async (hospital): Promise<HospitalEvaluation> => {
        const base = { hospitalId: hospital.id, hospitalName: hospital.name };
        try {
          return { ...base, evaluation: await client.evaluate(hospital, body, signal) };
        } catch (error) {
          if (signal.aborted) throw signal.reason;
          return { ...base, error: (error as Error).message };
        }
      }),
    );
  } finally {
    revoke();
  }
}
