// Hospitals on hosts of their own (issue 15 item 2): the aggregator, three hospital nodes and
// the inference API each in a Linux network namespace with its own address, on one switch (a
// bridge in a namespace of its own; test/helpers/netns.ts), all on HTTPS with certificates of a
// private CA (openssl), reached by the test only through its controller link. A 4-round run:
// in round 2 hospital-2's cable is cut at the switch (`ip link set <port> down`) while it
// trains; the aggregator gives it up after 3 failed job-status checks and completes round 2
// with the other two; round 3 leaves it out at selection (unreachable), and the cable goes back
// in once round 3 runs; hospital-2's round-2 job then ends (its late upload refused) and round 4
// has it back. The inference API, in its namespace, serves the promoted final model.
//
// Why the cable stays out until round 3 has started: back any earlier, hospital-2 is still
// busy with its round-2 job (the upload it could not send goes out within about a second and is
// refused) when round 3's POST /train may already arrive, answered 409 busy: a race the test
// avoids. Needs root and iproute2 (skipped otherwise, saying why).
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasOpenssl, makePrivateCa } from '../helpers/certificate.ts';
import { NetnsLab, netnsProblem } from '../helpers/netns.ts';
import { partitionSample } from '../helpers/sample-partition.ts';
import { sampleJpeg } from '../inference-api/fixtures.ts';
import { LabServices } from './netns-services.ts';
import type { Platform, RunBody } from './platform.ts';
import { ServiceProcess, waitFor } from './processes.ts';

const HOSPITALS = ['hospital-1', 'hospital-2', 'hospital-3'];
const CUT = 'hospital-2';
/** Each host has its own ports: every service on its default one. */
const PORT = { aggregator: 3000, hospital: 3101, inference: 3200 };

const skipReason = netnsProblem() ?? (hasOpenssl ? null : 'openssl is not on PATH');
if (skipReason) console.warn(`test/faults/netns-run.test.ts is skipped: ${skipReason}`);

const updateOf = (run: RunBody, round: number, name: string) =>
  run.rounds[round]?.updates.find((u) => u.hospitalName === name);

/** The server-sent events of a run's stream (GET /rounds/{id}/events). */
function parseEvents(text: string): { event: string; data: Record<string, unknown> }[] {
  return text
    .split('\n\n')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      return event && data ? { event, data: JSON.parse(data) as Record<string, unknown> } : null;
    })
    .filter((e) => e !== null);
}

/** Whether the aggregator's request log shows `url` answered in full to a client at `address`. */
function answered(log: string, url: string, address: string): boolean {
  const asked = new Set<unknown>();
  for (const line of log.split('\n')) {
    let entry: { msg?: string; reqId?: unknown; req?: { url?: string; remoteAddress?: string } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue; // not a log line, or one still being written
    }
    if (entry.msg === 'incoming request' && entry.req?.url === url) {
      if (entry.req.remoteAddress === address) asked.add(entry.reqId);
    } else if (entry.msg === 'request completed' && asked.has(entry.reqId)) {
      return true;
    }
  }
  return false;
}

