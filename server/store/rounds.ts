/**
 * What the store keeps of fill-in rounds: rounds, their people and submissions (issue 21). Shared by the SQLite and the PostgreSQL
 * implementations (sqlite-rounds.ts, postgres-rounds.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RoundStore {}
