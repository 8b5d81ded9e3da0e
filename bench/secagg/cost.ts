/**
 * Cost of one secure-aggregation round (issue 17 item 2) at the full size of SE-ResNet-18-GN:
 * time per client and on the server for each stage, with no dropout and with one hospital
 * dropping after sharing keys (the server then also removes its pairwise masks), and the bytes
 * each hospital sends and receives. Random updates, node:crypto randomness, one process.
 *
 * Each case runs --repeat times; every time reported is the median over the runs, in CPU
 * milliseconds of the process (--clock wall for wall time).
 *
 *   npx tsx bench/secagg/cost.ts [--hospitals 3,5] [--parameters 11260346] [--repeat 3]
 *     [--clock cpu|wall] [--out FILE]
 */
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import {
  SecAggClient,
  SecAggServer,
  addInto,
  cryptoRandom,
  encodeMaskedInput,
  quantize,
  type RoundConfig,
} from '../../shared/secagg/index.ts';
import { applyMask } from '../../shared/secagg/prg.ts';

const { values: args } = parseArgs({
  options: {
    hospitals: { type: 'string', default: '3,5' },
    parameters: { type: 'string', default: '11260346' },
    out: { type: 'string' },
    repeat: { type: 'string', default: '3' },
    clock: { type: 'string', default: 'cpu' },
  },
});
const PARAMETERS = Number(args.parameters);
const MB = 1e6;

interface Case {
  hospitals: number;
  threshold: number;
  dropped: number;
  parameters: number;
  /** Mean per client, ms. */
  client: { advertise: number; shareKeys: number; maskedInput: number; unmask: number };
  /** Server, ms: all clients' messages of a stage together. */
  server: { roster: number; inboxes: number; maskedInputs: number; unmask: number };
  /** Bytes one hospital sends and receives (JSON bodies; the masked input in its binary form). */
  bytes: {
    keys: number;
    shares: number;
    maskedInput: number;
    unmask: number;
    received: number;
    plainUpdate: number;
  };
}

// CPU time by default: on a shared machine it is the work itself, wall time includes waiting.
const now =
  args.clock === 'wall'
    ? () => performance.now()
    : () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1000;
      };
const time = <T>(run: () => T): [T, number] => {
  const start = now();
  const value = run();
  return [value, now() - start];
};
const json = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function randomUpdate(): Float32Array {
  const update = new Float32Array(PARAMETERS);
  for (let i = 0; i < PARAMETERS; i++) update[i] = (Math.random() - 0.5) * 0.02;
  return update;
}

