// Configuration of the API process, from the environment (parsed once at start-up).
import { z } from 'zod';
import { PayloadKeysEnv } from '../providers/codec/payload-keys';
import { ConfigStoreEnv } from '../providers/config-store/open';
import { BooleanVar, PortVar } from '../providers/env';
import { FleetTargetEnv } from '../providers/fleet/open';
import { Role } from '../domain/roles';
import { DEV_UI_ORIGINS } from './codec-endpoint';

/** A comma list of browser origins (scheme://host[:port], no path). */
const OriginList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z.string().refine((origin) => {
        try {
          return new URL(origin).origin === origin;
        } catch {
          return false;
        }
      }, 'each entry must be an origin such as http://127.0.0.1:8233 (scheme, host, port; no path or trailing slash)'),
    ),
  );

export const ApiEnv = ConfigStoreEnv.extend({
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: PortVar.default(7300),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  RELEASE_TASK_QUEUE: z.string().min(1).default('releases'),
  CATALOG_FILE: z.string().min(1).default('config/catalog.json'),
  /** The key artifact download URLs are signed with (shared with the workers); default <DATA_DIR>/secrets/artifact-url.key. */
  ARTIFACT_URL_KEY_FILE: z.string().min(1).optional(),
  /** JSON file of token hashes, principals and roles (see README). */
  API_TOKENS_FILE: z.string().min(1).default('.data/api-tokens.json'),
  /** Root of the embedded stores; the API reads the artifact index to refuse unknown versions early. */
  DATA_DIR: z.string().min(1).default('.data'),
  /**
   * The API's ed25519 key for signed decisions (`{ keyId, privateKeyPem }`, mode 0600); defaults to
   * <DATA_DIR>/secrets/decision-signing-key.json (written by `npm start`). Workers trust its public key.
   */
  DECISION_SIGNING_KEY_FILE: z.string().min(1).optional(),
  /** pino level of the API's JSON log lines. */
  API_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Failed tokens from one client address within the window before it gets 429. */
  API_AUTH_FAILURE_LIMIT: z.coerce.number().int().min(1).default(10),
  API_AUTH_FAILURE_WINDOW_SECONDS: z.coerce.number().int().min(1).default(60),
  /** Express `trust proxy`: true, a hop count, or proxy addresses/subnets (e.g. `loopback, 10.0.0.0/8`). */
  API_TRUST_PROXY: z
    .string()
    .min(1)
    .transform((value) =>
      value === 'true' ? true : value === 'false' ? false : /^\d+$/.test(value) ? Number(value) : value,
    )
    .optional(),
  /** Browser origins (the Temporal Web UI) allowed to call the codec endpoint; comma separated. */
  CODEC_CORS_ORIGINS: OriginList.default(DEV_UI_ORIGINS),
  /** Accept API tokens in the codec endpoint's path (/codec/t/<token>/decode), from those origins only. */
  CODEC_URL_TOKENS: BooleanVar.default(false),
  /** Roles that may seal payloads through /codec/encode (comma list); empty, the endpoint only decodes. */
  CODEC_ENCODE_ROLES: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((role) => role.trim())
        .filter(Boolean),
    )
    .pipe(z.array(Role))
    .default([]),
  /** Payload encryption keys (PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_KEY_ID); unset, payloads go in clear. */
  ...PayloadKeysEnv.shape,
  /** The fleet the API asks what each region runs (drift check): FLEET_DRIVER, FLEET_URL, FLEET_TOKEN_FILE. */
  ...FleetTargetEnv.shape,
});
export type ApiEnv = z.infer<typeof ApiEnv>;
