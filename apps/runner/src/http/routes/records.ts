import * as z from 'zod';
import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { assertCanCreateInCrm } from '@crm-sync/core';
import type { FieldMap } from '@crm-sync/core';
import type { Runtime } from '../../wiring/runtime.js';
import { requireEntity } from '../entity-guard.js';
import { apiFailure } from '../errors.js';
import { latestEntries } from '../tail.js';
import {
  activitySchema,
  booleanText,
  entityParamSchema,
  errorSchema,
  fieldMapSchema,
  jsonErrorResponses,
  localRecordSchema,
  pageOf,
} from '../schemas.js';

const notFound = { description: 'Unknown entity or record', content: { 'application/json': { schema: errorSchema } } };
const refused = {
  description:
    "The rules refuse the change, or the CRM would refuse a value per its metadata (FIELD_VALUE_INVALID, naming the field and its limit: maximum length, type, option values, required); nothing changed",
  content: { 'application/json': { schema: errorSchema } },
};
const recordParams = entityParamSchema.extend({ id: z.string().min(1).max(200).meta({ param: { name: 'id', in: 'path' } }) });

const listRoute = createRoute({
  method: 'get',
  path: '/api/v1/entities/{entity}/records',
  summary: 'Local records of an entity, by id, paged and filterable',
  tags: ['records'],
  request: {
    params: entityParamSchema,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1_000).default(50),
      after: z.string().optional().meta({ description: 'Cursor: the `next` of the previous page (a record id).' }),
      where: z.string().optional().meta({ description: 'Exact field values as a JSON object, e.g. {"lastname":"Smith"}.' }),
    }),
  },
  responses: {
    200: { description: 'A page of records', content: { 'application/json': { schema: pageOf(localRecordSchema) } } },
    ...jsonErrorResponses,
    404: notFound,
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/api/v1/entities/{entity}/records/{id}',
  summary: 'One record with its activity log (oldest first, first page)',
  tags: ['records'],
  request: { params: recordParams, query: z.object({ activities: z.coerce.number().int().min(0).max(1_000).default(100) }) },
  responses: {
    200: {
      description: 'The record and its activities',
      content: {
        'application/json': {
          schema: z.object({ record: localRecordSchema, activities: z.array(activitySchema), activitiesNext: z.union([z.string(), z.number()]).nullable() }),
        },
      },
    },
    ...jsonErrorResponses,
    404: notFound,
  },
});

const editBody = z
  .strictObject({
    fields: fieldMapSchema.optional().meta({ description: 'Person or account fields. Person changes are pushed next cycle; account changes never (R4).' }),
    company: fieldMapSchema.optional().meta({ description: "A contact's account fields: applied to the account and all its contacts locally (R4)." }),
  })
  .refine((b) => Object.keys(b.fields ?? {}).length + Object.keys(b.company ?? {}).length > 0, 'give at least one field in `fields` or `company`')
  .meta({ id: 'LocalEdit' });

const editRoute = createRoute({
  method: 'patch',
  path: '/api/v1/entities/{entity}/records/{id}',
  summary: 'Local edit of a person (lead, contact) or an account',
  tags: ['records'],
  request: { params: recordParams, body: { required: true, content: { 'application/json': { schema: editBody } } } },
  responses: {
    200: { description: 'The record after the edit', content: { 'application/json': { schema: localRecordSchema } } },
    ...jsonErrorResponses,
    404: notFound,
    409: {
      description:
        'RECORD_CRM_DELETED: the record was deleted in the CRM (R12), so a change of its CRM fields could never be pushed (nothing changed; local-only fields can still be edited)',
      content: { 'application/json': { schema: errorSchema } },
    },
    413: { description: 'Body too large', content: { 'application/json': { schema: errorSchema } } },
    422: refused,
  },
});

const createBody = z
  .strictObject({
    fields: fieldMapSchema.refine((f) => Object.keys(f).length > 0, 'give at least one field'),
    syncToCrm: z.boolean().default(true).meta({ description: 'Create it in the CRM as a lead next cycle (R14).' }),
  })
  .meta({ id: 'NewPerson' });

/** Answers of a create: the new local lead, or why not. */
const createResponses = {
  201: { description: 'The new local lead', content: { 'application/json': { schema: localRecordSchema } } },
  ...jsonErrorResponses,
  413: { description: 'Body too large', content: { 'application/json': { schema: errorSchema } } },
  422: refused,
};

const createPersonRoute = createRoute({
  method: 'post',
  path: '/api/v1/persons',
  summary: 'A new local person (a lead), created in the CRM by the next cycle',
  tags: ['records'],
  request: { body: { required: true, content: { 'application/json': { schema: createBody } } } },
  responses: createResponses,
});

