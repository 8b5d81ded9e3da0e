/**
 * Entry point of the paper suite (docs/paper-protocol.md):
 *
 *   npx tsx bench/paper/run.ts --profile cpu|paper|tiny --data DIR
 *       [--only table2,table3,federate,curves] [--results docs/results/<profile>] [--dry-run]
 *
 * `--help` lists every option (bench/paper/suite-options.ts).
 */
import { runPaperSuite } from './cli.ts';

const code = await runPaperSuite(process.argv.slice(2));
// tfjs, sharp and worker threads keep the event loop alive: exit once the suite is done.
process.exit(code);
