/**
 * The import object of one component instance: every `wasi:*` interface isola provides, keyed
 * the way jco's glue looks them up (`imports['wasi:http/types']`, no version), all built from one
 * `HostContext` and the instance's grants. Nothing is granted by default: no environment, no
 * arguments, no preopens, stdin empty, every outgoing request denied.
 */
import { type CliGrants, cliImports } from './cli.js';
import { clocksImports } from './clocks.js';
import type { HostContext } from './context.js';
import { type ComponentPreopen, filesystemImports } from './filesystem.js';
import {
  httpTypesImports,
  type InstanceHttpClasses,
  instanceHttpClasses,
  type ResponseState,
} from './http-types.js';
import { ioImports } from './io.js';
import { DENY_ALL_OUTBOUND, type OutboundHttp, outgoingHandlerImports } from './outgoing-handler.js';
import { randomImports } from './random.js';

/** What one instance is granted. Every field is optional; each default grants nothing. */
export interface ComponentGrants extends Partial<CliGrants> {
  /** Directories the component sees (a bundle mount, a host directory). Default none. */
  preopens?: readonly ComponentPreopen[];
  /** Outbound HTTP. Default: every request denied with `HTTP-request-denied`. */
  outbound?: OutboundHttp;
}

export interface ComponentImports {
  imports: Record<string, Record<string, unknown>>;
  classes: InstanceHttpClasses;
}

export function componentImports(
  ctx: HostContext,
  grants: ComponentGrants,
  state: ResponseState,
): ComponentImports {
  const classes = instanceHttpClasses(ctx, state);
  const imports = {
    ...ioImports(ctx),
    ...clocksImports(ctx),
    ...randomImports(ctx),
    ...cliImports(ctx, { env: grants.env ?? [], args: grants.args ?? [] }),
    ...filesystemImports(ctx, grants.preopens ?? []),
    'wasi:http/types': httpTypesImports(classes),
    ...outgoingHandlerImports(ctx, classes, grants.outbound ?? DENY_ALL_OUTBOUND),
  };
  return { imports, classes };
}
