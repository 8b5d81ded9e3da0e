/**
 * The server's side of a secure-aggregation round. It collects each stage's messages, and the
 * transport closes a stage (all arrived, or the deadline) by asking for the next broadcast;
 * every stage needs at least t clients. Masked inputs are added into one running sum as they
 * arrive, so the server never holds more than one vector; at the end it removes the survivors'
 * self masks (b_v from t shares) and the dropped clients' pairwise masks (s_u^SK from t
 * shares, checked against the advertised public key) and is left with the survivors' sum.
 */
import { SecAggError } from './errors.ts';
import { neighbourhoods, type Neighbourhoods } from './graph.ts';
import { pairwiseKey, publicKeyOf, selfMaskCommitment } from './keys.ts';
import { verifyMaskedInput } from './masked-input.ts';
import {
  PROTOCOL,
  checkClientId,
  checkConfig,
  checkRound,
  fromBase64,
  type AdvertiseKeys,
  type EncryptedShare,
  type MaskedInput,
  type RevealedShare,
  type RoundConfig,
  type Roster,
  type RosterEntry,
  type ShareInbox,
  type ShareKeys,
  type UnmaskRequest,
  type UnmaskResponse,
} from './messages.ts';
import { applyMask } from './prg.ts';
import { SHARE_BYTES, combineShares, decodeShareValue, type Share } from './shamir.ts';

export interface ServerOptions {
  config: RoundConfig;
  /** A client's authentication key; undefined for a client that is not part of the run. */
  authKey(clientId: string): Uint8Array | undefined;
}

export interface AggregateResult {
  /** Sum mod 2^32 of the survivors' quantised inputs (dequantizeSum turns it into floats). */
  sum: Uint32Array;
  /** U3: whose inputs are in the sum. */
  survivors: string[];
  /** U2 \ U3: shared keys, sent no masked input; their pairwise masks were removed. */
  dropped: string[];
  /** Who answered the unmask request. */
  answered: string[];
}

type Stage = 'advertise' | 'share' | 'collect' | 'unmask' | 'done';

export class SecAggServer {
  private stage: Stage = 'advertise';
  private readonly config: RoundConfig;
  private readonly advertised = new Map<string, AdvertiseKeys>();
  private roster?: Roster;
  private entries = new Map<string, RosterEntry>();
  private graph: Neighbourhoods = new Map();
  private readonly shared = new Map<string, ShareKeys>();
  private sum?: Uint32Array;
  private readonly masked = new Set<string>();
  private request?: UnmaskRequest;
  private readonly responses = new Map<string, UnmaskResponse>();

  constructor(private readonly options: ServerOptions) {
    this.config = options.config;
    // The roster may hold up to maxClients; its real size is checked again when it closes.
    checkConfig(this.config, this.config.quantization.maxClients);
  }

  private expect(stage: Stage, action: string): void {
    if (this.stage !== stage) {
      throw new SecAggError('out-of-order', `cannot ${action} at stage ${this.stage}`);
    }
  }

  private atLeastThreshold(count: number, what: string): void {
    if (count < this.config.threshold) {
      throw new SecAggError(
        'below-threshold',
        `${count} ${what}, fewer than the threshold t = ${this.config.threshold}: the round ` +
          `cannot go on without revealing less than t clients' sum`,
      );
    }
  }

  receiveAdvertiseKeys(message: AdvertiseKeys): void {
    this.expect('advertise', 'take keys');
    checkRound(message, this.config.round, 'the advertised keys');
    checkClientId(message.clientId);
    if (!this.options.authKey(message.clientId)) {
      throw new SecAggError('unknown-client', `${message.clientId} is not a client of this round`);
    }
    if (this.advertised.has(message.clientId)) {
      throw new SecAggError('duplicate', `${message.clientId} already advertised its keys`);
    }
    fromBase64(message.maskPublicKey, 32, 'the mask public key');
    fromBase64(message.encryptionPublicKey, 32, 'the encryption public key');
    this.advertised.set(message.clientId, message);
  }

