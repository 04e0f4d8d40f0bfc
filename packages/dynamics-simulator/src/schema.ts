import { nameGuid } from './guid.js';

/** Dataverse AttributeTypeCode values the simulator knows. */
export type AttributeType =
  | 'String'
  | 'Memo'
  | 'Integer'
  | 'BigInt'
  | 'Decimal'
  | 'Double'
  | 'Money'
  | 'Boolean'
  | 'DateTime'
  | 'Picklist'
  | 'State'
  | 'Status'
  | 'Lookup'
  | 'Customer'
  | 'Owner'
  | 'Uniqueidentifier';

export const ATTRIBUTE_TYPES: readonly AttributeType[] = [
  'String',
  'Memo',
  'Integer',
  'BigInt',
  'Decimal',
  'Double',
  'Money',
  'Boolean',
  'DateTime',
  'Picklist',
  'State',
  'Status',
  'Lookup',
  'Customer',
  'Owner',
  'Uniqueidentifier',
];

export interface OptionDefinition {
  value: number;
  label: string;
}

export interface ColumnDefinition {
  logicalName: string;
  schemaName: string;
  displayName: string;
  type: AttributeType;
  metadataId: string;
  isCustom: boolean;
  isValidForRead: boolean;
  isValidForCreate: boolean;
  isValidForUpdate: boolean;
  isSecured: boolean;
  canBeSecured: boolean;
  isPrimaryId: boolean;
  isPrimaryName: boolean;
  requiredLevel: 'None' | 'SystemRequired' | 'ApplicationRequired' | 'Recommended';
  maxLength?: number;
  minValue?: number;
  maxValue?: number;
  /** Choice labels (Picklist, State, Status); Boolean columns use index 0 = false, 1 = true. */
  options?: OptionDefinition[];
  /** Lookup targets (logical names). */
  targets?: string[];
  /** Single-valued navigation property per target, used with `<nav>@odata.bind`. */
  navigation?: Record<string, string>;
}

export type OwnershipType = 'UserOwned' | 'OrganizationOwned' | 'BusinessOwned' | 'None';

export interface TableDefinition {
  logicalName: string;
  schemaName: string;
  entitySetName: string;
  displayName: string;
  displayCollectionName: string;
  primaryIdAttribute: string;
  primaryNameAttribute: string;
  metadataId: string;
  objectTypeCode: number;
  ownershipType: OwnershipType;
  isCustomEntity: boolean;
  changeTrackingEnabled: boolean;
  columns: Map<string, ColumnDefinition>;
}

export const LOOKUP_TYPES: ReadonlySet<AttributeType> = new Set(['Lookup', 'Customer', 'Owner']);

export function isLookup(column: ColumnDefinition): boolean {
  return LOOKUP_TYPES.has(column.type);
}

/** The JSON property a column appears as: lookups are `_<name>_value`. */
export function propertyName(column: ColumnDefinition): string {
  return isLookup(column) ? `_${column.logicalName}_value` : column.logicalName;
}

/** The EDM type a column has on the wire, used for $filter type checks and messages. */
export function edmType(type: AttributeType): string {
  switch (type) {
    case 'String':
    case 'Memo':
      return 'Edm.String';
    case 'Integer':
    case 'Picklist':
    case 'State':
    case 'Status':
      return 'Edm.Int32';
    case 'BigInt':
      return 'Edm.Int64';
    case 'Decimal':
    case 'Money':
      return 'Edm.Decimal';
    case 'Double':
      return 'Edm.Double';
    case 'Boolean':
      return 'Edm.Boolean';
    case 'DateTime':
      return 'Edm.DateTimeOffset';
    case 'Lookup':
    case 'Customer':
    case 'Owner':
    case 'Uniqueidentifier':
      return 'Edm.Guid';
  }
}

export interface ColumnInput {
  logicalName: string;
  type: AttributeType;
  schemaName?: string;
  displayName?: string;
  isCustom?: boolean;
  isValidForRead?: boolean;
  isValidForCreate?: boolean;
  isValidForUpdate?: boolean;
  isSecured?: boolean;
  canBeSecured?: boolean;
  requiredLevel?: ColumnDefinition['requiredLevel'];
  maxLength?: number;
  minValue?: number;
  maxValue?: number;
  options?: OptionDefinition[];
  targets?: string[];
  navigation?: Record<string, string>;
}

