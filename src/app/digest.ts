/** sha256 of files, streamed so that a large file is never held whole. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface FileDigest {
  /** Lowercase hex. */
  sha256: string;
  byteLength: number;
}

export function digestBytes(bytes: Uint8Array): FileDigest {
  return { sha256: createHash('sha256').update(bytes).digest('hex'), byteLength: bytes.length };
}

export async function digestFile(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let byteLength = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    byteLength += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), byteLength };
}
