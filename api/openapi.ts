// The OpenAPI 3.1 document of the REST API, generated from the router's own procedure list (see procedures.ts):
// input schemas from the zod schemas (z.toJSONSchema, draft 2020-12 as OpenAPI 3.1 uses), descriptions from
// `.meta({ description })` where a procedure has one. Outputs are documented as "any JSON": procedures declare no
// output schemas, and inventing them here would be a second source of truth.
import { type JsonSchema, objectProperties, type ProcedureInfo, requiredProperties } from './procedures';

export interface OpenApiOptions {
  /** Where the REST API is mounted, e.g. /api/v1; the document's server URL. */
  basePath: string;
  title: string;
  version: string;
}

/** The REST path of a procedure, relative to the base path: release.get -> /release/get. */
export function restPath(procedurePath: string): string {
  return `/${procedurePath.split('.').join('/')}`;
}

function operationId(path: string, suffix = ''): string {
  return path.replace(/[.\-_]+(\w)/g, (_m, c: string) => c.toUpperCase()) + suffix;
}

function isObjectSchema(schema: JsonSchema): boolean {
  const type = schema.type;
  return type === 'object' || (Array.isArray(type) && type.includes('object') && !type.includes('string'));
}

function queryParameters(info: ProcedureInfo): unknown[] {
  const schema = info.inputSchema;
  if (!schema) return [];
  const properties = objectProperties(schema);
  if (!properties) {
    // Not an object: the whole input as JSON in one `input` parameter.
    return [
      {
        name: 'input',
        in: 'query',
        required: !info.inputOptional,
        description: 'the input as JSON',
        content: { 'application/json': { schema } },
      },
    ];
  }
  const required = new Set(requiredProperties(schema));
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    // Nested objects travel as JSON; scalars and arrays (repeat the parameter) as plain values.
    ...(isObjectSchema(property)
      ? { content: { 'application/json': { schema: property } } }
      : { schema: property, ...(property.type === 'array' ? { style: 'form', explode: true } : {}) }),
  }));
}

function requestBody(info: ProcedureInfo): Record<string, unknown> {
  if (!info.inputSchema) return {};
  return {
    requestBody: {
      required: !info.inputOptional,
      content: { 'application/json': { schema: info.inputSchema } },
    },
  };
}

const errorResponses = {
  '400': { $ref: '#/components/responses/BadRequest' },
  '401': { $ref: '#/components/responses/Unauthorized' },
  '403': { $ref: '#/components/responses/Forbidden' },
  '429': { $ref: '#/components/responses/TooManyRequests' },
  default: { $ref: '#/components/responses/Error' },
};

function operation(info: ProcedureInfo, method: 'get' | 'post') {
  const roles = info.roles?.length ? ` Roles: ${info.roles.join(', ')}.` : '';
  const how =
    method === 'get' ? 'Input as query parameters (repeat a parameter for a list).' : 'Input as the JSON request body.';
  return {
    operationId: operationId(info.path, info.type === 'query' && method === 'post' ? 'Post' : ''),
    summary: info.description ?? info.path,
    description: `tRPC ${info.type} \`${info.path}\`. ${how}${roles}`,
    tags: [info.path.split('.')[0] ?? info.path],
    ...(method === 'get' ? { parameters: queryParameters(info) } : requestBody(info)),
    responses: {
      '200': {
        description: 'The result of the procedure.',
        content: { 'application/json': { schema: {} } },
      },
      ...errorResponses,
    },
  };
}

function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

/** The OpenAPI 3.1 document of `procedures` served under `options.basePath`. */
export function buildOpenApiDocument(procedures: ProcedureInfo[], options: OpenApiOptions) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const info of procedures) {
    paths[restPath(info.path)] =
      info.type === 'query'
        ? { get: operation(info, 'get'), post: operation(info, 'post') }
        : { post: operation(info, 'post') };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: options.title,
      version: options.version,
      description:
        'Every procedure of the tRPC API as plain HTTP: queries as GET (query parameters) or POST (JSON body), ' +
        'mutations as POST (JSON body). Authenticate with `Authorization: Bearer <token>`. Errors are ' +
        '`{ "error": { "code", "message", "issues"? } }` with the HTTP status the tRPC endpoint uses.',
    },
    servers: [{ url: options.basePath }],
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token from the tokens file.' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', description: 'tRPC error code, e.g. BAD_REQUEST, FORBIDDEN, CONFLICT' },
                message: { type: 'string', description: 'what went wrong, in plain words' },
                issues: {
                  type: 'array',
                  description: 'for invalid input: each bad field with what is wrong with it',
                  items: {
                    type: 'object',
                    required: ['field', 'message'],
                    properties: { field: { type: 'string' }, message: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
      },
      responses: {
        BadRequest: errorResponse('Invalid input; `issues` names each bad field.'),
        Unauthorized: errorResponse('No bearer token, or one that matches nobody.'),
        Forbidden: errorResponse("The token's principal lacks the role the procedure needs (the message names it)."),
        TooManyRequests: errorResponse('Too many failed authentications from this address; see Retry-After.'),
        Error: errorResponse('Any other error: 404 not found, 409 conflict, 503 Temporal unreachable, ...'),
      },
    },
  };
}
