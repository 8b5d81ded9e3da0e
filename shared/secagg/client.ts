/**
 * One client's side of a secure-aggregation round. A state machine over the four stages; each
 * method takes the server's message of the previous stage and returns the client's next one.
 * The client checks what the server sends: the roster (its own keys, a safe threshold), the
 * share inbox (every share opens), and the unmask request (one kind of share per peer, and
 * the same answer to a retried request, never a second, different one).
 */
import { SecAggError } from './errors.ts';
import { groupSize, neighbourhoods } from './graph.ts';
import { generateKeyPair, pairwiseKey, selfMaskCommitment, type KeyPair } from './keys.ts';
import { sealMaskedInput } from './masked-input.ts';
import {
  PROTOCOL,
  checkClientId,
  checkConfig,
  checkRound,
  fromBase64,
  toBase64,
  type AdvertiseKeys,
  type MaskedInput,
  type Roster,
  type RosterEntry,
  type ShareInbox,
  type ShareKeys,
  type UnmaskRequest,
  type UnmaskResponse,
} from './messages.ts';
import { applyMask } from './prg.ts';
import { quantize } from './quantize.ts';
import { cryptoRandom, type RandomSource } from './random.ts';
import { encodeShareValue, splitSecret } from './shamir.ts';
import { openShares, sealShares, type SharePair } from './share-box.ts';

export interface ClientOptions {
  clientId: string;
  round: string;
  /** The key the server checks masked inputs with (in the services: the token's SHA-256). */
  authKey: Uint8Array;
  /** Defaults to node:crypto; a seeded source only in tests. */
  random?: RandomSource;
  /** The lowest threshold accepted for groups of n (a client and its neighbours); default n/2 + 1. */
  minThreshold?: (clients: number) => number;
}

type Stage = 'new' | 'advertised' | 'shared' | 'masked';

export interface MaskedUpload {
  input: MaskedInput;
  /** Coordinates clipped to [-B, B] by the quantisation (for the node's log). */
  clipped: number;
}

export class SecAggClient {
  readonly clientId: string;
  private readonly random: RandomSource;
  private stage: Stage = 'new';
  private readonly maskKeys: KeyPair;
  private readonly encryptionKeys: KeyPair;
  private roster?: Roster;
  private peers = new Map<string, RosterEntry>();
  /** The clients this one shares with and masks with (all others, or its SecAgg+ neighbours). */
  private neighbours: ReadonlySet<string> = new Set();
  private selfMaskSeed?: Buffer;
  /** Shares this client holds, by the owner of the secret (its own included). */
  private readonly held = new Map<string, SharePair>();
  /** U2 as the server announced it (all clients that shared keys, not only neighbours). */
  private sharedWith: string[] = [];
  private answered?: { key: string; response: UnmaskResponse };

  constructor(private readonly options: ClientOptions) {
    checkClientId(options.clientId);
    checkClientId(options.round);
    this.clientId = options.clientId;
    this.random = options.random ?? cryptoRandom;
    this.maskKeys = generateKeyPair(this.random);
    this.encryptionKeys = generateKeyPair(this.random);
  }

  private expect(stage: Stage, action: string): void {
    if (this.stage !== stage) {
      throw new SecAggError(
        'out-of-order',
        `${this.clientId} cannot ${action} at stage ${this.stage}`,
      );
    }
  }

  /** Stage 0: the two public keys of this round. */
  advertiseKeys(): AdvertiseKeys {
    if (this.stage === 'new') this.stage = 'advertised';
    return {
      protocol: PROTOCOL,
      round: this.options.round,
      clientId: this.clientId,
      maskPublicKey: toBase64(this.maskKeys.publicKey),
      encryptionPublicKey: toBase64(this.encryptionKeys.publicKey),
    };
  }

