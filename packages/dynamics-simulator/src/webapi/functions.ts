import { errors } from '../odata/errors.js';
import type { TableDefinition } from '../schema.js';
import type { WebApiContext } from './context.js';
import { jsonResponse } from './http.js';

export function whoAmI(context: WebApiContext): Response {
  const { org, serviceRoot, userId } = context;
  return jsonResponse(200, {
    '@odata.context': `${serviceRoot}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
    BusinessUnitId: org.businessUnitId,
    UserId: userId,
    OrganizationId: org.organizationId,
  });
}

/** Field-level privileges through field security profiles: 0 = not allowed, 4 = allowed (FieldPermission values). */
export function retrievePrincipalAttributePrivileges(context: WebApiContext, table: TableDefinition, principalId: string): Response {
  const { org, serviceRoot } = context;
  if (table.logicalName !== 'systemuser' && table.logicalName !== 'team') throw errors.segmentNotFound('Microsoft.Dynamics.CRM.RetrievePrincipalAttributePrivileges');
  if (!org.getRow(table.logicalName, principalId)) throw errors.rowNotFound(table.logicalName, principalId);
  const flag = (allowed: boolean): number => (allowed ? 4 : 0);
  const privileges = table.logicalName === 'systemuser' ? org.securedPermissions(principalId.toLowerCase()) : [];
  return jsonResponse(200, {
    '@odata.context': `${serviceRoot}$metadata#Microsoft.Dynamics.CRM.RetrievePrincipalAttributePrivilegesResponse`,
    AttributePrivileges: privileges.map(({ column, permission }) => ({
      AttributeId: column.metadataId,
      CanCreate: flag(permission.canCreate),
      CanRead: flag(permission.canRead),
      CanUpdate: flag(permission.canUpdate),
    })),
  });
}

/** GET /api/data/v9.2/: the service document listing entity sets. */
export function serviceDocument(context: WebApiContext): Response {
  return jsonResponse(200, {
    '@odata.context': `${context.serviceRoot}$metadata`,
    value: context.org.tables().map((table) => ({ name: table.entitySetName, kind: 'EntitySet', url: table.entitySetName })),
  });
}

/** A small CSDL document: entity types with keys and entity sets with their change-tracking capability. */
export function metadataDocument(context: WebApiContext): Response {
  const tables = context.org.tables();
  const types = tables
    .map(
      (table) =>
        `<EntityType Name="${table.logicalName}"><Key><PropertyRef Name="${table.primaryIdAttribute}" /></Key></EntityType>`,
    )
    .join('');
  const sets = tables
    .map(
      (table) =>
        `<EntitySet Name="${table.entitySetName}" EntityType="Microsoft.Dynamics.CRM.${table.logicalName}"><Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record><PropertyValue Property="Supported" Bool="${table.changeTrackingEnabled}" /></Record></Annotation></EntitySet>`,
    )
    .join('');
  const xml = `<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">${types}<EntityContainer Name="System">${sets}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`;
  return new Response(xml, { status: 200, headers: { 'Content-Type': 'application/xml', 'OData-Version': '4.0' } });
}
