// Environment parsing shared by every entry point: parsed once with zod at start-up; a bad variable stops the
// process with a message naming it.
import { z } from 'zod';

export class InvalidEnvironmentError extends Error {
  override readonly name = 'InvalidEnvironmentError';
}

/** Parses `env` with `schema`; throws InvalidEnvironmentError naming every bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new InvalidEnvironmentError(`Invalid environment:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}

/** A TCP port number given as a string. */
export const PortVar = z.coerce.number().int().min(0).max(65535);

/** `true/false/1/0/yes/no` given as a string. */
export const BooleanVar = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');