  /** Stage 1: shares of b_u and s_u^SK for every client of the roster, each sealed for it. */
  shareKeys(roster: Roster): ShareKeys {
    this.expect('advertised', 'share keys');
    this.checkRoster(roster);
    const { config, clients } = roster;
    this.roster = roster;
    this.peers = new Map(clients.map((entry) => [entry.clientId, entry]));
    const ids = clients.map((entry) => entry.clientId);
    this.neighbours = neighbourhoods(ids, config.round, config.neighbours).get(this.clientId)!;
    const group = clients.filter(
      (entry) => entry.clientId === this.clientId || this.neighbours.has(entry.clientId),
    );
    this.selfMaskSeed = Buffer.from(this.random(32));
    const indices = group.map((entry) => entry.index);
    const selfMask = splitSecret(this.selfMaskSeed, config.threshold, indices, this.random);
    const maskKey = splitSecret(this.maskKeys.privateKey, config.threshold, indices, this.random);
    const shares = [];
    for (const [i, peer] of group.entries()) {
      const pair = { selfMask: selfMask[i].y, maskKey: maskKey[i].y };
      if (peer.clientId === this.clientId) {
        this.held.set(this.clientId, pair);
        continue;
      }
      const key = this.pairKey(peer, 'encryption');
      shares.push(sealShares(key, config.round, this.clientId, peer.clientId, pair, this.random));
    }
    this.stage = 'shared';
    return {
      protocol: PROTOCOL,
      round: config.round,
      clientId: this.clientId,
      shares,
      selfMaskCommitment: selfMaskCommitment(config.round, this.clientId, this.selfMaskSeed),
    };
  }

  /**
   * Stage 2: the update (chunks in order, vectorLength coordinates in all) quantised and
   * masked: + PRG(b_u), + PRG(s_uv) for each other sender v > u, - PRG(s_uv) for v < u.
   */
  maskedInput(inbox: ShareInbox, update: Iterable<Float32Array>): MaskedUpload {
    this.expect('shared', 'send a masked input');
    const { config } = this.roster!;
    checkRound(inbox, config.round, 'the share inbox');
    if (inbox.recipient !== this.clientId) {
      throw new SecAggError('bad-message', `the share inbox is for ${inbox.recipient}`);
    }
    const senders = this.checkSubset(inbox.senders, [...this.peers.keys()], 'share senders');
    if (!senders.includes(this.clientId)) {
      throw new SecAggError('bad-message', 'the share inbox leaves out its own recipient');
    }
    if (senders.length < config.threshold) {
      throw new SecAggError(
        'below-threshold',
        `${senders.length} clients shared keys, fewer than the threshold ${config.threshold}`,
      );
    }
    const others = senders.filter((id) => this.neighbours.has(id));
    if (others.length + 1 < config.threshold) {
      throw new SecAggError(
        'below-threshold',
        `${others.length + 1} of ${this.clientId}'s group shared keys, fewer than the threshold ${config.threshold}`,
      );
    }
    const bySender = new Map(inbox.shares.map((share) => [share.sender, share]));
    if (bySender.size !== inbox.shares.length || inbox.shares.length !== others.length) {
      throw new SecAggError(
        'bad-message',
        'the share inbox must hold one share per neighbour that shared',
      );
    }
    for (const sender of others) {
      const share = bySender.get(sender);
      if (!share)
        throw new SecAggError('bad-message', `the share inbox has no share from ${sender}`);
      const key = this.pairKey(this.peers.get(sender)!, 'encryption');
      this.held.set(sender, openShares(key, config.round, this.clientId, share));
    }
    const { values, clipped } = quantize(
      update,
      config.vectorLength,
      config.quantization,
      this.random,
    );
    applyMask(values, this.selfMaskSeed!, 1);
    for (const peer of others) {
      applyMask(values, this.pairKey(this.peers.get(peer)!, 'mask'), peer > this.clientId ? 1 : -1);
    }
    this.sharedWith = senders;
    this.stage = 'masked';
    const input = sealMaskedInput(values, config.round, this.clientId, this.options.authKey);
    return { input, clipped };
  }

