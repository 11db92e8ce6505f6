// relctl artifact ...: what a pipeline needs to produce a release artifact, all local (no API): a signing key, a
// reproducible archive, its signature, a check of both, and publishing into a local artifact store.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { ArtifactManifest } from '../domain/artifact';
import { ATTESTATION_TYPES, attest, predicateOf, type AttestationType } from '../providers/artifacts/attestations';
import { sha256Digest } from '../providers/artifacts/digest';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import { packArtifact, readArtifactManifest } from '../providers/artifacts/pack';
import {
  ArtifactSignature,
  checkSignature,
  generateSigningKey,
  keyIdOf,
  signDigest,
} from '../providers/artifacts/signing';

export class ArtifactCommandError extends Error {}

export interface ArtifactOptions {
  out?: string;
  service?: string;
  version?: string;
  entrypoint?: string;
  requires?: string[];
  key?: string;
  'public-key'?: string;
  signature?: string;
  store?: string;
  type?: string;
  predicate?: string;
}

type Print = (line: string) => void;

async function readManifestOf(bytes: Buffer): Promise<ArtifactManifest> {
  try {
    return await readArtifactManifest(bytes);
  } catch (err) {
    throw new ArtifactCommandError((err as Error).message);
  }
}

function need(value: string | undefined, flag: string, command: string): string {
  if (!value) throw new ArtifactCommandError(`artifact ${command} needs ${flag}`);
  return value;
}

async function readSignature(path: string): Promise<ArtifactSignature> {
  const parsed = ArtifactSignature.safeParse(JSON.parse(await readFile(path, 'utf8')));
  if (!parsed.success) throw new ArtifactCommandError(`${path} is not an artifact signature`);
  return parsed.data;
}

