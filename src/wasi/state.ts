/**
 * Everything one WASI instance owns: its argv and environment (pre-encoded as UTF-8, since the
 * ABI's sizes are UTF-8 bytes), its descriptor table, its limits and its clocks. Built fresh for
 * every instance by `WasiBuilder.build()`; nothing here is shared between instances.
 */
import type { WasiLimits } from '../limits.js';
import type { Clocks } from './clocks.js';
import type { FdTable } from './fd-table.js';
import type { StringBlock } from './memory-view.js';

export interface WasiState {
  readonly args: StringBlock;
  readonly env: StringBlock;
  readonly fds: FdTable;
  readonly limits: Readonly<WasiLimits>;
  readonly clocks: Clocks;
}
