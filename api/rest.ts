// REST for pipelines that are not TypeScript: every query and mutation of the app router under /api/v1, plus
// GET /api/v1/openapi.json. Queries answer GET (input as query parameters) and POST (input as a JSON body, for
// complex inputs); mutations answer POST. A release.get becomes GET /api/v1/release/get?service=..&releaseId=..
//
// Why a small adapter of our own rather than trpc-to-openapi (3.3.0 does support tRPC 11 and zod 4): that
// package exposes only procedures annotated with `.meta({ openapi: { method, path } })` and an `.output()`
// schema. The routers grow all the time (release.list, service.*, audit.*, metrics.dora, ...), written by people
// thinking about tRPC; every procedure would need both annotations or silently be missing from REST. This adapter
// walks the router's own procedure list (router._def.procedures) instead, so a new procedure is on REST and in
// the OpenAPI document the moment it is in the router, and a test compares the document with that list.
//
// A call goes through tRPC's own callProcedure (what the /trpc handler and createCaller run) with the context
// built from the same request by the same createContext: authentication, roles, zod validation and error
// translation are the /trpc ones. Errors are formatted by the router's errorFormatter and sent as
// `{ error: { code, message, issues? } }` with the HTTP status tRPC would use (getHTTPStatusCodeFromError).
// The success body is the procedure's output as plain JSON (no envelope), which is what `curl | jq` wants.
import {
  type AnyTRPCProcedure,
  type AnyTRPCRouter,
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
} from '@trpc/server';
import type { CreateExpressContextOptions } from '@trpc/server/adapters/express';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { buildOpenApiDocument, type OpenApiOptions } from './openapi';
import { noteFailure, noteProcedures, UNKNOWN_PROCEDURE } from './observability';
import { type JsonSchema, listProcedures, objectProperties, type ProcedureInfo } from './procedures';

export interface RestIssue {
  field: string;
  message: string;
}

/** Sends the REST error body `{ error: { code, message, issues? } }`. */
export function sendRestError(res: Response, status: number, code: string, message: string, issues?: RestIssue[]) {
  res.status(status).json({ error: { code, message, ...(issues ? { issues } : {}) } });
}

/** One REST call, as createContext sees it. */
export interface RestCall {
  path: string;
  procedure: AnyTRPCProcedure;
  type: 'query' | 'mutation';
  input: unknown;
  signal: AbortSignal;
}

export interface RestApiOptions extends OpenApiOptions {
  router: AnyTRPCRouter;
  createContext: (req: Request, res: Response, call: RestCall) => unknown;
  /** Run before every procedure call but not before the OpenAPI document (the auth gate). */
  beforeCalls?: RequestHandler[];
  /** Largest JSON body accepted, in bytes. */
  maxBodySize: number;
  /** Called for server-side errors (500), with the procedure path. */
  onServerError?: (path: string, err: Error) => void;
}

/**
 * What the express adapter's createContext gets for a REST call, so the same createContext serves both: the
 * request, the response, and tRPC's description of the (single, non-batch) call.
 */
export function expressContextOptions(req: Request, res: Response, call: RestCall): CreateExpressContextOptions {
  return {
    req,
    res,
    info: {
      accept: null,
      type: call.type,
      isBatchCall: false,
      calls: [
        {
          path: call.path,
          procedure: call.procedure,
          getRawInput: () => Promise.resolve(call.input),
          result: () => call.input,
          batchIndex: 0,
        },
      ],
      connectionParams: null,
      signal: call.signal,
      url: new URL(req.originalUrl, 'http://api.invalid'),
    },
  };
}

// ---- query string -> input ----

type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'array' | 'object';

/** The JSON types a schema admits, looking through anyOf/oneOf/allOf, enums and consts. Empty means "anything". */
const KINDS = new Set<string>(['string', 'number', 'integer', 'boolean', 'null', 'array', 'object']);

/** The JSON types a schema admits, looking through anyOf/oneOf/allOf, enums and consts. Empty means "anything". */
function kindsOf(schema: JsonSchema, into = new Set<Kind>()): Set<Kind> {
  const add = (kind: unknown) => {
    if (typeof kind === 'string' && KINDS.has(kind)) into.add(kind as Kind);
  };
  const { type } = schema;
  if (Array.isArray(type)) type.forEach(add);
  else add(type);
  if ('const' in schema) add(typeOfValue(schema.const));
  if (Array.isArray(schema.enum)) schema.enum.forEach((value) => add(typeOfValue(value)));
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    const branches = schema[key];
    if (Array.isArray(branches)) for (const branch of branches) kindsOf(branch as JsonSchema, into);
  }
  return into;
}

function typeOfValue(value: unknown): Kind | undefined {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean' || type === 'object' ? type : undefined;
}

function itemsOf(schema: JsonSchema): JsonSchema {
  if (typeof schema.items === 'object' && schema.items !== null) return schema.items as JsonSchema;
  for (const key of ['anyOf', 'oneOf']) {
    const branches = schema[key];
    if (!Array.isArray(branches)) continue;
    for (const branch of branches as JsonSchema[]) if (kindsOf(branch).has('array')) return itemsOf(branch);
  }
  return {};
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value; // left as text: zod then says what it expected
  }
}

/**
 * One query-string value as the schema wants it. A value stays a string whenever the schema admits a string
 * (version "1.10" must not become 1.1); otherwise numbers, booleans, null and JSON objects are read from text.
 */
