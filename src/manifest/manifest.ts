/**
 * The authored manifest as isola reads it: `isola.toml` (`manifest_version = 1`) or a Spin
 * `spin.toml` (`spin_manifest_version = 2`), checked and normalized, with paths still as the
 * author wrote them (relative to the manifest's directory). Nothing here has touched the disk:
 * `lockApp` (src/app/lock.ts) resolves it into the locked app that the runtime consumes.
 */
import type { ManifestLimits } from './limits.js';

/** Which file format the manifest was written in. */
export type ManifestFormat = 'isola' | 'spin';

export interface Manifest {
  format: ManifestFormat;
  application: ApplicationInfo;
  /** `[variables]`: the app's variables, by lower snake_case name. */
  variables: Readonly<Record<string, VariableDeclaration>>;
  /** `[[trigger.http]]`, in the manifest's order. */
  httpTriggers: readonly HttpTrigger[];
  /** `[component.NAME]`, in the manifest's order. */
  components: readonly ComponentManifest[];
}

/** `name = { default = "..." }` or `name = { required = true }`, either maybe `secret = true`. */
export interface VariableDeclaration {
  default?: string;
  required: boolean;
  secret: boolean;
  description?: string;
}

export interface ApplicationInfo {
  /** Letters, digits, `-` and `_`. */
  name: string;
  version?: string;
  description?: string;
  authors: readonly string[];
}

export interface HttpTrigger {
  /** Its key path, e.g. `trigger.http[0]`, for messages. */
  key: string;
  /** Checked with `parseRoute`. */
  route: string;
  /** A key of `[component]`. */
  component: string;
  /** Spin's executor setting; absent: inferred at lock from the module. */
  executor?: WagiExecutorSettings;
}

/** `executor = { type = "wagi", argv = "...", entrypoint = "..." }` (Spin's WAGI executor). */
export interface WagiExecutorSettings {
  type: 'wagi';
  /** The guest's argv as one string; `${SCRIPT_NAME}` and `${ARGS}` are replaced per request. */
  argv?: string;
  /** The exported function to call instead of `_start`. */
  entrypoint?: string;
}

export interface ComponentManifest {
  /** The key of `[component.NAME]`: kebab-case. */
  name: string;
  description?: string;
  /** Path of the `.wasm` file, relative to the manifest's directory; empty for a `runtime` component. */
  source: string;
  /** `runtime = "python"` with `script`: the runtime's interpreter runs the script (no `source`). */
  runtime?: ScriptRuntime;
  files: readonly FileMount[];
  environment: Readonly<Record<string, string>>;
  /** `[component.NAME.limits]`, in the manifest's units; ranges are checked at lock. */
  limits: ManifestLimits;
  /**
   * `variables = { key = "template" }`: the component's configuration, each a template over the
   * app's `[variables]` (`"{{ api_host }}/v1"`); guests read them (WAGI: as environment variables
   * named by the upper-cased key).
   */
  variables: Readonly<Record<string, string>>;
  /**
   * `allowed_outbound_hosts`: where a component may send HTTP requests, in Spin's syntax
   * (`scheme://host[:port]`, wildcards), each checked at read (src/outbound/allow-list.ts).
   */
  allowedOutboundHosts: readonly string[];
  /**
   * `key_value_stores`: the labels of the key-value stores the component may open (wasi:keyvalue),
   * each also mounted for a WASI preview1 guest as a directory at `/kv/LABEL`.
   */
  keyValueStores: readonly string[];
  /** `instance_reuse = N`: one instance serves up to N invocations. Absent: a fresh instance each. */
  instanceReuse?: number;
  build?: BuildSettings;
}

/** The interpreted languages isola runs scripts in. */
export const RUNTIME_NAMES = ['python', 'ruby', 'javascript'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** A script run by one of isola's interpreters, with its app directory bundled read-only at `/app`. */
export interface ScriptRuntime {
  name: RuntimeName;
  /** The script, relative to the manifest's directory. */
  script: string;
  /** The directory bundled at `/app`, relative to the manifest's directory; it holds the script. */
  appDir: string;
}

export type FileMount =
  /** `"path"` or `"glob/**\/*.txt"`: every matching file at the same path in the guest. */
  | { kind: 'pattern'; key: string; pattern: string }
  /** `{ source = "dir-or-file", destination = "/guest/path" }`. */
  | { kind: 'placement'; key: string; source: string; destination: string };

/** `[component.NAME.build]`, as Spin has it. */
export interface BuildSettings {
  /** Shell commands, run in order. */
  commands: readonly string[];
  /** Where the commands run, relative to the manifest's directory; absent: that directory. */
  workdir?: string;
  /** Globs (relative to `workdir`) whose changes call for a rebuild. */
  watch: readonly string[];
}
