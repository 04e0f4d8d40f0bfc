/** An error that becomes a Web API error response: `{"error":{"code":"...","message":"..."}}`. */
export interface ODataError extends Error {
  readonly name: 'ODataError';
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
}

export function odataError(status: number, code: string, message: string, headers: Record<string, string> = {}): ODataError {
  return Object.assign(new Error(message), { name: 'ODataError' as const, status, code, headers });
}

export function isODataError(error: unknown): error is ODataError {
  return error instanceof Error && error.name === 'ODataError' && 'status' in error;
}

/** Error codes and messages as Microsoft documents them for the Dataverse Web API. */
export const errors = {
  segmentNotFound: (segment: string) => odataError(404, '0x8006088a', `Resource not found for the segment '${segment}'.`),
  propertyNotFound: (property: string, type: string) =>
    odataError(400, '0x0', `Could not find a property named '${property}' on type 'Microsoft.Dynamics.CRM.${type}'.`),
  rowNotFound: (table: string, id: string) => odataError(404, '0x80040217', `${table} With Id = ${id} Does Not Exist`),
  versionMismatch: () => odataError(412, '0x80060882', "The version of the existing record doesn't match the RowVersion property provided."),
  duplicateRecord: () => odataError(412, '0x80040237', 'A record with matching key values already exists.'),
  trackingNotSupported: (option: string) =>
    odataError(400, '0x80040203', `The "${option}" query parameter isn't supported when Change Tracking is enabled.`),
  deltaTokenExpired: () => odataError(400, '0x80040203', 'Version stamp associated with the client has expired. Please perform a full sync.'),
  badRequest: (message: string, code = '0x0') => odataError(400, code, message),
  validation: (detail: string) => odataError(400, '0x80044331', `A validation error occurred.  ${detail}`),
  payload: (entitySet: string, inner: string) =>
    odataError(
      400,
      '0x80048d19',
      `Error identified in Payload provided by the user for Entity :'${entitySet}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : ${inner}`,
    ),
  secureFieldUpdate: () =>
    odataError(403, '0x8004F507', "The user doesn't have AttributePrivilegeUpdate and not granted shared access for a secured attribute during update operation"),
  secureFieldCreate: () =>
    odataError(403, '0x8004F502', 'The user does not have create permissions to a secured field. The requested operation could not be completed.'),
  privilegeDenied: (userId: string, privilege: string, table: string, objectTypeCode: number) =>
    odataError(
      403,
      '0x80040220',
      `Principal user (Id=${userId}, type=8) is missing ${privilege} privilege on OTC=${objectTypeCode} for entity '${table}'.`,
    ),
  methodNotAllowed: (method: string) => odataError(405, '0x80060888', `The requested resource does not support http method '${method}'.`),
  unexpected: () => odataError(500, '0x80040216', 'An unexpected error occurred.'),
} as const;
