/**
 * Where the web dashboard's files are: its own page, scripts and CSS (services/aggregator/
 * dashboard), and htm's ESM bundle of preact with hooks, served from node_modules as is.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url));

/** htm/preact: its package exports no folder, so the directory is found from its main file. */
export const HTM_PREACT_DIR = path.join(
  path.dirname(createRequire(import.meta.url).resolve('htm')),
  '..',
  'preact',
);

/** The one vendor file the page imports (/dashboard/vendor/standalone.module.js). */
export const VENDOR_FILES: ReadonlySet<string> = new Set(['/standalone.module.js']);