const titleCase = (name: string): string =>
  name
    .replace(/^new_/, '')
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join(' ');

/** Builds a full column definition with Dataverse-like defaults. */
export function defineColumn(table: string, input: ColumnInput): ColumnDefinition {
  const isCustom = input.isCustom ?? input.logicalName.startsWith('new_');
  const defaultLength = input.type === 'Memo' ? 2000 : 100;
  const column: ColumnDefinition = {
    logicalName: input.logicalName,
    schemaName: input.schemaName ?? (isCustom ? `new_${titleCase(input.logicalName).replace(/ /g, '')}` : titleCase(input.logicalName).replace(/ /g, '')),
    displayName: input.displayName ?? titleCase(input.logicalName),
    type: input.type,
    metadataId: nameGuid('attribute', table, input.logicalName),
    isCustom,
    isValidForRead: input.isValidForRead ?? true,
    isValidForCreate: input.isValidForCreate ?? true,
    isValidForUpdate: input.isValidForUpdate ?? true,
    isSecured: input.isSecured ?? false,
    // Dataverse cannot secure Boolean columns for read; system columns cannot be secured at all.
    canBeSecured: input.canBeSecured ?? (isCustom && input.type !== 'Boolean'),
    isPrimaryId: false,
    isPrimaryName: false,
    requiredLevel: input.requiredLevel ?? 'None',
  };
  if (input.type === 'String' || input.type === 'Memo') column.maxLength = input.maxLength ?? defaultLength;
  if (input.minValue !== undefined) column.minValue = input.minValue;
  if (input.maxValue !== undefined) column.maxValue = input.maxValue;
  if (input.type === 'Integer') {
    column.minValue ??= -2147483648;
    column.maxValue ??= 2147483647;
  }
  if (input.type === 'Money') {
    column.minValue ??= -922337203685477;
    column.maxValue ??= 922337203685477;
  }
  if (input.options) column.options = input.options;
  if (input.type === 'Boolean' && !input.options) column.options = [
    { value: 0, label: 'No' },
    { value: 1, label: 'Yes' },
  ];
  if (input.targets) {
    column.targets = input.targets;
    column.navigation =
      input.navigation ??
      Object.fromEntries(
        input.targets.map((target) => [target, input.targets!.length > 1 ? `${input.logicalName}_${target}` : input.logicalName]),
      );
  }
  return column;
}

interface TableInput {
  logicalName: string;
  entitySetName: string;
  schemaName: string;
  displayName: string;
  displayCollectionName: string;
  primaryIdAttribute: string;
  primaryNameAttribute: string;
  objectTypeCode: number;
  ownershipType: OwnershipType;
  isCustomEntity?: boolean;
  states: OptionDefinition[] | null;
  statuses: OptionDefinition[] | null;
  hasCurrency?: boolean;
  columns: ColumnInput[];
}

const ACTIVE_INACTIVE_STATES: OptionDefinition[] = [
  { value: 0, label: 'Active' },
  { value: 1, label: 'Inactive' },
];
const ACTIVE_INACTIVE_STATUSES: OptionDefinition[] = [
  { value: 1, label: 'Active' },
  { value: 2, label: 'Inactive' },
];