/** Runs `relctl artifact <verb> ...`; returns the exit code. */
export async function artifactCommand(
  verb: string | undefined,
  args: string[],
  options: ArtifactOptions,
  print: Print,
): Promise<number> {
  switch (verb) {
    case 'keygen': {
      const prefix = need(options.out, '--out <path prefix>', 'keygen');
      const key = generateSigningKey();
      await writeFile(`${prefix}.key`, key.privateKeyPem, { mode: 0o600 });
      await chmod(`${prefix}.key`, 0o600);
      await writeFile(`${prefix}.pub`, key.publicKeyPem);
      print(`key ${key.keyId}: private key ${prefix}.key (keep it secret), public key ${prefix}.pub`);
      print(
        `trust it in TRUSTED_KEYS_FILE: { "keys": [{ "publicKey": <contents of ${prefix}.pub>, "services": ["<service>"] }] }`,
      );
      return 0;
    }
    case 'pack': {
      const dir = need(args[0], '<directory>', 'pack');
      // --requires payments@>=1.4.0 (repeatable): what this version needs of the services it depends on.
      const requires: Record<string, string> = {};
      for (const item of options.requires ?? []) {
        const at = item.indexOf('@');
        if (at < 1) throw new ArtifactCommandError(`--requires takes <service>@<semver range>, not "${item}"`);
        requires[item.slice(0, at)] = item.slice(at + 1);
      }
      const manifest = ArtifactManifest.safeParse({
        service: options.service,
        version: options.version,
        entrypoint: options.entrypoint ?? 'server.mjs',
        ...(Object.keys(requires).length ? { requires } : {}),
      });
      if (!manifest.success) {
        const issue = manifest.error.issues[0];
        if (issue?.path[0] === 'requires') {
          throw new ArtifactCommandError(`--requires ${String(issue.path[1])}: ${issue.message}`);
        }
        throw new ArtifactCommandError('artifact pack needs --service <name> --version <semver> [--entrypoint <file>]');
      }
      const bytes = await packArtifact(dir, manifest.data);
      const out = options.out ?? `${manifest.data.service}-${manifest.data.version}.tgz`;
      await writeFile(out, bytes);
      print(`${out}: ${manifest.data.service}@${manifest.data.version} ${sha256Digest(bytes)} (${bytes.length} bytes)`);
      return 0;
    }
    case 'sign': {
      const file = need(args[0], '<artifact file>', 'sign');
      const privateKey = await readFile(need(options.key, '--key <private key file>', 'sign'), 'utf8');
      const digest = sha256Digest(await readFile(file));
      const signature = signDigest(digest, privateKey);
      const out = options.out ?? `${file}.sig`;
      await writeFile(out, `${JSON.stringify(signature, null, 2)}\n`);
      print(`${out}: ${digest} signed by key ${signature.keyId}`);
      return 0;
    }
    case 'verify': {
      const file = need(args[0], '<artifact file>', 'verify');
      const publicKeyPem = await readFile(
        need(options['public-key'], '--public-key <public key file>', 'verify'),
        'utf8',
      );
      const signature = await readSignature(options.signature ?? `${file}.sig`);
      const digest = sha256Digest(await readFile(file));
      const check = checkSignature(signature, digest, [{ id: keyIdOf(publicKeyPem), publicKeyPem }]);
      if (!check.ok) {
        print(`${basename(file)} (${digest}) does NOT verify: ${check.message}`);
        return 1;
      }
      print(`${basename(file)} (${digest}) is signed by key ${check.keyId}`);
      return 0;
    }
    case 'attest': {
      const file = need(args[0], '<artifact file>', 'attest');
      const type = need(options.type, `--type <${Object.keys(ATTESTATION_TYPES).join('|')}>`, 'attest');
      if (!(type in ATTESTATION_TYPES)) {
        throw new ArtifactCommandError(
          `--type must be one of ${Object.keys(ATTESTATION_TYPES).join(', ')}, not "${type}"`,
        );
      }
      const kind = type as AttestationType;
      const predicateFile = need(options.predicate, "--predicate <the tool's output file>", 'attest');
      const privateKey = await readFile(need(options.key, '--key <private key file>', 'attest'), 'utf8');
      const bytes = await readFile(file);
      const manifest = await readManifestOf(bytes);
      let predicate: unknown;
      try {
        predicate = predicateOf(kind, await readFile(predicateFile, 'utf8'));
      } catch (err) {
        throw new ArtifactCommandError(`${predicateFile}: ${(err as Error).message}`);
      }
      const digest = sha256Digest(bytes);
      const envelope = attest(
        { service: manifest.service, version: manifest.version, digest },
        kind,
        predicate,
        privateKey,
      );
      const out = options.out ?? `${file}.${kind}.intoto.json`;
      await writeFile(out, `${JSON.stringify(envelope, null, 2)}\n`);
      let kept = '';
      if (options.store) {
        await new LocalArtifactStore(options.store).putAttestation(manifest.service, manifest.version, envelope);
        kept = `; kept with ${manifest.service}@${manifest.version} in ${options.store}`;
      }
      print(
        `${out}: ${kind} of ${manifest.service}@${manifest.version} (${digest}) signed by key ${envelope.signatures[0]?.keyid}${kept}`,
      );
      return 0;
    }
    case 'publish': {
      const file = need(args[0], '<artifact file>', 'publish');
      const store = new LocalArtifactStore(need(options.store, '--store <artifact store directory>', 'publish'));
      const bytes = await readFile(file);
      const manifest = await readManifestOf(bytes);
      const record = await store.put(manifest.service, manifest.version, bytes);
      const signaturePath = options.signature ?? `${file}.sig`;
      let signed = '';
      try {
        const signature = await readSignature(signaturePath);
        await store.putSignature(manifest.service, manifest.version, signature);
        signed = `, signed by key ${signature.keyId}`;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || options.signature) throw err;
      }
      print(`published ${record.service}@${record.version} ${record.digest}${signed}`);
      return 0;
    }
    case undefined:
    default:
      throw new ArtifactCommandError(`unknown command: artifact ${verb ?? ''}`);
  }
}
