// Packs a directory into an artifact archive (gzip'd tar with artifact.json at its root) and unpacks it again.
// Packing is reproducible: entries are sorted and timestamps fixed, so the same files give the same digest.
import { mkdtemp, readFile, rm, writeFile, cp, mkdir, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import * as tar from 'tar';
import { ArtifactManifest } from '../../domain/artifact';

const FIXED_MTIME = new Date('2000-01-01T00:00:00Z');

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

/** Packs `sourceDir` plus the given manifest (written as artifact.json) into archive bytes. */
export async function packArtifact(
  sourceDir: string,
  manifest: ArtifactManifest,
  extraFiles: Record<string, string> = {},
): Promise<Buffer> {
  const staging = await mkdtemp(join(tmpdir(), 'artifact-pack-'));
  try {
    await cp(sourceDir, staging, { recursive: true });
    for (const [name, content] of Object.entries(extraFiles)) {
      await mkdir(join(staging, name, '..'), { recursive: true });
      await writeFile(join(staging, name), content);
    }
    await writeFile(join(staging, 'artifact.json'), `${JSON.stringify(ArtifactManifest.parse(manifest), null, 2)}\n`);
    const files = await listFiles(staging);
    const chunks: Buffer[] = [];
    const stream = tar.create({ cwd: staging, gzip: true, portable: true, mtime: FIXED_MTIME }, files);
    for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Unpacks archive bytes into `destDir` and returns the artifact's manifest. */
export async function unpackArtifact(bytes: Buffer, destDir: string): Promise<ArtifactManifest> {
  await mkdir(destDir, { recursive: true });
  await pipeline(Readable.from([bytes]), tar.extract({ cwd: destDir, strict: true }));
  return ArtifactManifest.parse(JSON.parse(await readFile(join(destDir, 'artifact.json'), 'utf8')));
}

/** The manifest (artifact.json) of archive bytes; throws, saying why, when they are not a release artifact. */
export async function readArtifactManifest(bytes: Buffer): Promise<ArtifactManifest> {
  const dir = await mkdtemp(join(tmpdir(), 'artifact-manifest-'));
  try {
    return await unpackArtifact(bytes, join(dir, 'content'));
  } catch (err) {
    throw new Error(`not a release artifact (a gzip'd tar with artifact.json): ${(err as Error).message}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
