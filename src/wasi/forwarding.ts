/**
 * Preview1 imports that stay the same object across instances and forward each call to whichever
 * `Wasi` is current. V8 does work per imported JavaScript function when it instantiates a module:
 * on this machine, instantiating hello with a new set of import closures costs ~24 µs, with the
 * same functions as last time ~8 µs. A worker therefore instantiates every module against one
 * forwarding table and swaps the invocation's own context in and out, which keeps each
 * invocation's descriptors, environment and stdio its own. A call made while no context is
 * current (it cannot happen for a guest that is only run inside an invocation) is a host bug.
 */
import { IsolaError } from '../errors.js';
import type { Preview1Imports } from './preview1.js';
import { PREVIEW1_SIGNATURES } from './preview1-signatures.js';

type Arg = number | bigint;

export class ForwardingPreview1 {
  /** The import functions to instantiate with; the same object for the table's whole life. */
  readonly imports: Preview1Imports;
  #current: Preview1Imports | undefined;

  constructor() {
    const imports: Preview1Imports = {};
    for (const [name, signature] of PREVIEW1_SIGNATURES) {
      imports[name] = this.#forwarder(name, signature.params.length);
    }
    this.imports = imports;
  }

  /** Makes `preview1` (one invocation's `Wasi.preview1`) receive the calls; undefined detaches. */
  attach(preview1: Preview1Imports | undefined): void {
    this.#current = preview1;
  }

  #target(name: string): (...args: Arg[]) => number {
    const current = this.#current;
    if (current === undefined) {
      throw new IsolaError('E_INTERNAL', `the guest called ${name} outside an invocation`, { name });
    }
    return current[name] as unknown as (...args: Arg[]) => number;
  }

  /** A function of the import's exact arity, so that V8 calls through it without an arguments object. */
  #forwarder(name: string, arity: number): (...args: never[]) => number {
    const target = (): ((...args: Arg[]) => number) => this.#target(name);
    switch (arity) {
      case 1:
        return (a: Arg) => target()(a);
      case 2:
        return (a: Arg, b: Arg) => target()(a, b);
      case 3:
        return (a: Arg, b: Arg, c: Arg) => target()(a, b, c);
      case 4:
        return (a: Arg, b: Arg, c: Arg, d: Arg) => target()(a, b, c, d);
      case 5:
        return (a: Arg, b: Arg, c: Arg, d: Arg, e: Arg) => target()(a, b, c, d, e);
      default:
        return (...args: Arg[]) => target()(...args);
    }
  }
}
