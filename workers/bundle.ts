// Building the workflow bundle with the trusted decision keys compiled in (see workflows/trusted-keys.ts).
import { bundleWorkflowCode, type BundleOptions } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from './data-converter';
import { join } from 'node:path';

/** Path of the workflow bundle's entry. */
export function workflowsPath(): string {
  return join(__dirname, '..', 'workflows', 'index.ts');
}

type WebpackConfig = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/** A webpack config hook that defines __ENGINE_DECISION_KEYS__ as `keys` in the bundle. */
export function withTrustedKeys(keys: Record<string, string>): (config: WebpackConfig) => WebpackConfig {
  return (config) => {
    const definitions = { __ENGINE_DECISION_KEYS__: JSON.stringify(keys) };
    const plugin = {
      apply(compiler: {
        webpack: { DefinePlugin: new (defs: Record<string, string>) => { apply(c: unknown): void } };
      }) {
        new compiler.webpack.DefinePlugin(definitions).apply(compiler);
      },
    };
    return { ...config, plugins: [...(config.plugins ?? []), plugin] };
  };
}

/**
 * Modules loaded once per worker thread and shared by every workflow it holds. The worker keeps one V8 context and
 * loads every other module of the bundle again for each workflow in its cache (that isolates workflows' module
 * state). Shared modules are frozen, so they must keep no state of their own. The signature check of signed messages
 * (domain/signed-message.ts, with the ed25519 library it loads): a copy of it per workflow cost a table of precomputed
 * points built at the first check of each copy (about 45 ms of the worker's time per new workflow, and memory per
 * parked release; bench/, P3 and P6). Named by path: webpack drops a bare `require` of a package that declares no
 * side effects, as @noble's do.
 */
export const SHARED_MODULES = [join(__dirname, '..', 'domain', 'signed-message.ts')];

/**
 * Packages a workflow must not load: big, and loaded again for every workflow (see SHARED_MODULES). zod validates the
 * API's input; workflows take what the API checked, so the modules they import (domain/workflow-ids.ts,
 * domain/freeze.ts, domain/stages.ts, domain/principal.ts) leave schemas out.
 */
const KEPT_OUT = ['zod'];

/** Bundles the engine's workflows as the workers run them: failure converter, trusted keys, extra modules. */
export async function bundleEngineWorkflows(options: {
  trustedKeys: Record<string, string>;
  interceptorModules?: string[];
  logger?: BundleOptions['logger'];
}): Promise<{ code: string }> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    webpackConfigHook: withTrustedKeys(options.trustedKeys),
    preloadModules: SHARED_MODULES,
    ...(options.interceptorModules ? { workflowInterceptorModules: options.interceptorModules } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const kept = KEPT_OUT.filter((pkg) => bundle.code.includes(`"./node_modules/${pkg}/`));
  if (kept.length > 0) {
    throw new Error(
      `the workflow bundle includes ${kept.join(', ')}, which every workflow would load again: a module that workflows import (workflows/) imports it; import a module free of it instead (workers/bundle.ts)`,
    );
  }
  return bundle;
}

/** The ids of the keys of `keys` a prebuilt bundle's code does not trust (does not hold verbatim). */
export function keysMissingFrom(code: string, keys: Record<string, string>): string[] {
  return Object.entries(keys)
    .filter(([, hex]) => !code.includes(hex))
    .map(([id]) => id);
}
