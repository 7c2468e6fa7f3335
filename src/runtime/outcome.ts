/**
 * Sorting what ended a guest into an outcome: a trap, a broken limit, a host error, or a host
 * bug. Shared by the single-shot `runCommand` worker and the engine's pooled workers.
 */
import { IsolaError } from '../errors.js';
import type { LimitName, Outcome } from './protocol.js';

/** The trap message of a guest whose recursion ran out of stack. */
export const CALL_STACK_EXHAUSTED = 'call stack exhausted';

/** The outcome for an exception thrown out of instantiation or the guest's entry point. */
export function outcomeOf(error: unknown): Outcome {
  if (error instanceof WebAssembly.RuntimeError) return { kind: 'trap', message: trapReason(error.message) };
  // V8 reports a guest's runaway recursion as a RangeError, not a RuntimeError; it is a trap all the same.
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return { kind: 'trap', message: CALL_STACK_EXHAUSTED };
  }
  if (error instanceof IsolaError) {
    const limit = limitBroken(error);
    return limit
      ? { kind: 'limit', limit, message: error.message }
      : { kind: 'error', error: error.toJSON() };
  }
  if (error instanceof WebAssembly.LinkError) {
    const reason = error.message.replace(/^WebAssembly\.(instantiate|Instance)\(\): /, '');
    return {
      kind: 'error',
      error: new IsolaError(
        'E_MODULE_UNSUPPORTED_IMPORTS',
        `module cannot be linked: ${reason}: check that it was built for WASI preview1`,
        { reason },
      ).toJSON(),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    kind: 'error',
    error: new IsolaError('E_INTERNAL', `host error while running the guest: ${message}`, {
      stack: error instanceof Error ? error.stack : undefined,
    }).toJSON(),
  };
}

function limitBroken(error: IsolaError): LimitName | undefined {
  if (error.code === 'E_GUEST_INPUT_LIMIT') return 'maxStdinBytes';
  if (error.code !== 'E_GUEST_OUTPUT_LIMIT') return undefined;
  return error.details.stream === 'stderr' ? 'maxStderrBytes' : 'maxStdoutBytes';
}

/** V8's trap messages are clear except the bare "unreachable"; say it the way wasmtime does. */
function trapReason(message: string): string {
  return message === 'unreachable' ? 'wasm `unreachable` instruction executed' : message;
}