const createRecordRoute = createRoute({
  method: 'post',
  path: '/api/v1/entities/{entity}/records',
  summary: 'A new local record: a lead (as POST /api/v1/persons); never an account or a record of a one-way entity (R5)',
  description:
    'Only leads are created locally (R14: a new person is created in the CRM as a lead). An account, user, team, opportunity or custom ' +
    'entity syncs one way, from the CRM: 403 CRM_CREATE_REFUSED (R5: crm-sync never creates accounts or one-way records in the CRM). ' +
    'A contact: 422 (create a lead). Nothing is written when refused.',
  tags: ['records'],
  request: { params: entityParamSchema, body: { required: true, content: { 'application/json': { schema: createBody } } } },
  responses: {
    ...createResponses,
    403: { description: 'CRM_CREATE_REFUSED: the entity syncs one way, from the CRM (R5); nothing written', content: { 'application/json': { schema: errorSchema } } },
    404: notFound,
  },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/api/v1/entities/{entity}/records/{id}',
  summary: 'Local delete of a person (lead, contact): never deleted in the CRM (R12)',
  description:
    "Marketo's Delete Person: the person and its pending changes are removed locally; the CRM keeps the row (R12). Its activity log " +
    'stays with a local-deleted entry, its open sync errors are resolved. When the CRM sends the row again (a change to it there, or a ' +
    'full read) it is synced again as a new person, as Marketo does. Accounts and one-way records are the CRM\'s: 422.',
  tags: ['records'],
  request: { params: recordParams },
  responses: {
    204: { description: 'Deleted locally' },
    ...jsonErrorResponses,
    404: notFound,
    422: refused,
  },
});

const activitiesRoute = createRoute({
  method: 'get',
  path: '/api/v1/entities/{entity}/records/{id}/activities',
  summary: "A record's activity log, oldest first, paged",
  tags: ['records'],
  request: {
    params: recordParams,
    query: z.object({ limit: z.coerce.number().int().min(1).max(1_000).default(100), after: z.coerce.number().int().min(0).optional(), latest: booleanText.optional() }),
  },
  responses: {
    200: { description: 'A page of activities', content: { 'application/json': { schema: pageOf(activitySchema) } } },
    ...jsonErrorResponses,
    404: notFound,
  },
});

function parseWhere(text: string | undefined): { where?: FieldMap } | { error: string } {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'query.where: must be a JSON object of field values, e.g. {"lastname":"Smith"}' };
  }
  const parsed = fieldMapSchema.safeParse(value);
  if (!parsed.success) return { error: parsed.error.issues.map((i) => `query.where.${i.path.map(String).join('.')}: ${i.message}`).join('; ') };
  return { where: parsed.data };
}

export function registerRecordRoutes(app: OpenAPIHono, runtime: Runtime): void {
  const { engine, store } = runtime;

  app.openapi(listRoute, async (c) => {
    const entity = requireEntity(runtime, c.req.valid('param').entity);
    const q = c.req.valid('query');
    const where = parseWhere(q.where);
    if ('error' in where) throw apiFailure(400, 'REQUEST_INVALID', `Invalid request: ${where.error}`, { issues: [where.error] });
    const page = await store.listRecords(entity, { limit: q.limit, ...(q.after ? { after: q.after } : {}), ...(where.where ? { where: where.where } : {}) });
    return c.json(page, 200);
  });

  app.openapi(getRoute, async (c) => {
    const { entity: name, id } = c.req.valid('param');
    const entity = requireEntity(runtime, name);
    const [record] = await store.getRecords(entity, [id]);
    if (!record) throw apiFailure(404, 'RECORD_NOT_FOUND', `No ${entity} with id ${id}`);
    const limit = c.req.valid('query').activities;
    const activities = limit > 0 ? await store.listActivities({ entity, recordId: id, limit }) : { items: [], next: null };
    return c.json({ record, activities: activities.items, activitiesNext: activities.next }, 200);
  });

  app.openapi(activitiesRoute, async (c) => {
    const { entity: name, id } = c.req.valid('param');
    const entity = requireEntity(runtime, name);
    const q = c.req.valid('query');
    if (q.latest) {
      const items = await latestEntries((o) => store.listActivities({ entity, recordId: id, ...o }), q.limit);
      return c.json({ items, next: null }, 200);
    }
    const page = await store.listActivities({ entity, recordId: id, limit: q.limit, ...(q.after !== undefined ? { after: q.after } : {}) });
    return c.json(page, 200);
  });

  app.openapi(editRoute, async (c) => {
    const { entity: name, id } = c.req.valid('param');
    const entity = requireEntity(runtime, name);
    const body = c.req.valid('json');
    const record = await engine.editLocal(entity, id, { ...(body.fields ? { fields: body.fields } : {}), ...(body.company ? { company: body.company } : {}) });
    runtime.logger.info('local edit', { entity, id, fields: Object.keys(body.fields ?? {}), company: Object.keys(body.company ?? {}) });
    return c.json(record, 200);
  });

  const createLead = async (body: z.infer<typeof createBody>) => {
    const record = await engine.createPerson(body.fields, { syncToCrm: body.syncToCrm });
    runtime.logger.info('local person created', { entity: record.entity, id: record.id, syncToCrm: record.syncToCrm });
    return record;
  };

  app.openapi(createRecordRoute, async (c) => {
    const entity = engine.registry.get(requireEntity(runtime, c.req.valid('param').entity));
    assertCanCreateInCrm(entity);
    if (entity.name !== 'lead') {
      throw apiFailure(422, 'LOCAL_EDIT_INVALID', `A new person is created as a lead (R14): POST /api/v1/entities/lead/records, not ${entity.name}`);
    }
    return c.json(await createLead(c.req.valid('json')), 201);
  });

  app.openapi(deleteRoute, async (c) => {
    const { entity: name, id } = c.req.valid('param');
    const entity = requireEntity(runtime, name);
    await engine.deleteLocal(entity, id);
    runtime.logger.info('local delete', { entity, id });
    return c.body(null, 204);
  });

  app.openapi(createPersonRoute, async (c) => c.json(await createLead(c.req.valid('json')), 201));
}