function runCase(hospitals: number, dropped: number, updates: Float32Array[]): Case {
  const threshold = Math.floor(hospitals / 2) + 1;
  const round = `bench:${hospitals}:${dropped}`;
  const config: RoundConfig = {
    round,
    threshold,
    vectorLength: PARAMETERS,
    quantization: { clip: 1, maxClients: hospitals, rounding: 'stochastic' },
  };
  const authKey = (id: string) => Buffer.from(`bench-key-${id}`);
  const server = new SecAggServer({ config, authKey });
  const ids = Array.from({ length: hospitals }, (_, i) => `hospital-${i + 1}`);
  const clients = ids.map((id) => new SecAggClient({ clientId: id, round, authKey: authKey(id) }));
  const t: Record<keyof Case['client'], number[]> = {
    advertise: [],
    shareKeys: [],
    maskedInput: [],
    unmask: [],
  };
  const s = { roster: 0, inboxes: 0, maskedInputs: 0, unmask: 0 };
  const sent = { keys: 0, shares: 0, maskedInput: 0, unmask: 0 };
  const received = new Array<number>(hospitals).fill(0);

  clients.forEach((client, i) => {
    const [message, ms] = time(() => client.advertiseKeys());
    t.advertise.push(ms);
    if (i === hospitals - 1) sent.keys = json(message);
    server.receiveAdvertiseKeys(message);
  });
  const [roster, rosterMs] = time(() => server.rosterMessage());
  s.roster = rosterMs;
  clients.forEach((client, i) => {
    received[i] += json(roster);
    const [message, ms] = time(() => client.shareKeys(roster));
    t.shareKeys.push(ms);
    if (i === hospitals - 1) sent.shares = json(message);
    const [, serverMs] = time(() => server.receiveShareKeys(message));
    s.inboxes += serverMs;
  });
  const [inboxes, inboxMs] = time(() => server.shareInboxes());
  s.inboxes += inboxMs;
  const uploaded = clients.slice(dropped);
  uploaded.forEach((client) => {
    const i = clients.indexOf(client);
    received[i] += json(inboxes[i]);
    const [{ input }, ms] = time(() => client.maskedInput(inboxes[i], [updates[i]]));
    t.maskedInput.push(ms);
    sent.maskedInput = encodeMaskedInput(input).length;
    const [, serverMs] = time(() => server.receiveMaskedInput(input));
    s.maskedInputs += serverMs;
  });
  const [request, requestMs] = time(() => server.unmaskRequest());
  s.unmask = requestMs;
  uploaded.forEach((client) => {
    const i = clients.indexOf(client);
    received[i] += json(request);
    const [answer, ms] = time(() => client.unmask(request));
    t.unmask.push(ms);
    if (i === hospitals - 1) sent.unmask = json(answer);
    const [, serverMs] = time(() => server.receiveUnmaskResponse(answer));
    s.unmask += serverMs;
  });
  const [, resultMs] = time(() => server.result());
  s.unmask += resultMs;
  const last = hospitals - 1; // a hospital that went through every stage (bytes are its own)
  return {
    hospitals,
    threshold,
    dropped,
    parameters: PARAMETERS,
    client: {
      advertise: mean(t.advertise),
      shareKeys: mean(t.shareKeys),
      maskedInput: mean(t.maskedInput),
      unmask: mean(t.unmask),
    },
    server: s,
    bytes: { ...sent, received: received[last], plainUpdate: 4 * PARAMETERS },
  };
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function medianOf<T extends Record<string, number>>(parts: T[]): T {
  const keys = Object.keys(parts[0]) as (keyof T)[];
  const at = (k: keyof T) => Math.round(100 * median(parts.map((p) => p[k] as number))) / 100;
  return Object.fromEntries(keys.map((k) => [k, at(k)])) as T;
}

function medianCase(runs: Case[]): Case {
  return {
    ...runs[0],
    client: medianOf(runs.map((r) => r.client)),
    server: medianOf(runs.map((r) => r.server)),
  };
}

/** The building blocks on one full vector, ms (median over the runs): what the stages add up from. */
function components(update: Float32Array) {
  const params = { clip: 1, maxClients: 5, rounding: 'stochastic' } as const;
  const runs = Array.from({ length: Number(args.repeat) }, () => {
    const [{ values }, quantiseMs] = time(() =>
      quantize([update], PARAMETERS, params, cryptoRandom),
    );
    const [, maskMs] = time(() => applyMask(values, cryptoRandom(32), 1));
    const [, sha256Ms] = time(() => createHash('sha256').update(values).digest());
    const [, addMs] = time(() => addInto(values, values));
    return { quantiseMs, maskMs, sha256Ms, addMs };
  });
  return medianOf(runs);
}

const cases: Case[] = [];
const blocks = components(randomUpdate());
for (const hospitals of args.hospitals.split(',').map(Number)) {
  const updates = Array.from({ length: hospitals }, randomUpdate);
  for (const dropped of [0, 1]) {
    const runs = Array.from({ length: Number(args.repeat) }, () =>
      runCase(hospitals, dropped, updates),
    );
    cases.push(medianCase(runs));
  }
}

const sentBytes = (c: Case) => c.bytes.keys + c.bytes.shares + c.bytes.maskedInput + c.bytes.unmask;
const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
const report = {
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
  repeat: Number(args.repeat),
  clock: args.clock,
  components: blocks,
  cases,
};
console.log(JSON.stringify(report, null, 2));
console.log(
  `\n| n | t | dropped | client: keys / shares / masked input / unmask (ms ${args.clock}) | server: masked inputs / unmask (ms ${args.clock}) | per hospital: sent (MB) / received (kB) |`,
);
console.log('|---|---|---|---|---|---|');
for (const c of cases) {
  const k = c.client;
  console.log(
    `| ${c.hospitals} | ${c.threshold} | ${c.dropped} | ${ms(k.advertise)} / ${ms(k.shareKeys)} / ${ms(k.maskedInput)} / ${ms(k.unmask)} | ` +
      `${ms(c.server.maskedInputs)} / ${ms(c.server.unmask)} | ${(sentBytes(c) / MB).toFixed(3)} / ${(c.bytes.received / 1000).toFixed(1)} |`,
  );
}
console.log(
  `\none full vector (ms ${args.clock}): quantise ${ms(blocks.quantiseMs)}, mask expansion ${ms(blocks.maskMs)}, ` +
    `sha256 ${ms(blocks.sha256Ms)}, add ${ms(blocks.addMs)}`,
);
if (args.out) await writeFile(args.out, `${JSON.stringify(report, null, 2)}\n`);
