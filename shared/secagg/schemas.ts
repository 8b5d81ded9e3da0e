/**
 * TypeBox schemas of the JSON messages (messages.ts), for the REST routes that will carry
 * them and for parsing a message read from anywhere else: `parseMessage` turns the first
 * schema error into a `bad-message` refusal. The masked input is binary (masked-input.ts).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { SecAggError } from './errors.ts';
import { PROTOCOL } from './messages.ts';

const Id = Type.String({ minLength: 1, maxLength: 200 });
const Protocol = Type.Literal(PROTOCOL);
/** 32 bytes, base64url without padding. */
const Key32 = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' });
/** A share value, 66 bytes, base64url without padding. */
const ShareValue = Type.String({ pattern: '^[A-Za-z0-9_-]{88}$' });
const Index = Type.Integer({ minimum: 1, maximum: 2 ** 20 });

export const AdvertiseKeysSchema = Type.Object({
  protocol: Protocol,
  round: Id,
  clientId: Id,
  maskPublicKey: Key32,
  encryptionPublicKey: Key32,
});

export const RosterSchema = Type.Object({
  protocol: Protocol,
  config: Type.Object({
    round: Id,
    threshold: Type.Integer({ minimum: 2 }),
    neighbours: Type.Optional(Type.Integer({ minimum: 2, multipleOf: 2 })),
    vectorLength: Type.Integer({ minimum: 1 }),
    quantization: Type.Object({
      clip: Type.Number({ exclusiveMinimum: 0 }),
      maxClients: Type.Integer({ minimum: 1, maximum: 2 ** 20 }),
      rounding: Type.Union([Type.Literal('deterministic'), Type.Literal('stochastic')]),
    }),
  }),
  clients: Type.Array(
    Type.Object({
      clientId: Id,
      index: Index,
      maskPublicKey: Key32,
      encryptionPublicKey: Key32,
    }),
  ),
});

export const EncryptedShareSchema = Type.Object({
  sender: Id,
  recipient: Id,
  nonce: Type.String({ pattern: '^[A-Za-z0-9_-]{16}$' }),
  ciphertext: Type.String({ pattern: '^[A-Za-z0-9_-]{198}$' }),
});

export const ShareKeysSchema = Type.Object({
  protocol: Protocol,
  round: Id,
  clientId: Id,
  shares: Type.Array(EncryptedShareSchema),
  selfMaskCommitment: Type.String({ pattern: '^[0-9a-f]{64}$' }),
});

export const ShareInboxSchema = Type.Object({
  protocol: Protocol,
  round: Id,
  recipient: Id,
  senders: Type.Array(Id),
  shares: Type.Array(EncryptedShareSchema),
});

export const MaskedInputHeaderSchema = Type.Object({
  protocol: Protocol,
  round: Id,
  clientId: Id,
  length: Type.Integer({ minimum: 0 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  mac: Type.String({ pattern: '^[0-9a-f]{64}$' }),
});

export const UnmaskRequestSchema = Type.Object({
  protocol: Protocol,
  round: Id,
  survivors: Type.Array(Id),
  dropped: Type.Array(Id),
});

const RevealedShareSchema = Type.Object({ owner: Id, x: Index, y: ShareValue });

export const UnmaskResponseSchema = Type.Object({
  protocol: Protocol,
  round: Id,
  clientId: Id,
  selfMaskShares: Type.Array(RevealedShareSchema),
  maskKeyShares: Type.Array(RevealedShareSchema),
});

/** The value as the schema's type, or a `bad-message` refusal naming the first error. */
export function parseMessage<S extends TSchema>(
  schema: S,
  value: unknown,
  what: string,
): Static<S> {
  if (Value.Check(schema, value)) return value;
  const first = Value.Errors(schema, value).First();
  const where = first ? `${first.path || '/'}: ${first.message}` : 'does not fit its schema';
  throw new SecAggError('bad-message', `${what} is malformed (${where})`);
}
