/**
 * Where every benchmark child process starts (`run.ts` forks this file). It registers tsx through
 * its API and then runs `run.ts`, instead of being started with `--import tsx`: worker threads
 * inherit their process's execArgv, so under `--import tsx` every worker a contender starts (the
 * engine's, for one) would load tsx too, and boot with ~2.5× the CPU it takes as isola ships.
 */
import { register } from 'tsx/esm/api';

register();
await import('./run.ts');
