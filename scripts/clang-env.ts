/**
 * The environment the guest builds run clang in. clang's wasm driver runs `wasm-opt` after
 * linking when it finds one on PATH, and npm puts node_modules/.bin first there, where binaryen
 * (a dependency of jco's) has one that refuses Wasm exception handling without a flag, and would
 * change every fixture it accepted. The Debian toolchain alone builds the guests.
 */
export const CLANG_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => !dir.endsWith('node_modules/.bin'))
    .join(':'),
};
