import type { Prisma } from '../../../shared/db/index.ts';

/** Who did it: `admin`, `hospital:<id>`, `reader:<id>` (a reader token) or `system` (rounds). */
export type Actor = 'admin' | 'system' | `hospital:${string}` | `reader:${string}`;

export interface AuditEntry {
  actor: Actor;
  action: string;
  subjectType?: 'hospital' | 'reader' | 'run' | 'round' | 'model' | 'update';
  subjectId?: string;
  details?: Prisma.InputJsonObject;
}

/** Appends to the audit trail; pass a transaction client to make it part of a transaction. */
export async function audit(
  db: Pick<Prisma.TransactionClient, 'auditEvent'>,
  entry: AuditEntry,
): Promise<void> {
  await db.auditEvent.create({ data: entry });
}
