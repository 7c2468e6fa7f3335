/**
 * Starts a worker thread from a sibling entry file, from the built `.js` or, under tsx (tests and
 * development), from the `.ts` source. Node 20 does not apply tsx's loader to a worker's entry
 * file even when `--import tsx` is inherited, so from source the worker starts from a small
 * script that registers tsx and then imports the TypeScript entry.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `entry` is the file's name without extension, e.g. `engine-worker`. */
export function spawnWorker(entry: string, options: WorkerOptions): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const source = new URL(`./${entry}.ts`, here).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
    return new Worker(bootstrap, { ...options, eval: true });
  }
  return new Worker(new URL(`./${entry}.js`, here), options);
}
