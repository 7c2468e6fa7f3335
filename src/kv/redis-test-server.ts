/**
 * A real redis-server for tests (STYLE habit 12): started on 127.0.0.1 with a free port, a
 * temporary directory and no persistence, and stopped afterwards. When redis-server is missing
 * it runs scripts/setup-redis.sh (Debian's package, with apt-get) once; when that fails too, it
 * throws with the command to run, so that the tests fail rather than skip.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RedisTestServer {
  url: string;
  port: number;
  /** Stops the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const READY = 'Ready to accept connections';
const START_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 3;
const SETUP_SCRIPT = fileURLToPath(new URL('../../scripts/setup-redis.sh', import.meta.url));

export async function startRedisServer(): Promise<RedisTestServer> {
  ensureRedisServer();
  let lastFailure = '';
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'isola-redis-'));
    const started = await launch(port, dir);
    if (typeof started !== 'string') return started;
    rmSync(dir, { recursive: true, force: true });
    lastFailure = started;
    // Another process took the port between our probe and redis-server's bind: try another.
    if (!started.includes('Address already in use')) break;
  }
  throw new Error(`redis-server did not start on 127.0.0.1:\n${lastFailure}`);
}

function ensureRedisServer(): void {
  if (hasRedisServer()) return;
  const setup = spawnSync('bash', [SETUP_SCRIPT], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (setup.status === 0 && hasRedisServer()) return;
  throw new Error(
    'redis-server is not installed and scripts/setup-redis.sh could not install it: run `apt-get install -y redis-server` (Debian) or put redis-server on PATH; the Redis key-value tests need a real server',
  );
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** The running server, or the output of one that failed to start. */
function launch(port: number, dir: string): Promise<RedisTestServer | string> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--logfile',
      '',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(`${output}\n(no "${READY}" within ${START_TIMEOUT_MS} ms)`);
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes(READY)) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stdout?.resume();
      child.stderr?.resume();
      resolve({ url: `redis://127.0.0.1:${port}`, port, stop: stopper(child, dir, killOnExit) });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      process.off('exit', killOnExit);
      resolve(`${output}\n${error.message}`);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', killOnExit);
      resolve(`${output}\n(exited with ${signal ?? code})`);
    });
  });
}

function stopper(child: ChildProcess, dir: string, killOnExit: () => void): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= new Promise<void>((resolve) => {
      const done = () => {
        process.off('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(force);
        done();
      });
      child.kill('SIGTERM');
    });
    return stopped;
  };
}
