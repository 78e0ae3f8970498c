import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { FormatError, checkRange, type ByteSource } from '@qgpu/formats';

/** A ByteSource over a local file: each read is one positioned read, so only the requested range is in memory. */
export async function nodeFileSource(path: string): Promise<ByteSource> {
  const info = await stat(path).catch(() => {
    throw new FormatError(`${path}: no such file`);
  });
  if (!info.isFile()) throw new FormatError(`${path}: not a regular file`);
  const handle = await open(path, 'r');
  const source: ByteSource = {
    byteLength: info.size,
    name: basename(path),
    async read(byteOffset, byteLength) {
      checkRange(source, byteOffset, byteLength);
      const bytes = new Uint8Array(byteLength);
      let done = 0;
      while (done < byteLength) {
        const { bytesRead } = await handle.read(bytes, done, byteLength - done, byteOffset + done);
        if (bytesRead === 0) throw new FormatError(`${path}: unexpected end of file`);
        done += bytesRead;
      }
      return bytes;
    },
    close: () => handle.close(),
  };
  return source;
}