  /** Closes stage 0: U1, sorted, with the round's config. */
  rosterMessage(): Roster {
    if (this.roster) return this.roster;
    this.expect('advertise', 'build the roster');
    this.atLeastThreshold(this.advertised.size, 'clients advertised keys');
    checkConfig(this.config, this.advertised.size);
    const clients = [...this.advertised.keys()].sort().map((clientId, i) => {
      const { maskPublicKey, encryptionPublicKey } = this.advertised.get(clientId)!;
      return { clientId, index: i + 1, maskPublicKey, encryptionPublicKey };
    });
    this.roster = { protocol: PROTOCOL, config: this.config, clients };
    this.entries = new Map(clients.map((entry) => [entry.clientId, entry]));
    const ids = clients.map((entry) => entry.clientId);
    this.graph = neighbourhoods(ids, this.config.round, this.config.neighbours);
    this.stage = 'share';
    return this.roster;
  }

  receiveShareKeys(message: ShareKeys): void {
    this.expect('share', 'take shares');
    checkRound(message, this.config.round, 'the shares');
    const sender = message.clientId;
    if (!this.entries.has(sender)) {
      throw new SecAggError('unknown-client', `${sender} is not in the roster`);
    }
    if (this.shared.has(sender)) {
      throw new SecAggError('duplicate', `${sender} already sent its shares`);
    }
    const recipients = message.shares.map((share) => share.recipient).sort();
    const expected = [...this.graph.get(sender)!].sort();
    const fromOthers = message.shares.some((share) => share.sender !== sender);
    if (fromOthers || JSON.stringify(recipients) !== JSON.stringify(expected)) {
      throw new SecAggError(
        'bad-message',
        `${sender} must send one share from itself to each of its neighbours in the roster`,
      );
    }
    if (!/^[0-9a-f]{64}$/.test(String(message.selfMaskCommitment))) {
      throw new SecAggError('bad-message', `${sender}'s self-mask commitment is not a SHA-256`);
    }
    this.shared.set(sender, message);
  }

  /** Closes stage 1: for each client of U2, the shares the others of U2 addressed to it. */
  shareInboxes(): ShareInbox[] {
    this.expect('share', 'deliver shares');
    this.atLeastThreshold(this.shared.size, 'clients shared keys');
    const senders = [...this.shared.keys()].sort();
    const to = (recipient: string): EncryptedShare[] =>
      senders
        .filter((id) => this.graph.get(recipient)!.has(id))
        .map((id) => this.shared.get(id)!.shares.find((share) => share.recipient === recipient)!);
    this.stage = 'collect';
    return senders.map((recipient) => ({
      protocol: PROTOCOL,
      round: this.config.round,
      recipient,
      senders,
      shares: to(recipient),
    }));
  }

  /** Verifies a masked input and adds it into the running sum. */
  receiveMaskedInput(input: MaskedInput): void {
    this.expect('collect', 'take masked inputs');
    const id = input.header.clientId;
    if (!this.shared.has(id)) {
      throw new SecAggError(
        'unknown-client',
        `${id} shared no keys this round: its input is refused`,
      );
    }
    if (this.masked.has(id))
      throw new SecAggError('duplicate', `${id} already sent its masked input`);
    verifyMaskedInput(
      input,
      this.config.round,
      this.config.vectorLength,
      this.options.authKey(id)!,
    );
    if (!this.sum) this.sum = Uint32Array.from(input.values);
    else for (let i = 0; i < this.sum.length; i++) this.sum[i] += input.values[i];
    this.masked.add(id);
  }

  /** Closes stage 2: U3 and U2 \ U3, the same request for every survivor. */
  unmaskRequest(): UnmaskRequest {
    if (this.request) return this.request;
    this.expect('collect', 'ask to unmask');
    this.atLeastThreshold(this.masked.size, 'masked inputs arrived');
    const survivors = [...this.masked].sort();
    const dropped = [...this.shared.keys()].filter((id) => !this.masked.has(id)).sort();
    this.request = { protocol: PROTOCOL, round: this.config.round, survivors, dropped };
    this.stage = 'unmask';
    return this.request;
  }

