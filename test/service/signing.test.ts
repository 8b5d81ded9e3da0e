import { describe, expect, it } from 'vitest';
import { hashToken } from '../../shared/service/auth.ts';
import { signRequest, verifySignature } from '../../shared/service/signing.ts';

describe('aggregator -> hospital request signatures', () => {
  const token = 'hospital-token-0123456789';
  const body = JSON.stringify({ runId: 'r1', round: 1 });
  const now = 1_700_000_000_000;

  it('a request signed with the stored token hash verifies with the token', () => {
    const header = signRequest(hashToken(token), 'POST', '/train', body, now);
    expect(verifySignature(token, header, 'post', '/train', body, now + 1000)).toEqual({
      ok: true,
    });
  });

  it('rejects another body, route, token, an old timestamp and garbage', () => {
    const header = signRequest(hashToken(token), 'POST', '/train', body, now);
    expect(verifySignature(token, header, 'POST', '/train', body + ' ', now).ok).toBe(false);
    expect(verifySignature(token, header, 'POST', '/evaluate', body, now).ok).toBe(false);
    expect(verifySignature('other-token-0123456789', header, 'POST', '/train', body, now).ok).toBe(
      false,
    );
    expect(verifySignature(token, header, 'POST', '/train', body, now + 10 * 60 * 1000)).toEqual({
      ok: false,
      reason: 'signature timestamp is too old or in the future',
    });
    expect(verifySignature(token, undefined, 'POST', '/train', body, now)).toEqual({
      ok: false,
      reason: 'missing x-fedxray-signature header',
    });
    expect(verifySignature(token, 't=1,v1=zz', 'POST', '/train', body, now).ok).toBe(false);
  });
});
