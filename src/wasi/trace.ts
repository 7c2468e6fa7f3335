/**
 * The trace switch: wraps every import so each call is logged with its arguments and the errno
 * it returned (or what ended the instance). Only built when tracing is asked for, so an untraced
 * instance pays nothing.
 */
import { ERRNO_NAMES } from './defs.js';
import { type Preview1Imports, ProcExit } from './preview1.js';

export type TraceSink = (line: string) => void;

export function traceImports(imports: Preview1Imports, sink: TraceSink): Preview1Imports {
  const traced: Preview1Imports = {};
  for (const [name, fn] of Object.entries(imports)) {
    traced[name] = (...args: never[]) => {
      const call = `${name}(${args.map(String).join(', ')})`;
      let result: number;
      try {
        result = fn(...args);
      } catch (error) {
        const why =
          error instanceof ProcExit ? `exit ${error.code}` : `threw ${(error as Error)?.message ?? error}`;
        sink(`wasi: ${call} -> ${why}`);
        throw error;
      }
      sink(`wasi: ${call} -> ${ERRNO_NAMES[result] ?? result}`);
      return result;
    };
  }
  return traced;
}