  receiveUnmaskResponse(response: UnmaskResponse): void {
    this.expect('unmask', 'take unmask answers');
    const request = this.request!;
    checkRound(response, this.config.round, 'the unmask answer');
    const id = response.clientId;
    if (!this.masked.has(id)) throw new SecAggError('unknown-client', `${id} is not a survivor`);
    if (this.responses.has(id)) throw new SecAggError('duplicate', `${id} already answered`);
    const x = this.entries.get(id)!.index;
    const group = (owner: string) => owner === id || this.graph.get(id)!.has(owner);
    const covers = (shares: RevealedShare[], owners: string[]): boolean =>
      shares.length === owners.length &&
      shares.every((share, i) => share.owner === owners[i] && share.x === x);
    if (
      !covers(response.selfMaskShares, request.survivors.filter(group)) ||
      !covers(response.maskKeyShares, request.dropped.filter(group))
    ) {
      throw new SecAggError('bad-message', `${id}'s answer does not match the unmask request`);
    }
    [...response.selfMaskShares, ...response.maskKeyShares].forEach((share) =>
      decodeShareValue(fromBase64(share.y, SHARE_BYTES, `${id}'s share of ${share.owner}`)),
    );
    this.responses.set(id, response);
  }

  /** Removes the masks; needs answers from at least t survivors. */
  result(): AggregateResult {
    this.expect('unmask', 'unmask the sum');
    const request = this.request!;
    this.atLeastThreshold(this.responses.size, 'survivors answered the unmask request');
    const answers = [...this.responses.values()];
    const sharesOf = (owner: string, kind: 'selfMaskShares' | 'maskKeyShares'): Share[] => {
      const held = answers.flatMap((answer) => answer[kind].filter((s) => s.owner === owner));
      if (held.length < this.config.threshold) {
        const what = kind === 'selfMaskShares' ? 'self-mask seed' : 'mask key';
        throw new SecAggError(
          'below-threshold',
          `${held.length} answers hold shares of ${owner}'s ${what}, fewer than the threshold ` +
            `t = ${this.config.threshold}`,
        );
      }
      return held.map((s) => ({
        x: s.x,
        y: decodeShareValue(fromBase64(s.y, SHARE_BYTES, 'a share')),
      }));
    };
    const sum = this.sum!;
    const t = this.config.threshold;
    for (const v of request.survivors) {
      const seed = combineShares(sharesOf(v, 'selfMaskShares'), t, 32);
      if (
        selfMaskCommitment(this.config.round, v, seed) !== this.shared.get(v)!.selfMaskCommitment
      ) {
        throw new SecAggError(
          'reconstruction-failed',
          `the self mask rebuilt for ${v} does not match its commitment: a share was wrong`,
        );
      }
      applyMask(sum, seed, -1);
    }
    for (const u of request.dropped) {
      const secretKey = combineShares(sharesOf(u, 'maskKeyShares'), t, 32);
      const advertised = fromBase64(this.entries.get(u)!.maskPublicKey, 32, 'a mask public key');
      if (!publicKeyOf(secretKey).equals(advertised)) {
        throw new SecAggError(
          'reconstruction-failed',
          `the key reconstructed for ${u} is not its own`,
        );
      }
      for (const v of request.survivors.filter((s) => this.graph.get(u)!.has(s))) {
        const peer = fromBase64(this.entries.get(v)!.maskPublicKey, 32, 'a mask public key');
        const seed = pairwiseKey(secretKey, peer, 'mask', this.config.round, u, v);
        // v added +PRG(s_uv) when u > v, -PRG(s_uv) when u < v: take that back out.
        applyMask(sum, seed, u > v ? -1 : 1);
      }
    }
    this.stage = 'done';
    return {
      sum,
      survivors: request.survivors,
      dropped: request.dropped,
      answered: [...this.responses.keys()].sort(),
    };
  }
}
