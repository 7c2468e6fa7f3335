/**
 * The import object of one component instance: every `wasi:*` interface isola provides, keyed
 * the way jco's glue looks them up (`imports['wasi:http/types']`, no version), all built from one
 * `HostContext` and the instance's grants. Nothing is granted by default: no environment, no
 * arguments, no preopens, stdin empty, every outgoing request denied, every key-value store
 * denied (`open` is `access-denied`), no config variables.
 */
import { type CliGrants, cliImports } from './cli.js';
import { clocksImports } from './clocks.js';
import { type ConfigGrant, configImports } from './config.js';
import type { HostContext } from './context.js';
import { type ComponentPreopen, filesystemImports } from './filesystem.js';
import {
  httpTypesImports,
  type InstanceHttpClasses,
  instanceHttpClasses,
  type ResponseState,
} from './http-types.js';
import { ioImports } from './io.js';
import { type KeyValueGrant, keyValueImports } from './keyvalue.js';
import { DENY_ALL_OUTBOUND, type OutboundHttp, outgoingHandlerImports } from './outgoing-handler.js';
import { randomImports } from './random.js';

/** What one instance is granted. Every field is optional; each default grants nothing. */
export interface ComponentGrants extends Partial<CliGrants> {
  /** Directories the component sees (a bundle mount, a host directory). Default none. */
  preopens?: readonly ComponentPreopen[];
  /** Outbound HTTP. Default: every request denied with `HTTP-request-denied`. */
  outbound?: OutboundHttp;
  /** The key-value stores (wasi:keyvalue) of the component's app. Default none: `open` is `access-denied`. */
  keyValue?: KeyValueGrant;
  /** The component's variables (wasi:config), as name and value. Default none. */
  config?: ConfigGrant;
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
    ...keyValueImports(ctx, grants.keyValue),
    ...configImports(grants.config ?? []),
  };
  return { imports, classes };
}
