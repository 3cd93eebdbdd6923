/**
 * Tenancy: per-account policy (registry, credentials, namespaces, caps, fork policy, config limits) from the
 * operator's tenants file, and owner-scoped image names. What other folders may import.
 */
export type { AccountRef, ForkPolicy, PolicySource, RefusedTenant, RegistryCredentials, ServedTenant, TenantPolicy, TenantRegistry, Tenants } from "./tenant-policy.js";
export { FORK_POLICIES } from "./tenant-policy.js";
export { decodePathComponent, isPathComponent, pathComponent, PathComponentError } from "./path-component.js";
export { ImagePathTooLongError, ownerNamespace, ownerScopedRepository, REPOSITORY_NAME_MAX_LENGTH } from "./owner-scoped.js";
export { loadTenants, singleRegistryTenants, tenantsFromFile } from "./tenant-directory.js";
export type { TenancyDefaults } from "./tenant-directory.js";
export { parseTenantsFile, readTenantsFile, TENANTS_SCHEMA_URL } from "./tenants-file.js";
export { TenantsFileError } from "./tenants-file-error.js";
export type { TenantsFileIssue } from "./tenants-file-error.js";
export { CredentialReferenceError } from "./credentials.js";
export { describeNamespaces, isInNamespaces, namespaceViolations, OutsideNamespacesError, repositoryOf } from "./namespaces.js";
export type { NamespaceViolation } from "./namespaces.js";
export { isReservedSecretId, secretIdsForRepository, secretsForRepository } from "./build-secrets.js";
export type { BuildSecretGrant } from "./build-secrets.js";
