// The local platform's CLI (see tasks/lib/local/cli.ts for the commands).
import { runMain } from './lib/cli';
import { localMain } from './lib/local/cli';

await runMain((out) => localMain(process.argv.slice(2), out));
