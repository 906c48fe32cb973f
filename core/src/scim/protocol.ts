// SCIM 2.0 (RFC 7643/7644) as gatelog speaks it at /scim/v2: the schema URNs, the error every
// refusal becomes (RFC 7644 §3.12: `status` as a string, an optional `scimType`), and the
// discovery documents an identity provider reads first. Pure: no I/O.

export const SCHEMA = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  enterpriseUser: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  list: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  serviceProviderConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
} as const;

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** The most resources one list answers (ServiceProviderConfig `filter.maxResults`). */
export const MAX_RESULTS = 200;

/** RFC 7644 §3.12 table 9. */
export type ScimType = 'invalidFilter' | 'tooMany' | 'uniqueness' | 'mutability' | 'invalidSyntax' | 'invalidPath' | 'noTarget' | 'invalidValue' | 'invalidVers' | 'sensitive';

export class ScimError extends Error {
  override readonly name = 'ScimError';
  readonly status: number;
  readonly scimType: ScimType | undefined;
  constructor(status: number, detail: string, scimType?: ScimType) {
    super(detail);
    this.status = status;
    this.scimType = scimType;
  }
}

export const scimErrorBody = (status: number, detail: string, scimType?: ScimType): string =>
  JSON.stringify({ schemas: [SCHEMA.error], status: String(status), ...(scimType ? { scimType } : {}), detail });

/** RFC 7643 §5: what this service provider supports. */
export const serviceProviderConfig = (base: string) => ({
  schemas: [SCHEMA.serviceProviderConfig],
  patch: { supported: true },
  bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
  filter: { supported: true, maxResults: MAX_RESULTS },
  changePassword: { supported: false },
  sort: { supported: false },
  etag: { supported: false },
  authenticationSchemes: [{ type: 'oauthbearertoken', name: 'Bearer token', description: 'A gatelog machine token (glt-…) whose role may people.provision.', primary: true }],
  meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
});

export const resourceTypes = (base: string) => [
  {
    schemas: [SCHEMA.resourceType], id: 'User', name: 'User', endpoint: '/Users', description: 'A person who signs in to gatelog',
    schema: SCHEMA.user, schemaExtensions: [{ schema: SCHEMA.enterpriseUser, required: false }],
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
  },
  {
    schemas: [SCHEMA.resourceType], id: 'Group', name: 'Group', endpoint: '/Groups', description: 'A group whose name the sso.oidc roles and teams maps read',
    schema: SCHEMA.group, meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
  },
];

const attr = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
  name, type, multiValued: false, required: false, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none', ...extra,
});

/** The attributes gatelog keeps; anything else of the core User schema is accepted and not stored. */
export const schemas = (base: string) => [
  {
    schemas: [SCHEMA.schema], id: SCHEMA.user, name: 'User', description: 'A gatelog person',
    attributes: [
      attr('userName', 'string', { required: true, uniqueness: 'server', description: "The person's email: what single sign-on matches them by." }),
      attr('name', 'complex', { subAttributes: [attr('formatted', 'string'), attr('givenName', 'string'), attr('familyName', 'string')] }),
      attr('displayName', 'string'),
      attr('active', 'boolean'),
      attr('externalId', 'string', { caseExact: true }),
      attr('emails', 'complex', { multiValued: true, subAttributes: [attr('value', 'string'), attr('type', 'string'), attr('primary', 'boolean')] }),
    ],
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${SCHEMA.user}` },
  },
  {
    schemas: [SCHEMA.schema], id: SCHEMA.group, name: 'Group', description: 'A group, read as a groups-claim name at single sign-on',
    attributes: [
      attr('displayName', 'string', { required: true, uniqueness: 'server' }),
      attr('externalId', 'string', { caseExact: true }),
      attr('members', 'complex', { multiValued: true, subAttributes: [attr('value', 'string', { mutability: 'immutable' }), attr('$ref', 'reference'), attr('display', 'string')] }),
    ],
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${SCHEMA.group}` },
  },
];

export const listResponse = <T>(resources: T[], totalResults: number, startIndex: number) => ({
  schemas: [SCHEMA.list], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources,
});
