#!/usr/bin/env node
// The fedxray CLI. Sources are TypeScript, run through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../shared/cli/main.ts');
const code = await main(process.argv.slice(2));
// tfjs and sharp keep worker threads alive; exit explicitly once the command is done.
process.exit(code);
