/**
 * What the store keeps of roll-up workbooks: their configuration and sources (issue 21). Shared by the SQLite and the PostgreSQL
 * implementations (sqlite-rollups.ts, postgres-rollups.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RollupStore {}
