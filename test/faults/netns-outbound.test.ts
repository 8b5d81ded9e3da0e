// A hospital behind its perimeter firewall (issue 15 items 2 and 3): the aggregator and two
// hospital nodes each in a network namespace of their own (test/helpers/netns.ts). `clinic` is
// reachable; `walled` is an OUTBOUND_ONLY node whose namespace drops every new inbound
// connection from the lab (nftables), so its only traffic is what it opens itself: it long-polls the
// aggregator for work (GET /nodes/work) and answers there. A 2-round run takes both in every
// round. Needs root, iproute2 and nftables (skipped otherwise, saying why).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firewallProblem, NetnsLab, netnsProblem } from '../helpers/netns.ts';
import { partitionSample } from '../helpers/sample-partition.ts';
import { LabServices } from './netns-services.ts';
import type { Platform } from './platform.ts';

const PORT = { aggregator: 3000, hospital: 3101 };

const skipReason = netnsProblem() ?? firewallProblem();
if (skipReason) console.warn(`test/faults/netns-outbound.test.ts is skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)(
  `an outbound-only hospital behind a firewall${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let lab: NetnsLab | undefined;
    let platform: Platform | undefined;

    afterAll(async () => {
      await platform?.stop();
      lab?.delete();
    });

    it('trains in every round through the connections it opens itself', async () => {
      const root = await mkdtemp(path.join(tmpdir(), 'fedxray-netns-outbound-'));
      lab = NetnsLab.create(['aggregator', 'clinic', 'walled']);
      const services = new LabServices(lab);
      platform = await services.startAggregator(root, PORT.aggregator);
      const { aggregator } = platform;

      const hospitals = ['clinic', 'walled'];
      const dataDirs = await partitionSample(path.join(root, 'data'), hospitals);
      for (const [i, name] of hospitals.entries()) {
        const outbound = name === 'walled';
        const node = await services.hospitalNode(platform, name, {
          port: PORT.hospital,
          dataDir: dataDirs[i],
          ...(outbound ? { baseUrl: 'outbound:', env: { OUTBOUND_ONLY: 'true' } } : {}),
        });
        // The perimeter is up before the node opens any connection.
        if (outbound) lab.dropInbound(name);
        await node.start();
      }
      // Nothing from the lab reaches the walled node: not the aggregator, not the other
      // hospital (the clinic is reachable from both).
      const { address: walled } = lab.host('walled');
      expect(lab.connects('aggregator', walled, PORT.hospital)).toBe(false);
      expect(lab.connects('clinic', walled, PORT.hospital)).toBe(false);
      expect(lab.connects('aggregator', lab.host('clinic').address, PORT.hospital)).toBe(true);

      const runId = await platform.startRun({ rounds: 2, localEpochs: 1, minHospitals: 2 });
      const run = await platform.waitForRun(runId, 240_000);
      expect(run.status, `${run.failureReason}\n${platform.logs()}`).toBe('completed');
      for (const round of run.rounds) {
        expect(round.updates.map((u) => [u.hospitalName, u.status]).sort()).toEqual([
          ['clinic', 'accepted'],
          ['walled', 'accepted'],
        ]);
      }
      expect(lab.connects('aggregator', walled, PORT.hospital)).toBe(false);
      // Its work came over its own long polls: the aggregator's log has them from its address.
      const polls = aggregator.output
        .split('\n')
        .filter((line) => line.includes('"incoming request"'))
        .map((line) => JSON.parse(line) as { req: { url: string; remoteAddress: string } })
        .filter((entry) => entry.req.url.startsWith('/nodes/work'));
      expect(polls.map((p) => p.req.remoteAddress)).toContain(walled);
    });
  },
);
