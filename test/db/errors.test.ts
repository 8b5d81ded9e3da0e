import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../shared/db/errors.ts';

describe('isDatabaseUnavailable', () => {
  it('recognises an unreachable or restarting server however it is wrapped', () => {
    // What Prisma 7 with @prisma/adapter-pg throws while the server is down (seen here).
    const prisma = Object.assign(new Error("Can't reach database server at 127.0.0.1:5432"), {
      name: 'PrismaClientKnownRequestError',
      code: 'P1001',
      meta: { driverAdapterError: { cause: { kind: 'DatabaseNotReachable' } } },
    });
    expect(isDatabaseUnavailable(prisma)).toBe(true);
    const adminShutdown = Object.assign(new Error('query failed'), {
      meta: { driverAdapterError: { cause: { kind: 'postgres', code: '57P01' } } },
    });
    expect(isDatabaseUnavailable(adminShutdown)).toBe(true);
    const wrapped = new Error('outer', {
      cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    });
    expect(isDatabaseUnavailable(wrapped)).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('leaves query errors and other failures alone', () => {
    const unique = Object.assign(new Error('Unique constraint failed'), { code: 'P2002' });
    expect(isDatabaseUnavailable(unique)).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false);
    expect(isDatabaseUnavailable('a string')).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
  });
});
