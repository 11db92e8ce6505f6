// Loads the service catalog from a JSON file, with errors that name the file and the bad field.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ServiceCatalog } from '../domain/catalog';

export async function loadCatalog(path: string): Promise<ServiceCatalog> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the service catalog ${path}: ${(err as Error).message}`);
  }
  const result = ServiceCatalog.safeParse(raw);
  if (!result.success) throw new Error(`the service catalog ${path} is invalid:\n${z.prettifyError(result.error)}`);
  return result.data;
}