function defineTable(input: TableInput): TableDefinition {
  const name = input.logicalName;
  const columns = new Map<string, ColumnDefinition>();
  const add = (column: ColumnDefinition): void => {
    columns.set(column.logicalName, column);
  };
  const primaryId = defineColumn(name, {
    logicalName: input.primaryIdAttribute,
    type: 'Uniqueidentifier',
    isCustom: input.isCustomEntity ?? false,
    isValidForUpdate: false,
    canBeSecured: false,
    requiredLevel: 'SystemRequired',
  });
  primaryId.isPrimaryId = true;
  add(primaryId);
  for (const input2 of input.columns) {
    const column = defineColumn(name, input2);
    if (column.logicalName === input.primaryNameAttribute) column.isPrimaryName = true;
    add(column);
  }
  const readOnly = { isValidForCreate: false, isValidForUpdate: false, canBeSecured: false, isCustom: false } as const;
  add(defineColumn(name, { logicalName: 'createdon', type: 'DateTime', ...readOnly }));
  add(defineColumn(name, { logicalName: 'modifiedon', type: 'DateTime', ...readOnly }));
  add(defineColumn(name, { logicalName: 'createdby', type: 'Lookup', targets: ['systemuser'], ...readOnly }));
  add(defineColumn(name, { logicalName: 'modifiedby', type: 'Lookup', targets: ['systemuser'], ...readOnly }));
  add(defineColumn(name, { logicalName: 'versionnumber', type: 'BigInt', ...readOnly }));
  if (input.ownershipType === 'UserOwned') {
    add(
      defineColumn(name, {
        logicalName: 'ownerid',
        type: 'Owner',
        targets: ['systemuser', 'team'],
        navigation: { systemuser: 'ownerid', team: 'ownerid' },
        isCustom: false,
        canBeSecured: false,
        requiredLevel: 'SystemRequired',
      }),
    );
  }
  if (input.states && input.statuses) {
    add(defineColumn(name, { logicalName: 'statecode', type: 'State', options: input.states, isCustom: false, canBeSecured: false }));
    add(defineColumn(name, { logicalName: 'statuscode', type: 'Status', options: input.statuses, isCustom: false, canBeSecured: false }));
  }
  if (input.hasCurrency) {
    add(
      defineColumn(name, {
        logicalName: 'transactioncurrencyid',
        type: 'Lookup',
        targets: ['transactioncurrency'],
        isCustom: false,
        canBeSecured: false,
      }),
    );
  }
  return {
    logicalName: name,
    schemaName: input.schemaName,
    entitySetName: input.entitySetName,
    displayName: input.displayName,
    displayCollectionName: input.displayCollectionName,
    primaryIdAttribute: input.primaryIdAttribute,
    primaryNameAttribute: input.primaryNameAttribute,
    metadataId: nameGuid('entity', name),
    objectTypeCode: input.objectTypeCode,
    ownershipType: input.ownershipType,
    isCustomEntity: input.isCustomEntity ?? false,
    changeTrackingEnabled: true,
    columns,
  };
}

const str = (logicalName: string, maxLength: number, extra: Partial<ColumnInput> = {}): ColumnInput => ({
  logicalName,
  type: 'String',
  maxLength,
  ...extra,
});

const syncFlag: ColumnInput = { logicalName: 'new_synctomkto', type: 'Boolean', schemaName: 'new_SyncToMkto', displayName: 'Sync to Marketing' };

export const LEAD_SOURCES: OptionDefinition[] = [
  { value: 1, label: 'Advertisement' },
  { value: 2, label: 'Employee Referral' },
  { value: 3, label: 'External Referral' },
  { value: 4, label: 'Partner' },
  { value: 5, label: 'Public Relations' },
  { value: 6, label: 'Seminar' },
  { value: 7, label: 'Trade Show' },
  { value: 8, label: 'Web' },
  { value: 9, label: 'Word of Mouth' },
  { value: 10, label: 'Other' },
];

export const INDUSTRIES: OptionDefinition[] = [
  { value: 1, label: 'Accounting' },
  { value: 3, label: 'Building Supply Retail' },
  { value: 7, label: 'Consulting' },
  { value: 12, label: 'Financial' },
  { value: 19, label: 'Manufacturing' },
  { value: 27, label: 'Retail' },
  { value: 33, label: 'Wholesale' },
];

export const MEMBERSHIP_LEVELS: OptionDefinition[] = [
  { value: 100000000, label: 'Bronze' },
  { value: 100000001, label: 'Silver' },
  { value: 100000002, label: 'Gold' },
];