function coerceScalar(value: string, schema: JsonSchema): unknown {
  const kinds = kindsOf(schema);
  if (kinds.size === 0 || kinds.has('string')) return value;
  if ((kinds.has('number') || kinds.has('integer')) && NUMBER.test(value)) return Number(value);
  if (kinds.has('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  if (kinds.has('null') && value === 'null') return null;
  if (kinds.has('object') || kinds.has('array')) return parseJson(value);
  return value;
}

function coerceValues(values: string[], schema: JsonSchema): unknown {
  const kinds = kindsOf(schema);
  const scalar = [...kinds].some((k) => k !== 'array');
  if (kinds.has('array') && (values.length > 1 || !scalar)) {
    const only = values.length === 1 ? values[0] : undefined;
    if (only?.startsWith('[')) {
      const parsed = parseJson(only);
      if (Array.isArray(parsed)) return parsed;
    }
    const items = itemsOf(schema);
    return values.map((value) => coerceScalar(value, items));
  }
  // Repeating a parameter that takes one value: pass the list on, so validation names the field.
  return values.length === 1 ? coerceScalar(values[0] as string, schema) : values;
}

/** The input of a GET call, read from its query string with the procedure's input schema. */
export function inputFromQuery(query: Record<string, unknown>, schema: JsonSchema | undefined): unknown {
  if (!schema) return undefined;
  const properties = objectProperties(schema);
  const valuesOf = (raw: unknown): string[] =>
    (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string');
  if (!properties) {
    const raw = valuesOf(query.input)[0];
    return raw === undefined ? undefined : parseJson(raw);
  }
  const input: Record<string, unknown> = {};
  for (const [rawKey, raw] of Object.entries(query)) {
    const key = rawKey.endsWith('[]') ? rawKey.slice(0, -2) : rawKey;
    const values = valuesOf(raw);
    const property = properties[key];
    // An unknown parameter is passed on as text, so a strict schema names it.
    input[key] = property ? coerceValues(values, property) : values.length === 1 ? values[0] : values;
  }
  return input;
}

// ---- the express router ----

interface BodyParserError {
  type?: string;
  status?: number;
  message?: string;
}

const bodyErrors: ErrorRequestHandler = (err: BodyParserError, _req, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  if (err.type === 'entity.parse.failed') {
    sendRestError(res, 400, 'PARSE_ERROR', `the request body is not valid JSON: ${err.message ?? ''}`.trim());
  } else if (err.type === 'entity.too.large') {
    sendRestError(res, 413, 'PAYLOAD_TOO_LARGE', 'the request body is too large');
  } else if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    sendRestError(res, err.status, 'BAD_REQUEST', err.message ?? 'bad request');
  } else {
    next(err);
  }
};

/** The REST API and its OpenAPI document, as an express router to mount at `options.basePath`. */
export function createRestApi(options: RestApiOptions): express.Router {
  const { router } = options;
  const procedures = new Map(listProcedures(router).map((info) => [info.path, info]));
  let document: unknown;

  const procedureOf = (req: Request): ProcedureInfo | undefined => {
    const segments = req.path.split('/').filter((s) => s !== '');
    if (segments.length === 0 || segments.some((s) => s.includes('.'))) return undefined;
    return procedures.get(segments.join('.'));
  };

  const rest = express.Router();
  rest.get('/openapi.json', (_req, res) => {
    document ??= buildOpenApiDocument([...procedures.values()], options);
    res.json(document);
  });
  rest.use((req, _res, next) => {
    const info = procedureOf(req);
    noteProcedures(req, 'rest', [info ? { path: info.path, type: info.type } : UNKNOWN_PROCEDURE]);
    next();
  });
  for (const handler of options.beforeCalls ?? []) rest.use(handler);
  // Any content type is read as JSON: `curl -d '{...}'` without a content-type header should just work.
  rest.use(express.json({ limit: options.maxBodySize, strict: false, type: () => true }));
  rest.use(async (req, res) => {
    const info = procedureOf(req);
    if (!info) {
      sendRestError(
        res,
        404,
        'NOT_FOUND',
        `there is no procedure at ${options.basePath}${req.path}; see ${options.basePath}/openapi.json`,
      );
      return;
    }
    const methods = info.type === 'query' ? ['GET', 'POST'] : ['POST'];
    if (!methods.includes(req.method)) {
      res.setHeader('Allow', methods.join(', '));
      sendRestError(res, 405, 'METHOD_NOT_SUPPORTED', `${info.path} is a ${info.type}: use ${methods.join(' or ')}`);
      return;
    }
    const input: unknown = req.method === 'GET' ? inputFromQuery(req.query, info.inputSchema) : req.body;
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    let ctx: unknown;
    try {
      const call = { path: info.path, procedure: info.procedure, type: info.type, input, signal: abort.signal };
      ctx = await options.createContext(req, res, call);
      const output: unknown = await callTRPCProcedure({
        router,
        path: info.path,
        type: info.type,
        ctx,
        getRawInput: () => Promise.resolve(input),
        signal: abort.signal,
        batchIndex: 0,
      });
      res.status(200).json(output ?? null);
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      const status = getHTTPStatusCodeFromError(error);
      const shape: unknown = getTRPCErrorShape({
        config: router._def._config,
        error,
        type: info.type,
        path: info.path,
        input,
        ctx,
      });
      const { message, data } = shape as { message: string; data?: { code?: string; issues?: RestIssue[] } };
      noteFailure(req, info.path, status, error.cause ?? error);
      if (error.code === 'INTERNAL_SERVER_ERROR') options.onServerError?.(info.path, error.cause ?? error);
      sendRestError(res, status, data?.code ?? error.code, message, data?.issues);
    }
  });
  rest.use(bodyErrors);
  return rest;
}
