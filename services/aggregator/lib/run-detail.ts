import type { PrismaClient } from '../../../shared/db/index.ts';
import { runDetail } from './views.ts';
import type { RunDetail } from '../schemas/runs.ts';

/** GET /rounds/:id's answer, also the snapshot of the event stream. */
export async function loadRunDetail(prisma: PrismaClient, id: string): Promise<RunDetail | null> {
  const run = await prisma.trainingRun.findUnique({ where: { id } });
  if (!run) return null;
  const rounds = await prisma.round.findMany({
    where: { runId: id },
    orderBy: { index: 'asc' },
    include: {
      clientUpdates: { include: { hospital: true }, orderBy: { hospital: { name: 'asc' } } },
    },
  });
  return runDetail(run, rounds);
}