describe.skipIf(skipReason !== null)(
  `a federation across network namespaces over HTTPS${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let lab: NetnsLab | undefined;
    let platform: Platform | undefined;
    let inference: ServiceProcess | undefined;

    afterAll(async () => {
      await inference?.stop();
      await platform?.stop();
      lab?.delete();
    });

    it('trains on hosts of their own, loses a hospital mid-round, takes it back and serves the result', async () => {
      const t0 = Date.now();
      const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
      const root = await mkdtemp(path.join(tmpdir(), 'fedxray-netns-'));
      lab = NetnsLab.create(['aggregator', ...HOSPITALS, 'inference']);
      const { address: aggregatorAddress } = lab.host('aggregator');
      await mkdir(path.join(root, 'tls'));
      // Each service on HTTPS with its own certificate, trusting only this CA.
      const services = new LabServices(lab, makePrivateCa(path.join(root, 'tls')));
      const trusted = services.fetch;

      const aggregatorUrl = `https://${aggregatorAddress}:${PORT.aggregator}`;
      platform = await services.startAggregator(root, PORT.aggregator);
      const { aggregator } = platform;
      expect(aggregator.url).toBe(aggregatorUrl);

      const dataDirs = await partitionSample(path.join(root, 'data'), HOSPITALS);
      const starts: Promise<void>[] = [];
      for (const [i, name] of HOSPITALS.entries()) {
        const node = await services.hospitalNode(platform, name, {
          port: PORT.hospital,
          dataDir: dataDirs[i],
        });
        starts.push(node.start());
      }
      const reader = await platform.call('POST', '/readers', { name: 'inference-api' });
      expect(reader.status, JSON.stringify(reader.body)).toBe(201);
      inference = services.service('inference', 'services/inference-api/main.ts', PORT.inference, {
        AGGREGATOR_URL: aggregatorUrl,
        AGGREGATOR_TOKEN: (reader.body as { token: string }).token,
        MODEL_POLL_SECONDS: '1',
        STATE_DIR: path.join(root, 'inference'),
      });
      starts.push(inference.start());
      await Promise.all(starts);
      console.log(`[netns] services up at ${at()}`);

      // Inside the lab: each namespace routes its /24 only, nothing else (no default route).
      for (const host of lab.hosts.values()) {
        expect(lab.ipIn(host.name, ['-4', 'route', 'show']).trim()).toBe(
          `${lab.subnet}.0/24 dev eth0 proto kernel scope link src ${host.address}`,
        );
        expect(() => lab!.ipIn(host.name, ['route', 'get', '1.1.1.1'])).toThrow(
          /Network is unreachable/,
        );
      }

      const runId = await platform.startRun({
        rounds: 4,
        // Short rounds (seconds of training, as in node-crash.test.ts), so that the cut falls
        // inside one round; the aggregator gives up a silent node after 3 failed status checks
        // (about 30 s). (Training once held a node's event loop with a warm image cache; fixed
        // in shared/training/local-train.ts, see test/training/local-train.test.ts.)
        localEpochs: 10,
        minHospitals: 2,
        // With TINY_RUN's fixed seed, a final model the promotion guard lets through (it
        // refuses one that calls every validation image one class).
        thresholdRule: 'youden',
        promote: true,
        // A backstop only: a silent node is given up on after 3 failed job-status checks.
        roundTimeoutSeconds: 240,
      });
      // The run's events as they happen (the stream ends with the run).
      const events = trusted(`${aggregatorUrl}/rounds/${runId}/events`).then(async (res) =>
        parseEvents(await res.text()),
      );
      events.catch(() => {}); // awaited below; a test failing before must not leave it unhandled

      // Round 2: hospital-2 has downloaded the round's model (the aggregator's request log,
      // by its address) and trains, with nothing to send for a while: cut its cable then, so
      // that no transfer is caught half-way.
      const round2 = await platform.waitForRun(runId, 150_000, (run) => !!run.rounds[1]);
      const cutHost = lab.host(CUT);
      const weights = `/models/${round2.rounds[1].inputModelId}/weights`;
      await waitFor(
        "hospital-2's download of round 2's model",
        async () => (answered(aggregator.output, weights, cutHost.address) ? true : undefined),
        60_000,
        50,
      );
      lab.cut(CUT);
      const cutAt = Date.now();
      console.log(`[netns] round 2: ${CUT} cut at ${at()}`);

      // The aggregator gives it up (job-status checks fail) and completes round 2 without it;
      // round 3 finds it unavailable at selection. The cable goes back in once round 3 runs.
      // The waits are generous because a loaded machine (CI beside other jobs) stretches the
      // healthy hospitals' training; the give-up itself is bounded below (< 60 s).
      const givenUp = await platform.waitForRun(runId, 150_000, (run) =>
        ['failed', 'timed_out'].includes(updateOf(run, 1, CUT)?.status ?? ''),
      );
      const gaveUpAfter = (Date.now() - cutAt) / 1000;
      console.log(`[netns] ${CUT} given up ${gaveUpAfter.toFixed(1)} s after the cut, at ${at()}`);
      const round3 = await platform.waitForRun(runId, 180_000, (run) => !!run.rounds[2]);
      lab.restore(CUT);
      console.log(`[netns] round 3 started, cable back at ${at()}`);
      // Its round-2 job ends once it can reach the aggregator again: the update is refused.
      const cutNode = platform.nodes.get(CUT)!;
      const jobId = updateOf(givenUp, 1, CUT)!.jobId!;
      const job = await waitFor(
        "hospital-2's round-2 job to end",
        async () => {
          const res = await trusted(`${cutNode.url}/train/${jobId}`, {
            signal: AbortSignal.timeout(5000),
          });
          const body = (await res.json()) as { status: string; error: string | null };
          return ['done', 'failed'].includes(body.status) ? body : undefined;
        },
        60_000,
        250,
      );
      console.log(`[netns] hospital-2's round-2 job ${job.status} at ${at()}: ${job.error}`);

      const run = await platform.waitForRun(runId, 240_000);
      const seconds = (from: string | null, to: string | null) =>
        from && to ? ((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1) : '?';
      console.log(
        `[netns] run ${run.status} at ${at()}; rounds (s): ${run.rounds.map((r) => seconds(r.startedAt, r.finishedAt)).join(', ')}`,
      );
      expect(run.status, `${run.failureReason}\n${platform.logs()}`).toBe('completed');
      expect(run.rounds.map((r) => r.status)).toEqual(Array(4).fill('completed'));
      const statuses = (round: number) =>
        HOSPITALS.map((name) => updateOf(run, round, name)?.status);
      expect(statuses(0)).toEqual(['accepted', 'accepted', 'accepted']);
      // Round 2 completed without hospital-2, given up after 3 failed job-status checks in a
      // row (each up to the aggregator's 10 s request timeout), well before the deadline.
      expect(statuses(1)).toEqual(['accepted', 'failed', 'accepted']);
      expect(updateOf(run, 1, CUT)?.failureReason).toMatch(
        /^the node stopped answering: 3 status checks in a row failed/,
      );
      expect(gaveUpAfter).toBeLessThan(60);
      expect(run.rounds[1].metrics).toMatchObject({ train: { hospitals: 2 } });
      expect(job).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/with 409: late update refused/),
      });
      // Round 3 left it out at selection (its /health unreachable); round 4 has it back.
      expect(round3.rounds[2].updates.map((u) => u.hospitalName).sort()).toEqual([
        'hospital-1',
        'hospital-3',
      ]);
      const started = (await events).filter((e) => e.event === 'round-started');
      expect(started.map((e) => e.data.round)).toEqual([1, 2, 3, 4]);
      expect(started[2].data.excluded).toEqual([
        expect.stringMatching(/^hospital-2 is unavailable/),
      ]);
      expect(statuses(3)).toEqual(['accepted', 'accepted', 'accepted']);
      expect(run.rounds[3].metrics).toMatchObject({ train: { hospitals: 3 } });

      // The inference API, in its namespace, picks up the promoted final model.
      const models = await platform.models();
      expect(models.map((m) => m.version).sort()).toEqual([1, 2, 3, 4, 5]);
      const production = await platform.call('GET', '/models/production');
      expect(production.body, JSON.stringify(run)).toMatchObject({ id: run.finalModelId });
      const inferenceUrl = inference.url;
      const current = await waitFor(
        'the inference API to serve the final model',
        async () => {
          const res = await trusted(`${inferenceUrl}/models/current`);
          const body = (await res.json()) as { id?: string; source?: string };
          return body.id === run.finalModelId ? body : undefined;
        },
        30_000,
        250,
      );
      expect(current).toMatchObject({ source: 'aggregator' });
      const form = new FormData();
      form.append('image', new Blob([sampleJpeg()], { type: 'image/jpeg' }), 'xray.jpg');
      const diagnosis = await trusted(`${inferenceUrl}/diagnose`, { method: 'POST', body: form });
      const answer = (await diagnosis.json()) as { model?: { id: string } };
      expect(diagnosis.status, JSON.stringify(answer)).toBe(200);
      expect(answer.model?.id).toBe(run.finalModelId);
      console.log(`[netns] done at ${at()}`);
    }, 600_000);
  },
);