/** The default tables of a simulated org (see README for the list of columns). */
export function createDefaultTables(): TableDefinition[] {
  return [
    defineTable({
      logicalName: 'account',
      entitySetName: 'accounts',
      schemaName: 'Account',
      displayName: 'Account',
      displayCollectionName: 'Accounts',
      primaryIdAttribute: 'accountid',
      primaryNameAttribute: 'name',
      objectTypeCode: 1,
      ownershipType: 'UserOwned',
      states: ACTIVE_INACTIVE_STATES,
      statuses: ACTIVE_INACTIVE_STATUSES,
      hasCurrency: true,
      columns: [
        str('name', 160, { requiredLevel: 'ApplicationRequired' }),
        str('accountnumber', 20),
        str('telephone1', 50),
        str('websiteurl', 200),
        str('address1_city', 80),
        { logicalName: 'industrycode', type: 'Picklist', options: INDUSTRIES },
        { logicalName: 'revenue', type: 'Money' },
        { logicalName: 'numberofemployees', type: 'Integer', minValue: 0, maxValue: 1000000000 },
        { logicalName: 'primarycontactid', type: 'Lookup', targets: ['contact'] },
        { logicalName: 'description', type: 'Memo' },
        syncFlag,
      ],
    }),
    defineTable({
      logicalName: 'contact',
      entitySetName: 'contacts',
      schemaName: 'Contact',
      displayName: 'Contact',
      displayCollectionName: 'Contacts',
      primaryIdAttribute: 'contactid',
      primaryNameAttribute: 'fullname',
      objectTypeCode: 2,
      ownershipType: 'UserOwned',
      states: ACTIVE_INACTIVE_STATES,
      statuses: ACTIVE_INACTIVE_STATUSES,
      hasCurrency: true,
      columns: [
        str('firstname', 50),
        str('lastname', 50, { requiredLevel: 'ApplicationRequired' }),
        // Computed from first and last name by the server.
        str('fullname', 160, { isValidForCreate: false, isValidForUpdate: false }),
        str('emailaddress1', 100),
        str('telephone1', 50),
        str('jobtitle', 100),
        { logicalName: 'birthdate', type: 'DateTime' },
        {
          logicalName: 'parentcustomerid',
          type: 'Customer',
          targets: ['account', 'contact'],
          navigation: { account: 'parentcustomerid_account', contact: 'parentcustomerid_contact' },
        },
        { logicalName: 'description', type: 'Memo' },
        syncFlag,
        { logicalName: 'new_creditlimit', type: 'Money', schemaName: 'new_CreditLimit', isSecured: true },
        { logicalName: 'new_riskscore', type: 'Integer', schemaName: 'new_RiskScore', isSecured: true, minValue: 0, maxValue: 100 },
      ],
    }),
    defineTable({
      logicalName: 'lead',
      entitySetName: 'leads',
      schemaName: 'Lead',
      displayName: 'Lead',
      displayCollectionName: 'Leads',
      primaryIdAttribute: 'leadid',
      primaryNameAttribute: 'fullname',
      objectTypeCode: 4,
      ownershipType: 'UserOwned',
      states: [
        { value: 0, label: 'Open' },
        { value: 1, label: 'Qualified' },
        { value: 2, label: 'Disqualified' },
      ],
      statuses: [
        { value: 1, label: 'New' },
        { value: 2, label: 'Contacted' },
        { value: 3, label: 'Qualified' },
        { value: 4, label: 'Lost' },
        { value: 5, label: 'Cannot Contact' },
        { value: 6, label: 'No Longer Interested' },
        { value: 7, label: 'Canceled' },
      ],
      columns: [
        str('firstname', 50),
        str('lastname', 50, { requiredLevel: 'ApplicationRequired' }),
        str('fullname', 160, { isValidForCreate: false, isValidForUpdate: false }),
        str('emailaddress1', 100),
        str('telephone1', 50),
        str('companyname', 100),
        str('subject', 300),
        { logicalName: 'leadsourcecode', type: 'Picklist', options: LEAD_SOURCES },
        { logicalName: 'description', type: 'Memo' },
        syncFlag,
      ],
    }),
    defineTable({
      logicalName: 'systemuser',
      entitySetName: 'systemusers',
      schemaName: 'SystemUser',
      displayName: 'User',
      displayCollectionName: 'Users',
      primaryIdAttribute: 'systemuserid',
      primaryNameAttribute: 'fullname',
      objectTypeCode: 8,
      ownershipType: 'BusinessOwned',
      // systemuser has isdisabled instead of statecode/statuscode.
      states: null,
      statuses: null,
      columns: [
        str('firstname', 64),
        str('lastname', 64),
        str('fullname', 200, { isValidForCreate: false, isValidForUpdate: false }),
        str('internalemailaddress', 100),
        str('title', 128),
        { logicalName: 'isdisabled', type: 'Boolean', isValidForCreate: false, isValidForUpdate: false },
        { logicalName: 'applicationid', type: 'Uniqueidentifier' },
      ],
    }),
    defineTable({
      logicalName: 'team',
      entitySetName: 'teams',
      schemaName: 'Team',
      displayName: 'Team',
      displayCollectionName: 'Teams',
      primaryIdAttribute: 'teamid',
      primaryNameAttribute: 'name',
      objectTypeCode: 9,
      ownershipType: 'BusinessOwned',
      states: null,
      statuses: null,
      columns: [
        str('name', 160, { requiredLevel: 'SystemRequired' }),
        {
          logicalName: 'teamtype',
          type: 'Picklist',
          options: [
            { value: 0, label: 'Owner' },
            { value: 1, label: 'Access' },
            { value: 2, label: 'Security Group' },
            { value: 3, label: 'Office Group' },
          ],
        },
        { logicalName: 'isdefault', type: 'Boolean', isValidForCreate: false, isValidForUpdate: false },
        { logicalName: 'description', type: 'Memo' },
      ],
    }),
    defineTable({
      logicalName: 'opportunity',
      entitySetName: 'opportunities',
      schemaName: 'Opportunity',
      displayName: 'Opportunity',
      displayCollectionName: 'Opportunities',
      primaryIdAttribute: 'opportunityid',
      primaryNameAttribute: 'name',
      objectTypeCode: 3,
      ownershipType: 'UserOwned',
      states: [
        { value: 0, label: 'Open' },
        { value: 1, label: 'Won' },
        { value: 2, label: 'Lost' },
      ],
      statuses: [
        { value: 1, label: 'In Progress' },
        { value: 2, label: 'On Hold' },
        { value: 3, label: 'Won' },
        { value: 4, label: 'Canceled' },
        { value: 5, label: 'Out-Sold' },
      ],
      hasCurrency: true,
      columns: [
        str('name', 300, { requiredLevel: 'ApplicationRequired' }),
        {
          logicalName: 'customerid',
          type: 'Customer',
          targets: ['account', 'contact'],
          navigation: { account: 'customerid_account', contact: 'customerid_contact' },
        },
        { logicalName: 'estimatedvalue', type: 'Money' },
        { logicalName: 'estimatedclosedate', type: 'DateTime' },
        { logicalName: 'closeprobability', type: 'Integer', minValue: 0, maxValue: 100 },
        { logicalName: 'description', type: 'Memo' },
        syncFlag,
      ],
    }),
    defineTable({
      logicalName: 'new_membership',
      entitySetName: 'new_memberships',
      schemaName: 'new_Membership',
      displayName: 'Membership',
      displayCollectionName: 'Memberships',
      primaryIdAttribute: 'new_membershipid',
      primaryNameAttribute: 'new_name',
      objectTypeCode: 10010,
      ownershipType: 'UserOwned',
      isCustomEntity: true,
      states: ACTIVE_INACTIVE_STATES,
      statuses: ACTIVE_INACTIVE_STATUSES,
      columns: [
        str('new_name', 100, { schemaName: 'new_Name', requiredLevel: 'ApplicationRequired' }),
        // Custom lookups navigate by schema name (case-sensitive), unlike system ones.
        { logicalName: 'new_contactid', type: 'Lookup', schemaName: 'new_ContactId', targets: ['contact'], navigation: { contact: 'new_ContactId' } },
        { logicalName: 'new_level', type: 'Picklist', schemaName: 'new_Level', options: MEMBERSHIP_LEVELS },
        { logicalName: 'new_startdate', type: 'DateTime', schemaName: 'new_StartDate' },
        { logicalName: 'new_points', type: 'Integer', schemaName: 'new_Points', minValue: 0, maxValue: 1000000 },
      ],
    }),
  ];
}
