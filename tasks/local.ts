// The local platform's CLI (see tasks/lib/platform/local/cli.ts for the commands).
import { runMain } from './lib/ui/cli';
import { localMain } from './lib/platform/local/cli';
import { forgetConfigured } from './lib/promote';

await runMain((out) =>
  localMain(process.argv.slice(2), out, {
    // The machines are gone: the next `up` brings each stage up from the start.
    afterClean: (cfg, say) => {
      for (const stage of forgetConfigured(cfg.stateRoot)) say(`forgot that ${stage} was configured: the next up brings it up from the start`);
    },
  }),
);
