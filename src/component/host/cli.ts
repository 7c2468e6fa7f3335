/**
 * wasi:cli 0.2 for an HTTP component: the environment it was granted, `exit`, stdin (always
 * empty: the request body arrives through wasi:http, not stdin), stdout and stderr (captured,
 * bounded), and no terminal.
 */
import type { HostContext } from './context.js';
import { type ByteSink, EMPTY_SOURCE, InputStream, lastOperationFailed, OutputStream } from './io.js';

/** Thrown by `exit`: ends the instance; run.ts decides what the exit means for the response. */
export class GuestExit {
  readonly code: number;
  constructor(code: number) {
    this.code = code;
  }
}

/** What the component may see of its process: nothing unless granted. */
export interface CliGrants {
  /** Environment variables. Default none. */
  env: readonly (readonly [string, string])[];
  /** Arguments. Default none. */
  args: readonly string[];
}

function capturedSink(ctx: HostContext, stream: 'stdout' | 'stderr'): ByteSink {
  const output = ctx[stream];
  return {
    capacity: () => ctx.limits.maxBytesPerCall,
    write: (data) => {
      if (!output.write(data)) throw lastOperationFailed(ctx, `${stream} is full`);
    },
  };
}

/** Terminal resources exist only to be named: isola never gives a component a terminal. */
class TerminalInput {}
class TerminalOutput {}

export function cliImports(ctx: HostContext, grants: CliGrants): Record<string, Record<string, unknown>> {
  return {
    'wasi:cli/environment': {
      getEnvironment: () => grants.env.map(([name, value]) => [name, value]),
      getArguments: () => [...grants.args],
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit: (status: { tag: 'ok' | 'err' }) => {
        throw new GuestExit(status.tag === 'ok' ? 0 : 1);
      },
      exitWithCode: (code: number) => {
        throw new GuestExit(code);
      },
    },
    'wasi:cli/stdin': { getStdin: () => new InputStream(ctx, EMPTY_SOURCE) },
    'wasi:cli/stdout': { getStdout: () => new OutputStream(ctx, capturedSink(ctx, 'stdout')) },
    'wasi:cli/stderr': { getStderr: () => new OutputStream(ctx, capturedSink(ctx, 'stderr')) },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
  };
}
