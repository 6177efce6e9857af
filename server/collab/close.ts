/** Close codes sent to clients. 4400–4499 tell the stock y-websocket client not to reconnect. */
export const CLOSE = {
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  policy: 1008,
  internalError: 1011,
  /** the link was revoked */
  revoked: 4403,
  notFound: 4404,
  /** a change the sender may not make was refused; the client must reload the workbook */
  refused: 4409,
  /** the workbook would grow past its size limit */
  tooLarge: 4413,
} as const

/** A close reason fits in 123 bytes of UTF-8. */
export function closeReason(text: string): string {
  let out = text
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1)
  return out
}
