import { ErrorCode } from '../../core/index.js';
import { BAD_REQUEST } from './errors.js';
import { REST_BASE_PATH, REST_ROUTES } from './routes.js';

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is plain JSON, walked by path.
type Json = Record<string, any>;

/** What SOFA's OpenAPI document starts from: title, auth and the error body every route may answer. */
export function describeRestApi(version: string): Json {
  return {
    endpoint: '/openapi.json',
    info: {
      title: 'poolpilot REST API',
      version,
      description:
        'The user guide’s endpoints, generated from the GraphQL schema: each route runs one GraphQL root field, with the same roles, limits and error codes. POST bodies are JSON only.',
    },
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearerAuth: [] }],
  };
}

/**
 * Completes the generated document: the guide's body names next to the schema's (`query` for
 * `sql`, either one required), and the error body with its codes on every operation.
 */
export function completeRestDocument(document: Json): void {
  document.components.schemas.RestError = {
    type: 'object',
    required: ['code', 'message', 'errors'],
    properties: {
      code: {
        type: 'string',
        enum: [BAD_REQUEST, ...Object.values(ErrorCode)],
        description: 'As GraphQL’s extensions.code.',
      },
      message: { type: 'string' },
      errors: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            message: { type: 'string' },
            path: { type: 'array' },
            extensions: { type: 'object' },
          },
        },
      },
    },
  };
  for (const route of REST_ROUTES) {
    const operation = document.paths?.[route.path.replace(/:([^/]+)/g, '{$1}')]?.[route.method.toLowerCase()];
    if (!operation)
      throw new Error(`the OpenAPI document lacks ${route.method} ${REST_BASE_PATH}${route.path}`);
    operation.responses.default = {
      description:
        'An error: 400 bad input or SQL, 401, 403, 404, 503 unavailable or queue full, 504 timeout.',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/RestError' } } },
    };
    const body = operation.requestBody?.content?.['application/json']?.schema;
    for (const [alias, name] of Object.entries(route.aliases ?? {})) {
      if (!body?.properties?.[name]) continue;
      body.properties[alias] = { ...body.properties[name], description: `The guide’s name for ${name}.` };
      const required = (body.required ?? []).filter((r: string) => r !== name);
      if (required.length > 0) body.required = required;
      else delete body.required;
      body.anyOf = [...(body.anyOf ?? []), { required: [name] }, { required: [alias] }];
    }
  }
}
