import { Type, type Static } from '@sinclair/typebox';
import {
  CREATE_READER_EXAMPLE,
  READER_CREATED_EXAMPLE,
  READER_LIST_EXAMPLE,
  READER_TOKEN_ROTATED_EXAMPLE,
  READER_VIEW_EXAMPLE,
} from './examples.ts';
import { Timestamp } from './common.ts';
import { PreviousTokenExpiresAt, UniqueName } from './hospitals.ts';

/** POST /readers: who the read-only token is for (e.g. "inference-api"). */
export const CreateReaderBodySchema = Type.Object(
  { name: UniqueName },
  { additionalProperties: false, examples: [CREATE_READER_EXAMPLE] },
);
export type CreateReaderBody = Static<typeof CreateReaderBodySchema>;

const ReaderToken = Type.String({
  description:
    "The reader's token (e.g. the inference API's AGGREGATOR_TOKEN). Shown once: only its " +
    'hash is kept',
});

/** Fields of the answers below. */
const Identity = { id: Type.String(), name: Type.String() };
const TokenState = { tokenRotatedAt: Timestamp, previousTokenExpiresAt: PreviousTokenExpiresAt };

export const ReaderCreatedSchema = Type.Object(
  { ...Identity, token: ReaderToken },
  { examples: [READER_CREATED_EXAMPLE] },
);
export type ReaderCreated = Static<typeof ReaderCreatedSchema>;

export const ReaderViewSchema = Type.Object(
  {
    ...Identity,
    createdAt: Timestamp,
    ...TokenState,
    revokedAt: Type.Union([Timestamp, Type.Null()], {
      description: 'When DELETE /readers/{id} revoked it (its tokens answer 401); null: in force',
    }),
  },
  { examples: [READER_VIEW_EXAMPLE] },
);
export type ReaderView = Static<typeof ReaderViewSchema>;

export const ReaderListSchema = Type.Object(
  { readers: Type.Array(ReaderViewSchema) },
  { examples: [READER_LIST_EXAMPLE] },
);
export type ReaderList = Static<typeof ReaderListSchema>;

/** POST /readers/:id/token: the new token, shown once. */
export const ReaderTokenRotatedSchema = Type.Object(
  { ...Identity, token: ReaderToken, ...TokenState },
  { examples: [READER_TOKEN_ROTATED_EXAMPLE] },
);
export type ReaderTokenRotated = Static<typeof ReaderTokenRotatedSchema>;
