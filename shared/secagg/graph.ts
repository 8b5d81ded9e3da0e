/**
 * Who shares keys and masks with whom. By default every client with every other (Bonawitz et
 * al. 2017); with `neighbours` = k, the SecAgg+ graph of Bell et al. 2020: a circulant
 * (Harary) graph of degree k over the roster in an order fixed by the round id's hash, so each
 * client masks with and shares its secrets among k others only, and t counts within that
 * neighbourhood (the client and its k neighbours).
 */
import { createHash } from 'node:crypto';
import { SecAggError } from './errors.ts';

export type Neighbourhoods = ReadonlyMap<string, ReadonlySet<string>>;

/** Each client's neighbours (itself excluded). */
export function neighbourhoods(
  ids: readonly string[],
  round: string,
  degree?: number,
): Neighbourhoods {
  const n = ids.length;
  if (degree === undefined || degree >= n - 1) {
    return new Map(ids.map((id) => [id, new Set(ids.filter((other) => other !== id))]));
  }
  if (!Number.isInteger(degree) || degree < 2 || degree % 2 !== 0) {
    throw new SecAggError('bad-config', `neighbours must be an even integer >= 2, got ${degree}`);
  }
  const rank = (id: string) =>
    createHash('sha256')
      .update(JSON.stringify(['fedxray-secagg-v1', 'graph', round, id]))
      .digest('hex');
  const ring = [...ids].sort((a, b) => (rank(a) < rank(b) ? -1 : 1));
  const graph = new Map(ring.map((id) => [id, new Set<string>()]));
  ring.forEach((id, p) => {
    for (let offset = 1; offset <= degree / 2; offset++) {
      graph.get(id)!.add(ring[(p + offset) % n]);
      graph.get(id)!.add(ring[(p - offset + n) % n]);
    }
  });
  return graph;
}

/** The size of the group a client's secrets are shared in: itself and its neighbours. */
export function groupSize(clients: number, degree?: number): number {
  return degree === undefined ? clients : Math.min(degree, clients - 1) + 1;
}
