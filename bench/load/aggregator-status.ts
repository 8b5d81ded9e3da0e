/**
 * The aggregator's status routes under load while a federated run is going: starts the
 * platform as real processes (aggregator on embedded PGlite unless DATABASE_URL is set, three
 * hospital nodes on the shipped sample; test/faults/platform.ts), starts a tiny run, and
 * polls GET /rounds/:id, GET /rounds, GET /models, GET /info and GET /health at a fixed
 * concurrency until the run ends. Reports per route p50/p99/max latency, answers by status and
 * network errors, the aggregator's RSS before/after (from /proc), and whether the run
 * completed, as JSON on stdout (and `--out FILE`) followed by a Markdown table.
 *
 *   npx tsx bench/load/aggregator-status.ts [--concurrency 8] [--rounds 4] [--local-epochs 2]
 *     [--out FILE]
 *
 * Exit code 1 when any answer was a 5xx, a request failed, or the run did not complete.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { ADMIN_TOKEN, Platform } from '../../test/faults/platform.ts';

interface RouteStats {
  route: string;
  latencies: number[];
  byStatus: Record<string, number>;
  networkErrors: Record<string, number>;
}

function rssMB(pid: number | undefined): number | null {
  if (!pid) return null;
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : null;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function get(agent: Agent, url: string, stats: RouteStats): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = httpRequest(
      url,
      { agent, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, timeout: 30_000 },
      (res) => {
        res.resume();
        res.on('end', () => {
          stats.latencies.push(performance.now() - t0);
          const status = String(res.statusCode);
          stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
          resolve();
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'ERROR';
      stats.networkErrors[code] = (stats.networkErrors[code] ?? 0) + 1;
      resolve();
    });
    req.end();
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      concurrency: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '4' },
      'local-epochs': { type: 'string', default: '2' },
      out: { type: 'string' },
    },
  });
  const concurrency = Number(values.concurrency);
  const platform = await Platform.start({
    hospitals: ['hospital-north', 'hospital-south', 'hospital-east'],
    databaseUrl: process.env.DATABASE_URL,
  });
  try {
    const runId = await platform.startRun({
      rounds: Number(values.rounds),
      localEpochs: Number(values['local-epochs']),
    });
    const base = platform.aggregator.url;
    const routes = [`/rounds/${runId}`, '/rounds', '/models', '/info', '/health'];
    const stats = routes.map((route): RouteStats => ({
      route,
      latencies: [],
      byStatus: {},
      networkErrors: {},
    }));
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    const rssBefore = rssMB(platform.aggregator.pid);
    const started = performance.now();
    let running = true;
    let next = 0;
    const watcher = (async () => {
      while (running) {
        const run = await platform.run(runId).catch(() => undefined);
        if (run && ['completed', 'failed'].includes(run.status)) running = false;
        else await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (running) {
          const i = next++ % routes.length;
          await get(agent, `${base}${routes[i]}`, stats[i]);
        }
      }),
    );
    await watcher;
    const elapsedS = (performance.now() - started) / 1000;
    const rssAfter = rssMB(platform.aggregator.pid);
    const run = await platform.run(runId);
    agent.destroy();

    const report = {
      benchmark: 'aggregator-status-routes',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
      concurrency,
      run: {
        status: run.status,
        rounds: run.rounds.length,
        roundDurationsS: run.rounds.map((r) =>
          r.startedAt && r.finishedAt
            ? (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000
            : null,
        ),
      },
      elapsedSeconds: Math.round(elapsedS * 10) / 10,
      requests: stats.reduce((sum, s) => sum + s.latencies.length, 0),
      aggregatorRssMB: { before: rssBefore, after: rssAfter },
      routes: stats.map((s) => {
        const sorted = [...s.latencies].sort((a, b) => a - b);
        const round = (v: number): number => Math.round(v * 10) / 10;
        return {
          route: s.route.replace(runId, ':id'),
          requests: s.latencies.length,
          perSecond: round(s.latencies.length / elapsedS),
          latencyMs: {
            p50: round(percentile(sorted, 50)),
            p99: round(percentile(sorted, 99)),
            max: round(sorted.at(-1) ?? NaN),
          },
          byStatus: s.byStatus,
          networkErrors: s.networkErrors,
        };
      }),
    };
    const json = JSON.stringify(report, null, 2);
    process.stdout.write(`${json}\n\n`);
    if (values.out) await writeFile(values.out, `${json}\n`);
    const rows = report.routes.map(
      (r) =>
        `| ${r.route} | ${r.requests} | ${r.perSecond} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.latencyMs.max} | ` +
        `${[...Object.entries(r.byStatus), ...Object.entries(r.networkErrors)].map(([k, n]) => `${k}: ${n}`).join(', ')} |`,
    );
    process.stdout.write(
      [
        `run ${report.run.status}, ${report.run.rounds} rounds in ${report.elapsedSeconds} s ` +
          `(round durations ${report.run.roundDurationsS.join(', ')} s); aggregator RSS ` +
          `${rssBefore} → ${rssAfter} MB; concurrency ${concurrency}`,
        '',
        '| route | requests | req/s | p50 ms | p99 ms | max ms | answers |',
        '|---|---:|---:|---:|---:|---:|---|',
        ...rows,
        '',
      ].join('\n'),
    );
    const bad = report.routes.some(
      (r) =>
        Object.keys(r.networkErrors).length > 0 ||
        Object.keys(r.byStatus).some((s) => Number(s) >= 500),
    );
    if (bad || run.status !== 'completed') process.exitCode = 1;
  } finally {
    await platform.stop();
  }
}

await main();