  /** Stage 3: b-shares of the survivors, s^SK-shares of the dropped; one answer per round. */
  unmask(request: UnmaskRequest): UnmaskResponse {
    this.expect('masked', 'unmask');
    const { config } = this.roster!;
    checkRound(request, config.round, 'the unmask request');
    const survivors = this.checkSubset(request.survivors, this.sharedWith, 'survivors');
    const dropped = this.checkSubset(request.dropped, this.sharedWith, 'dropped clients');
    const key = JSON.stringify([survivors, dropped]);
    if (this.answered) {
      if (this.answered.key === key) return this.answered.response;
      throw new SecAggError(
        'conflicting-request',
        `${this.clientId} already answered an unmask request with other survivors and dropped clients`,
      );
    }
    const both = survivors.filter((id) => dropped.includes(id));
    if (both.length > 0) {
      throw new SecAggError(
        'conflicting-request',
        `both shares of ${both.join(', ')} were asked for: that would reveal their input`,
      );
    }
    if (survivors.length + dropped.length !== this.sharedWith.length) {
      throw new SecAggError(
        'bad-message',
        'survivors and dropped must cover every client that shared',
      );
    }
    if (!survivors.includes(this.clientId)) {
      throw new SecAggError('bad-message', `${this.clientId} sent its masked input: not dropped`);
    }
    if (survivors.length < config.threshold) {
      throw new SecAggError(
        'below-threshold',
        `${survivors.length} survivors, fewer than the threshold ${config.threshold}`,
      );
    }
    const x = this.peers.get(this.clientId)!.index;
    const reveal = (owner: string, y: bigint) => ({ owner, x, y: toBase64(encodeShareValue(y)) });
    // Shares are held only for this client's group: itself and its neighbours.
    const held = (id: string) => this.held.has(id);
    const response: UnmaskResponse = {
      protocol: PROTOCOL,
      round: config.round,
      clientId: this.clientId,
      selfMaskShares: survivors.filter(held).map((id) => reveal(id, this.held.get(id)!.selfMask)),
      maskKeyShares: dropped.filter(held).map((id) => reveal(id, this.held.get(id)!.maskKey)),
    };
    this.answered = { key, response };
    return response;
  }

  private pairKey(peer: RosterEntry, purpose: 'mask' | 'encryption'): Buffer {
    const mine = purpose === 'mask' ? this.maskKeys : this.encryptionKeys;
    const theirs = purpose === 'mask' ? peer.maskPublicKey : peer.encryptionPublicKey;
    const publicKey = fromBase64(theirs, 32, `${peer.clientId}'s ${purpose} public key`);
    return pairwiseKey(
      mine.privateKey,
      publicKey,
      purpose,
      this.options.round,
      this.clientId,
      peer.clientId,
    );
  }

  private checkRoster(roster: Roster): void {
    if (roster.protocol !== PROTOCOL) throw new SecAggError('bad-message', 'not a roster');
    const { config, clients } = roster;
    checkRound(
      { protocol: roster.protocol, round: config.round },
      this.options.round,
      'the roster',
    );
    checkConfig(config, clients.length);
    const group = groupSize(clients.length, config.neighbours);
    const min = (this.options.minThreshold ?? ((n) => Math.floor(n / 2) + 1))(group);
    if (config.threshold < min) {
      throw new SecAggError(
        'bad-config',
        `threshold ${config.threshold} is below ${min} for groups of ${group} clients: refused`,
      );
    }
    clients.forEach((entry, i) => {
      checkClientId(entry.clientId);
      if (entry.index !== i + 1 || (i > 0 && !(clients[i - 1].clientId < entry.clientId))) {
        throw new SecAggError('bad-message', 'the roster must be sorted by id with indices 1..n');
      }
    });
    const keys = clients.flatMap((entry) => [entry.maskPublicKey, entry.encryptionPublicKey]);
    if (new Set(keys).size !== keys.length) {
      throw new SecAggError('bad-message', 'the roster repeats a public key');
    }
    const mine = this.advertiseKeys();
    const me = clients.find((entry) => entry.clientId === this.clientId);
    if (
      !me ||
      me.maskPublicKey !== mine.maskPublicKey ||
      me.encryptionPublicKey !== mine.encryptionPublicKey
    ) {
      throw new SecAggError('bad-message', `the roster does not carry ${this.clientId}'s own keys`);
    }
  }

  /** The ids, sorted, after checking they are distinct members of `allowed`. */
  private checkSubset(ids: readonly string[], allowed: readonly string[], what: string): string[] {
    if (!Array.isArray(ids)) throw new SecAggError('bad-message', `${what} must be a list`);
    const sorted = [...ids].sort();
    if (new Set(sorted).size !== sorted.length) {
      throw new SecAggError('bad-message', `${what} repeat a client`);
    }
    const unknown = sorted.filter((id) => !allowed.includes(id));
    if (unknown.length > 0) {
      throw new SecAggError(
        'unknown-client',
        `${what} name clients outside the round: ${unknown.join(', ')}`,
      );
    }
    return sorted;
  }
}
