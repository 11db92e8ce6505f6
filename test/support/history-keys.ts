// The public keys the recorded history sets were signed with (test/fixtures/histories/<set>/decision-public-keys.json,
// written when a set is recorded): the bundles that replay them must trust these keys, as the recording's did.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DECISION_PUBLIC_KEYS, PublicKeysFile } from '../../providers/keys/decision-keys';

const HISTORIES = join(__dirname, '..', 'fixtures', 'histories');

export function recordedSetKeys(): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const set of existsSync(HISTORIES) ? readdirSync(HISTORIES) : []) {
    const file = join(HISTORIES, set, DECISION_PUBLIC_KEYS);
    if (existsSync(file)) Object.assign(keys, PublicKeysFile.parse(JSON.parse(readFileSync(file, 'utf8'))).keys);
  }
  return keys;
}
