/**
 * fastify validates params, query and body through joi: every problem of a request part is
 * listed in one TROUPE_INVALID_REQUEST error. Query and params are coerced from strings; a JSON
 * body must already have the right types.
 */
import type { FastifySchemaCompiler } from 'fastify';
import Joi from 'joi';
import { TroupeError } from '../../core/errors.js';

/** A pathological body could produce thousands of problems; the first ones are enough. */
const MAX_LISTED_PROBLEMS = 50;

const PART_NAMES: Readonly<Record<string, string>> = { body: 'body', querystring: 'query', params: 'path', headers: 'headers' };

export function invalidRequest(part: string, error: Joi.ValidationError): TroupeError {
  const problems = error.details.map((d) => d.message);
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS);
  const more = problems.length > listed.length ? `; and ${problems.length - listed.length} more` : '';
  return new TroupeError('TROUPE_INVALID_REQUEST', `invalid request ${PART_NAMES[part] ?? part}: ${listed.join('; ')}${more}`, {
    details: { part: PART_NAMES[part] ?? part, problems },
  });
}

export const joiValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart, method, url }) => {
  if (!Joi.isSchema(schema)) throw new Error(`the ${httpPart ?? 'request'} schema of ${method} ${url} is not a joi schema`);
  const options: Joi.ValidationOptions = { abortEarly: false, allowUnknown: false, convert: httpPart !== 'body' };
  return (data: unknown) => {
    const { value, error } = schema.validate(data, options);
    return error === undefined ? { value } : { error: invalidRequest(httpPart ?? 'request', error) };
  };
};
