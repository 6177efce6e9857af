/**
 * What the store keeps of signed-in people (issue 23): accounts, their server-side sessions, workbook
 * memberships and links bound to a person. Shared by the SQLite and the PostgreSQL implementations
 * (sqlite-accounts.ts, postgres-accounts.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AccountStore {}
