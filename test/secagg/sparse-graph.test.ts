/**
 * SecAgg+ (Bell et al. 2020): with k neighbours per client, shares and pairwise masks stay
 * within each client's neighbourhood, and the unmasked sum is still exactly the survivors'
 * quantised sum, with dropouts before and after upload.
 */
import { describe, expect, it } from 'vitest';
import { addInto, quantize } from '../../shared/secagg/index.ts';
import { neighbourhoods } from '../../shared/secagg/graph.ts';
import { createRng } from '../../shared/util/random.ts';
import { clientId, roundConfig, runRound, runUntilUnmask, type RoundSetup } from './round.ts';

const LENGTH = 2000;
const CLIENTS = 8;

function setup(extra: Partial<RoundSetup> = {}): RoundSetup {
  const rng = createRng(5);
  const updates = Array.from({ length: CLIENTS }, () =>
    Float32Array.from({ length: LENGTH }, () => rng.uniform(-1, 1)),
  );
  return { clients: CLIENTS, threshold: 3, neighbours: 4, updates, ...extra };
}

function quantisedSum(s: RoundSetup, included: number[]): number[] {
  const { quantization } = roundConfig(s);
  const sum = new Uint32Array(LENGTH);
  for (const i of included) addInto(sum, quantize([s.updates[i]], LENGTH, quantization).values);
  return Array.from(sum);
}

const all = Array.from({ length: CLIENTS }, (_, i) => i);

describe('the SecAgg+ graph', () => {
  it('is symmetric with degree k, and the complete graph without k', () => {
    const ids = all.map(clientId);
    const graph = neighbourhoods(ids, 'run-1:1', 4);
    for (const id of ids) {
      expect(graph.get(id)!.size).toBe(4);
      expect(graph.get(id)!.has(id)).toBe(false);
      for (const other of graph.get(id)!) expect(graph.get(other)!.has(id)).toBe(true);
    }
    expect(neighbourhoods(ids, 'run-1:2', 4)).not.toEqual(graph);
    expect(neighbourhoods(ids, 'run-1:1').get(ids[0])!.size).toBe(CLIENTS - 1);
    expect(() => neighbourhoods(ids, 'r', 3)).toThrow(/even integer/);
  });
});

describe('secure aggregation on the SecAgg+ graph', () => {
  it('unmasks exactly the quantised sum', () => {
    const s = setup();
    const { result } = runRound(s);
    expect(Array.from(result.sum)).toEqual(quantisedSum(s, all));
  });

  it('recovers from a dropout after ShareKeys and one after upload', () => {
    const s = setup({ dropAfterShare: [2], dropAfterUpload: [6] });
    const { result } = runRound(s);
    expect(result.dropped).toEqual([clientId(2)]);
    expect(Array.from(result.sum)).toEqual(
      quantisedSum(
        s,
        all.filter((i) => i !== 2),
      ),
    );
  });

  it('shares and reveals only within a neighbourhood', () => {
    const run = runUntilUnmask(setup({ dropAfterShare: [0] }));
    const graph = neighbourhoods(all.map(clientId), run.config.round, 4);
    for (const client of run.uploaded) {
      const group = new Set([client.clientId, ...graph.get(client.clientId)!]);
      const answer = client.unmask(run.request);
      const owners = [...answer.selfMaskShares, ...answer.maskKeyShares].map((s) => s.owner);
      expect(owners.length).toBeGreaterThan(0);
      expect(owners.every((owner) => group.has(owner))).toBe(true);
      expect(answer.maskKeyShares.length).toBe(
        graph.get(client.clientId)!.has(clientId(0)) ? 1 : 0,
      );
    }
    for (const inbox of run.inboxes.values()) {
      // Client 1 shared keys before it dropped: its shares are delivered too.
      const others = [...graph.get(inbox.recipient)!];
      expect(inbox.shares.map((share) => share.sender).sort()).toEqual(others.sort());
    }
  });

  it("refuses to unmask when too few of a client's neighbours answer", () => {
    // Client 1's group is itself and 4 neighbours; with t = 3 it needs 3 of them to answer.
    const s = setup();
    const graph = neighbourhoods(all.map(clientId), roundConfig(s).round, 4);
    const group = [clientId(0), ...graph.get(clientId(0))!];
    const silent = group.slice(0, 3).map((id) => Number(id.split('-')[1]) - 1);
    expect(() => runRound({ ...s, dropAfterUpload: silent })).toThrow(
      /answers hold shares of hospital-1's self-mask seed, fewer than the threshold t = 3/,
    );
  });
});
