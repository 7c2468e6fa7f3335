/**
 * wasi:config 0.2.0-draft `store` (isola's WIT in `wit/wasi-config/`): the component's variables,
 * by manifest name, resolved at deploy. Nothing can fail at a lookup, so neither function ever
 * returns the WIT's `error`. Values may be secrets: nothing here logs them or puts them in an
 * error.
 */

/** The component's variables as name and value. Default none. */
export type ConfigGrant = readonly (readonly [string, string])[];

export function configImports(config: ConfigGrant): Record<string, Record<string, unknown>> {
  return {
    'wasi:config/store': {
      get: (key: string): string | undefined => config.find(([name]) => name === key)?.[1],
      getAll: (): [string, string][] => config.map(([name, value]) => [name, value]),
    },
  };
}
