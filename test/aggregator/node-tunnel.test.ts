import { describe, expect, it } from 'vitest';
import { NodeTunnel } from '../../services/aggregator/lib/node-tunnel.ts';

const never = new AbortController().signal;

describe('NodeTunnel', () => {
  it('hands a request to the next poll and resolves the fetch with the answer', async () => {
    const tunnel = new NodeTunnel();
    const answered = tunnel.fetchFor('h1')('outbound:/train?x=1', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-fedxray-signature': 'sig' },
      body: '{"a":1}',
    });
    const work = await tunnel.next('h1', 1000, never);
    expect(work).toMatchObject({
      method: 'POST',
      path: '/train?x=1',
      headers: { 'content-type': 'application/json', 'x-fedxray-signature': 'sig' },
      body: '{"a":1}',
    });
    // Another hospital cannot answer it.
    expect(tunnel.answer('h2', work?.id ?? '', { status: 200, body: '' })).toBe(false);
    expect(
      tunnel.answer('h1', work?.id ?? '', {
        status: 202,
        contentType: 'application/json',
        body: '{"jobId":"j"}',
      }),
    ).toBe(true);
    const res = await answered;
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ jobId: 'j' });
  });

  it('a waiting poll gets the request at once; an empty poll ends after its wait', async () => {
    const tunnel = new NodeTunnel();
    expect(await tunnel.next('h1', 10, never)).toBeNull();
    const polled = tunnel.next('h1', 5000, never);
    void tunnel.fetchFor('h1')('outbound:/health', { method: 'GET' });
    expect((await polled)?.path).toBe('/health');
    const closing = tunnel.next('h1', 60_000, never);
    tunnel.close();
    expect(await closing).toBeNull();
  });

  it('drops a request whose caller gave up, so a node that does not poll times out', async () => {
    const tunnel = new NodeTunnel();
    const call = tunnel.fetchFor('h1')('outbound:/health', { signal: AbortSignal.timeout(20) });
    await expect(call).rejects.toMatchObject({ name: 'TimeoutError' });
    // Nothing is left for a later poll, and a late answer is refused.
    expect(await tunnel.next('h1', 10, never)).toBeNull();
    expect(tunnel.answer('h1', 'unknown', { status: 200, body: '' })).toBe(false);
  });
});
