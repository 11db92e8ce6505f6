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

/** Bundles the engine's workflows as the workers run them: failure converter, trusted keys, extra modules. */
export async function bundleEngineWorkflows(options: {
  trustedKeys: Record<string, string>;
  interceptorModules?: string[];
  logger?: BundleOptions['logger'];
}): Promise<{ code: string }> {
  return bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    webpackConfigHook: withTrustedKeys(options.trustedKeys),
    ...(options.interceptorModules ? { workflowInterceptorModules: options.interceptorModules } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/** The ids of the keys of `keys` a prebuilt bundle's code does not trust (does not hold verbatim). */
export function keysMissingFrom(code: string, keys: Record<string, string>): string[] {
  return Object.entries(keys)
    .filter(([, hex]) => !code.includes(hex))
    .map(([id]) => id);
}
