/**
 * The locked app: an authored manifest resolved into the only form the runtime, the server and
 * the registry consume. Every path is absolute, every byte the guest can see is named by its
 * sha256 (so a change is detectable by comparing two locks), every limit is checked against its
 * range, and every route knows its component and executor. Plain JSON: it survives
 * `JSON.stringify` and a worker boundary unchanged.
 */
import type { InvocationLimits } from '../limits.js';
import type { ManifestFormat, RuntimeName } from '../manifest/manifest.js';

/** The version of this format; a consumer refuses a lock of another. */
export const LOCKED_APP_VERSION = 1;

export interface LockedApp {
  lockedAppVersion: typeof LOCKED_APP_VERSION;
  /** The manifest it was locked from. */
  manifest: { path: string; format: ManifestFormat };
  application: LockedApplication;
  /**
   * The app's variables by name: whether each is required, its default, whether it is secret.
   * Never a value from a provider: those are resolved at deploy and kept out of the lock.
   */
  variables: Readonly<Record<string, LockedVariable>>;
  /** In the manifest's order. */
  components: readonly LockedComponent[];
  /** In the manifest's order; no two match the same requests. */
  routes: readonly LockedRoute[];
}

export interface LockedVariable {
  required: boolean;
  secret: boolean;
  /** Absent for a required variable. */
  default?: string;
}

export interface LockedApplication {
  name: string;
  version?: string;
  description?: string;
  authors: readonly string[];
}

export interface LockedComponent {
  name: string;
  source: LockedSource;
  /** What the guest sees of the host's files; every mount is read-only. */
  files: readonly LockedMount[];
  environment: Readonly<Record<string, string>>;
  /**
   * Configuration keys → templates over the app's variables (`"{{ api_host }}/v1"`), rendered at
   * deploy. A WAGI guest sees each as an environment variable named by the upper-cased key.
   */
  variables: Readonly<Record<string, string>>;
  /** Where a component (wasi:http) may send requests: `allowed_outbound_hosts` entries, each valid. */
  allowedOutboundHosts: readonly string[];
  /**
   * Key-value store labels granted: a component opens them with wasi:keyvalue; a preview1 guest
   * sees each as a directory at `KEY_VALUE_MOUNT_DIR/LABEL`.
   */
  keyValueStores: readonly string[];
  /** Overrides of the engine's invocation limits, each within its range; absent keys take the engine's. */
  limits: Readonly<Partial<InvocationLimits>>;
  instance: LockedInstanceMode;
  /** For `runtime = "..."`: the interpreter is `source`, and this script, in the app bundled at /app, is what it runs. */
  runtime?: LockedRuntime;
}

/** A script run by one of isola's runtimes. */
export interface LockedRuntime {
  name: RuntimeName;
  /** The script's path in the guest, e.g. `/app/api/hello.py`. */
  script: string;
}

/** Where a runtime component's app directory appears in the guest. */
export const RUNTIME_APP_DIR = '/app';

/** Where a preview1 guest's key-value stores appear, one directory per label (`/kv/default`). */
export const KEY_VALUE_MOUNT_DIR = '/kv';

/** The component's WebAssembly file: a WASI preview1 core module. */
export interface LockedSource {
  path: string;
  /** Lowercase hex. */
  sha256: string;
  byteLength: number;
}

export type LockedMount = LockedDirectoryMount | LockedFileMount;

/** A host directory that appears, whole and read-only, at `guestPath`. */
export interface LockedDirectoryMount {
  kind: 'directory';
  hostPath: string;
  guestPath: string;
  /** Everything beneath it, by path relative to it ('/'-separated), sorted by code unit. */
  entries: readonly LockedDirectoryEntry[];
}

/** One host file that appears read-only at `guestPath` (a file path in the guest). */
export interface LockedFileMount {
  kind: 'file';
  hostPath: string;
  guestPath: string;
  sha256: string;
  byteLength: number;
}

export type LockedDirectoryEntry =
  /** A regular file. */
  | { path: string; sha256: string; byteLength: number }
  /** A symbolic link, with its target as written (not followed). */
  | { path: string; symlink: string };

export type LockedInstanceMode =
  /** A new instance per invocation (the default). */
  | { kind: 'fresh' }
  /** One instance serves up to `invocations` invocations (`instance_reuse`). */
  | { kind: 'reuse'; invocations: number };

export interface LockedRoute {
  /** As the manifest wrote it (already checked): `/hello`, `/hello/...`, `/users/:id`. */
  route: string;
  component: string;
  executor: LockedExecutor;
}

/**
 * How a request reaches the component: WAGI, i.e. CGI over a WASI command (RFC 3875, as
 * Spin's `wagi` executor does it).
 */
export type LockedExecutor = LockedWagiExecutor | LockedWasiHttpExecutor;

/** A WASI preview1 command (or reactor function), served CGI-style. */
export interface LockedWagiExecutor {
  type: 'wagi';
  /** The exported function to run: `_start` unless the manifest named another. */
  entrypoint: string;
  /** The argv template; `${SCRIPT_NAME}` and `${ARGS}` are replaced per request. */
  argv: string;
}

/** A WASI 0.2 component, served by its `wasi:http/incoming-handler` export. */
export interface LockedWasiHttpExecutor {
  type: 'wasi-http';
  /** The handler export as the component names it, e.g. `wasi:http/incoming-handler@0.2.10`. */
  handler: string;
}

/** WAGI's argv when the manifest sets none: the script name, then the query's arguments. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: WAGI's own placeholders, replaced per request.
export const DEFAULT_WAGI_ARGV = '${SCRIPT_NAME} ${ARGS}';
