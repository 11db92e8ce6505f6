// Introspection of a tRPC router: every query and mutation with its path, its input as JSON Schema, and its
// description. The REST adapter, the OpenAPI document and the metrics' label set are all derived from this one
// list, so a procedure added to a router appears in all three without being annotated anywhere.
import type { AnyTRPCProcedure, AnyTRPCRouter } from '@trpc/server';
import { z } from 'zod';

/** A JSON Schema object as `z.toJSONSchema` returns it (draft 2020-12, which OpenAPI 3.1 uses too). */
export type JsonSchema = { [key: string]: unknown };

export interface ProcedureInfo {
  /** Dotted tRPC path, e.g. `release.get`. */
  path: string;
  type: 'query' | 'mutation';
  procedure: AnyTRPCProcedure;
  /** JSON Schema of the input as a caller sends it; undefined when the procedure takes no input. */
  inputSchema: JsonSchema | undefined;
  /** Whether the procedure may be called without any input. */
  inputOptional: boolean;
  /** From `.meta({ description })` when the procedure has one. */
  description: string | undefined;
  /** From `.meta({ roles })` when the procedure has one. */
  roles: string[] | undefined;
}

function toJsonSchema(parser: unknown): JsonSchema {
  // Inputs that are not zod schemas (a validator function, another library) are accepted as "any JSON".
  if (!(parser instanceof z.ZodType)) return {};
  const schema = z.toJSONSchema(parser, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete schema.$schema;
  return schema;
}

function inputSchemaOf(procedure: AnyTRPCProcedure): JsonSchema | undefined {
  const inputs: unknown[] = procedure._def.inputs;
  if (inputs.length === 0) return undefined;
  if (inputs.length === 1) return toJsonSchema(inputs[0]);
  // Chained .input() calls: the input must satisfy every one of them.
  return { allOf: inputs.map(toJsonSchema) };
}

function acceptsNoInput(procedure: AnyTRPCProcedure): boolean {
  return procedure._def.inputs.every((parser) => {
    if (!(parser instanceof z.ZodType)) return true;
    try {
      return parser.safeParse(undefined).success;
    } catch {
      // An async refinement cannot run synchronously; such an input is documented as required.
      return false;
    }
  });
}

function metaOf(procedure: AnyTRPCProcedure): { description?: unknown; roles?: unknown } {
  const meta: unknown = procedure._def.meta;
  return typeof meta === 'object' && meta !== null ? meta : {};
}

/**
 * Every query and mutation of `router`, sorted by path. Subscriptions are left out: they stream, which plain
 * request/response REST cannot carry (use /trpc for them). Lazy sub-routers are not loaded.
 */
export function listProcedures(router: AnyTRPCRouter): ProcedureInfo[] {
  const procedures = router._def.procedures as Record<string, AnyTRPCProcedure>;
  return Object.entries(procedures)
    .filter(([, procedure]) => procedure._def.type === 'query' || procedure._def.type === 'mutation')
    .map(([path, procedure]) => {
      const meta = metaOf(procedure);
      return {
        path,
        type: procedure._def.type as 'query' | 'mutation',
        procedure,
        inputSchema: inputSchemaOf(procedure),
        inputOptional: acceptsNoInput(procedure),
        description: typeof meta.description === 'string' ? meta.description : undefined,
        roles: Array.isArray(meta.roles) ? meta.roles.filter((r): r is string => typeof r === 'string') : undefined,
      };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** The top-level properties of an object input schema, or undefined when the input is not a plain object. */
export function objectProperties(schema: JsonSchema | undefined): Record<string, JsonSchema> | undefined {
  if (!schema || schema.type !== 'object') return undefined;
  const properties = schema.properties;
  return typeof properties === 'object' && properties !== null ? (properties as Record<string, JsonSchema>) : {};
}

/** The required property names of an object input schema. */
export function requiredProperties(schema: JsonSchema | undefined): string[] {
  const required = schema?.required;
  return Array.isArray(required) ? required.filter((r): r is string => typeof r === 'string') : [];
}
