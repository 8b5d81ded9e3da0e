// The aggregator's database layer: open it with openDatabase(), then use `db.prisma`.
// Model types, enums and the Prisma namespace come from the generated client
// (shared/db/generated/, made by `npm run db:generate`, also run by `npm install`).
export { openDatabase, parsePostgresUrl } from './database.ts';
export type { Database, DatabaseKind, OpenDatabaseOptions } from './database.ts';
export type { MigrateResult } from './migrate.ts';
export * from './generated/client.ts';
