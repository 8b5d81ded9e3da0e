// The token columns hospitals and readers share (prisma/schema.prisma): the hash of the token
// in force and, after a rotation with graceSeconds, the hash of the one it replaced with the
// time until which that one is still accepted. Only hashes are stored. Used by the routes that
// issue and rotate them (routes/hospitals.ts, routes/readers.ts) and by lib/auth.ts.
import { Prisma, type PrismaClient } from '../../../shared/db/index.ts';
import { generateToken, hashesEqual, hashToken } from '../../../shared/service/auth.ts';
import type { HttpError } from '../../../shared/service/errors.ts';
import { audit } from './audit.ts';

export interface RotatingToken {
  tokenHash: string;
  previousTokenHash: string | null;
  previousTokenExpiresAt: Date | null;
}

/**
 * Which of the row's tokens has this hash: `current`, `previous` (only while its grace lasts,
 * `now` in ms), or undefined (neither).
 */
export function matchToken(
  row: RotatingToken,
  hash: string,
  now: number,
): 'current' | 'previous' | undefined {
  if (hashesEqual(row.tokenHash, hash)) return 'current';
  const expiresAt = row.previousTokenExpiresAt;
  return row.previousTokenHash !== null &&
    hashesEqual(row.previousTokenHash, hash) &&
    expiresAt !== null &&
    expiresAt.getTime() > now
    ? 'previous'
    : undefined;
}

/** Until when the row's previous token is accepted (ISO 8601), or null (none, or expired). */
export function previousTokenExpiry(row: RotatingToken, now: number): string | null {
  const at = row.previousTokenExpiresAt;
  return row.previousTokenHash !== null && at !== null && at.getTime() > now
    ? at.toISOString()
    : null;
}

/**
 * The columns a rotation to `token` writes at `now` (ms). Only one previous token is kept: the
 * one being replaced, accepted for `graceSeconds` more, or none when graceSeconds is 0 or
 * `keepPrevious` is false (e.g. a disabled hospital).
 */
export function rotatedTokenData(
  before: RotatingToken,
  token: string,
  now: number,
  graceSeconds: number,
  keepPrevious = true,
): RotatingToken & { tokenRotatedAt: Date } {
  const expiresAt = graceSeconds > 0 && keepPrevious ? new Date(now + graceSeconds * 1000) : null;
  return {
    tokenHash: hashToken(token),
    tokenRotatedAt: new Date(now),
    previousTokenHash: expiresAt ? before.tokenHash : null,
    previousTokenExpiresAt: expiresAt,
  };
}

/** A hospital's or reader's row after a rotation. */
type RotatedRow = RotatingToken & { id: string; name: string; tokenRotatedAt: Date };

/** What a rotation answers: the new token (shown once) and until when the old one is accepted. */
export interface RotationAnswer {
  id: string;
  name: string;
  token: string;
  tokenRotatedAt: string;
  previousTokenExpiresAt: string | null;
}

/**
 * Issues the token of a new hospital or reader: `create` writes the row with the token's hash,
 * in one transaction with its audit event (by the admin); a name already taken (Prisma P2002)
 * throws `conflict()` (a 409) instead. Answers the row and the token, to be shown once.
 */
export async function issueToken<T extends { id: string }>(
  prisma: PrismaClient,
  entry: { subjectType: 'hospital' | 'reader'; action: string; details: Prisma.InputJsonObject },
  create: (tx: Prisma.TransactionClient, tokenHash: string) => Promise<T>,
  conflict: () => HttpError,
): Promise<{ row: T; token: string }> {
  const token = generateToken();
  try {
    const row = await prisma.$transaction(async (tx) => {
      const created = await create(tx, hashToken(token));
      await audit(tx, { actor: 'admin', ...entry, subjectId: created.id });
      return created;
    });
    return { row, token };
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw conflict();
    }
    throw error;
  }
}

/**
 * Rotates a hospital's or reader's token at `now` (ms): `rotate` finds the row (its 404 and
 * refusals are its own) and writes the columns `columns(before, keepPrevious)` gives
 * (rotatedTokenData with a new token and graceSeconds), in one transaction with the audit event
 * `<kind>.token-rotated` (graceSeconds, never a token or hash).
 */
export async function rotateToken<T extends RotatedRow>(
  prisma: PrismaClient,
  kind: 'hospital' | 'reader',
  { graceSeconds, now }: { graceSeconds: number; now: number },
  rotate: (
    tx: Prisma.TransactionClient,
    columns: (before: RotatingToken, keepPrevious?: boolean) => ReturnType<typeof rotatedTokenData>,
  ) => Promise<T>,
): Promise<RotationAnswer> {
  const token = generateToken();
  const row = await prisma.$transaction(async (tx) => {
    const updated = await rotate(tx, (before, keepPrevious) =>
      rotatedTokenData(before, token, now, graceSeconds, keepPrevious),
    );
    await audit(tx, {
      actor: 'admin',
      action: `${kind}.token-rotated`,
      subjectType: kind,
      subjectId: updated.id,
      details: {
        name: updated.name,
        tokenRotatedAt: updated.tokenRotatedAt.toISOString(),
        graceSeconds,
        previousTokenExpiresAt: updated.previousTokenExpiresAt?.toISOString() ?? null,
      },
    });
    return updated;
  });
  return {
    id: row.id,
    name: row.name,
    token,
    tokenRotatedAt: row.tokenRotatedAt.toISOString(),
    previousTokenExpiresAt: previousTokenExpiry(row, now),
  };
}
