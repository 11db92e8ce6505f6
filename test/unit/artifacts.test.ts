import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packDemoVersion, seedDemoArtifacts } from '../../demo/seed';
import { ArtifactConflictError, ArtifactIntegrityError } from '../../providers/artifacts/artifact-store';
import { sha256Digest } from '../../providers/artifacts/digest';
import { LocalArtifactStore } from '../../providers/artifacts/local-artifact-store';
import { unpackArtifact } from '../../providers/artifacts/pack';

const behaviour = { greeting: 'hi', failureRate: 0, latencyMs: 1 };

describe('local artifact store', () => {
  it('stores bytes under their sha256 and resolves service@version to them', async () => {
    const store = new LocalArtifactStore(await mkdtemp(join(tmpdir(), 'artifacts-')));
    const bytes = Buffer.from('some artifact');
    const record = await store.put('svc', '1.0.0', bytes);
    expect(record.digest).toBe(sha256Digest(bytes));
    expect(await store.resolve('svc', '1.0.0')).toEqual(record);
    expect(await store.read(record.digest)).toEqual(bytes);
    expect(await store.resolve('svc', '2.0.0')).toBeUndefined();
    expect(await store.list()).toEqual([record]);
  });

  it('is idempotent for the same bytes and refuses different bytes for an existing version', async () => {
    const store = new LocalArtifactStore(await mkdtemp(join(tmpdir(), 'artifacts-')));
    const first = await store.put('svc', '1.0.0', Buffer.from('a'));
    expect(await store.put('svc', '1.0.0', Buffer.from('a'))).toEqual(first);
    await expect(store.put('svc', '1.0.0', Buffer.from('b'))).rejects.toBeInstanceOf(ArtifactConflictError);
    await expect(store.put('svc', '1.0.0', Buffer.from('b'))).rejects.toThrow(/artifacts are immutable/);
  });

  it('detects a tampered blob and names its digest', async () => {
    const root = await mkdtemp(join(tmpdir(), 'artifacts-'));
    const store = new LocalArtifactStore(root);
    const record = await store.put('svc', '1.0.0', Buffer.from('original bytes'));
    await writeFile(join(root, 'blobs', 'sha256', record.digest.slice(7)), 'tampered bytes');
    const failure = store.read(record.digest);
    await expect(failure).rejects.toBeInstanceOf(ArtifactIntegrityError);
    await expect(store.read(record.digest)).rejects.toThrow(`artifact ${record.digest} is corrupt`);
  });
});

describe('artifact packing', () => {
  it('packs reproducibly: the same files give the same digest', async () => {
    const a = await packDemoVersion('1.0.0', behaviour);
    const b = await packDemoVersion('1.0.0', behaviour);
    expect(sha256Digest(a)).toBe(sha256Digest(b));
    expect(sha256Digest(await packDemoVersion('1.0.1', behaviour))).not.toBe(sha256Digest(a));
  });

  it('unpacks to the files and manifest that were packed', async () => {
    const dest = join(await mkdtemp(join(tmpdir(), 'unpack-')), 'out');
    const manifest = await unpackArtifact(await packDemoVersion('3.1.4', behaviour), dest);
    expect(manifest).toEqual({ service: 'hello', version: '3.1.4', entrypoint: 'server.mjs' });
    expect((await readdir(dest)).sort()).toEqual(['artifact.json', 'behaviour.json', 'server.mjs']);
    expect(JSON.parse(await readFile(join(dest, 'behaviour.json'), 'utf8'))).toEqual(behaviour);
  });

  it('seeds the demo versions once', async () => {
    const store = new LocalArtifactStore(await mkdtemp(join(tmpdir(), 'artifacts-')));
    const first = await seedDemoArtifacts(store);
    expect(first.map((r) => r.version)).toEqual(['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0']);
    expect(await seedDemoArtifacts(store)).toEqual(first);
  });
});
