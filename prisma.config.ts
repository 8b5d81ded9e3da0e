// Prisma CLI configuration (Prisma 7 requires this file; .env is not loaded).
//
// Offline: every `prisma` command first looks for the native schema engine and tries to
// download it. `prisma generate` never runs that engine, so pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any existing executable (node itself) lets it work without
// network. Migrations do not use the CLI at all: see scripts/db-migrate.ts and
// shared/db/migrate.ts.
import { defineConfig } from 'prisma/config';

process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
process.env.CHECKPOINT_DISABLE ??= '1';
process.env.PRISMA_HIDE_UPDATE_MESSAGE ??= '1';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
