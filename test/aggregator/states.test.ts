import { describe, expect, it } from 'vitest';
import type { Prisma, PrismaClient } from '../../shared/db/index.ts';
import {
  IllegalTransitionError,
  moveRounds,
  moveUpdates,
  ROUND_TRANSITIONS,
  UPDATE_TRANSITIONS,
} from '../../services/aggregator/lib/states.ts';

/** A stand-in for Prisma that records the updateMany calls it gets. */
function recordingDb() {
  const calls: { model: string; args: { where: unknown; data: unknown } }[] = [];
  const model = (name: string) => ({
    updateMany: async (args: { where: unknown; data: unknown }) => {
      calls.push({ model: name, args });
      return { count: 1 };
    },
  });
  const db = { clientUpdate: model('clientUpdate'), round: model('round') };
  return { db: db as unknown as PrismaClient, calls };
}

describe('the ClientUpdate and Round state machines', () => {
  it('allows exactly the moves in the tables and names both states otherwise', async () => {
    const { db } = recordingDb();
    for (const [tableName, table, move] of [
      ['update', UPDATE_TRANSITIONS, moveUpdates],
      ['round', ROUND_TRANSITIONS, moveRounds],
    ] as const) {
      const states = Object.keys(table) as (keyof typeof table)[];
      for (const from of states) {
        for (const to of states) {
          const allowed = (table[from] as readonly string[]).includes(to);
          // The tables differ in type; the walk only needs the shared call shape.
          const call = (
            move as (d: PrismaClient, w: object, f: string[], t: string) => Promise<number>
          )(db, {}, [from], to);
          if (allowed) await expect(call, `${tableName} ${from} -> ${to}`).resolves.toBe(1);
          else {
            await expect(call).rejects.toThrow(IllegalTransitionError);
            await expect(
              (move as (d: PrismaClient, w: object, f: string[], t: string) => Promise<number>)(
                db,
                {},
                [from],
                to,
              ),
            ).rejects.toThrow(`a ${tableName} cannot move from ${from} to ${to}`);
          }
        }
      }
    }
  });

  it('ends in final states: rejected, timed_out, completed, failed and cancelled rounds', () => {
    expect(UPDATE_TRANSITIONS.rejected).toEqual([]);
    expect(UPDATE_TRANSITIONS.timed_out).toEqual([]);
    for (const s of ['completed', 'failed', 'cancelled'] as const)
      expect(ROUND_TRANSITIONS[s]).toEqual([]);
  });

  it('writes one compare-and-set: the status condition joins the caller’s where', async () => {
    const { db, calls } = recordingDb();
    await moveUpdates(db, { roundId: 'r1' }, ['dispatched', 'training'], 'failed', {
      failureReason: 'x',
    });
    expect(calls[0]).toEqual({
      model: 'clientUpdate',
      args: {
        where: { roundId: 'r1', status: { in: ['dispatched', 'training'] } },
        data: { failureReason: 'x', status: 'failed' },
      },
    });
    const tx = db as unknown as Prisma.TransactionClient;
    await moveRounds(tx, { id: 'r1' }, ['aggregating'], 'completed');
    expect(calls[1].args.where).toEqual({ id: 'r1', status: { in: ['aggregating'] } });
  });
});
