import { describe, expect, it } from 'vitest';
import { trainSummary } from '../../services/aggregator/lib/aggregation.ts';
import { validationLossOf } from '../../services/aggregator/lib/early-stopping.ts';
import { gateInputs } from '../../services/aggregator/lib/promotion-gate.ts';
import { parseModelMetrics, parseUpdateMetrics } from '../../shared/protocol/stored-metrics.ts';

describe('stored metrics JSON, parsed where it leaves the database', () => {
  it('keeps the well-formed fields of an update and drops the rest', () => {
    expect(parseUpdateMetrics({ loss: 0.3, accuracy: 'high', extra: 1 })).toEqual({ loss: 0.3 });
    expect(parseUpdateMetrics(null)).toEqual({});
    expect(parseUpdateMetrics([1, 2])).toEqual({});
    const summary = trainSummary([
      { hospitalId: 'a', numSamples: 10, metrics: parseUpdateMetrics({ loss: 1, accuracy: 0.5 }) },
      { hospitalId: 'b', numSamples: 30, metrics: parseUpdateMetrics({ loss: 'x', accuracy: 1 }) },
    ]);
    expect(summary).toEqual({ numSamples: 40, hospitals: 2, loss: 1, accuracy: 0.875 });
  });

  it("reads a model version's validation summary, old rows and malformed fields included", () => {
    expect(parseModelMetrics({ train: { loss: 1 } })).toEqual({});
    expect(parseModelMetrics({ validation: null })).toEqual({ validation: null });
    const parsed = parseModelMetrics({
      validation: {
        loss: 0.25,
        auc: '0.9',
        recall: 0.9,
        confusion: { tp: 9, fp: 1, tn: 8, fn: 1 },
        atThreshold: { threshold: 0.4, recall: 0.95, confusion: { tp: -1 } },
      },
    });
    expect(parsed.validation).toEqual({
      loss: 0.25,
      recall: 0.9,
      confusion: { tp: 9, fp: 1, tn: 8, fn: 1 },
      atThreshold: { threshold: 0.4, recall: 0.95 },
    });
    expect(validationLossOf({ validation: { loss: 0.25 } })).toBe(0.25);
    expect(validationLossOf({ validation: { loss: 'NaN' } })).toBeUndefined();
    const inputs = gateInputs({ id: 'm', version: 1, metrics: parsed, metadata: {} });
    expect(inputs?.auc).toBeNull();
    expect(inputs?.atModel).toMatchObject({ threshold: 0.4, recall: 0.95, confusion: null });
  });
});
