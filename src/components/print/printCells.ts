/**
 * The review pack's table cells as drawn: a merge's top-left cell spans its rows and columns and the
 * cells it covers are not drawn; each cell gets its format as style properties (never HTML: colours
 * are bound as CSS values, and only #rrggbb ones). A chosen border is drawn on both cells that share
 * the edge (a cell's bottom and the top of the one below), so the collapsed table shows it whichever
 * cell wins the edge, as the grid draws a cell's edge and the edge its neighbour asks for.
 */
import type { ReviewSheet, ReviewStyle } from '../../api'

export interface PrintCell {
  /** column index */
  c: number
  text: string
  rowspan?: number
  colspan?: number
  class: Record<string, boolean>
  style: Record<string, string>
}

const COLOR = /^#[0-9a-fA-F]{6}$/
/** a thin border, as the grid draws one */
export const EDGE = '1px solid #202124'
const VALIGN = { top: 'top', middle: 'middle', bottom: 'bottom' } as const
const HALIGN = { left: 'left', center: 'center', right: 'right' } as const

export function printRows(s: ReviewSheet): PrintCell[][] {
  const looks = s.styles ?? {}
  const look = (r: number, c: number): ReviewStyle | undefined => looks[`${r}:${c}`]
  const starts = new Map<string, { rowspan: number; colspan: number }>()
  const covered = new Set<string>()
  for (const m of s.merges ?? []) {
    starts.set(`${m.row}:${m.col}`, m)
    for (let r = m.row; r < m.row + m.rowspan; r++) {
      for (let c = m.col; c < m.col + m.colspan; c++) if (r !== m.row || c !== m.col) covered.add(`${r}:${c}`)
    }
  }
  return s.rows.map((row, r) => {
    const out: PrintCell[] = []
    row.forEach((text, c) => {
      if (covered.has(`${r}:${c}`)) return
      const m = starts.get(`${r}:${c}`)
      const rs = m?.rowspan ?? 1, cs = m?.colspan ?? 1
      const st = look(r, c) ?? {}
      const style: Record<string, string> = {}
      if (st.fc && COLOR.test(st.fc)) style.color = st.fc
      if (st.bg && COLOR.test(st.bg)) style.backgroundColor = st.bg
      // a data bar, as long as the number's place between the column's lowest and highest
      if (st.bar && COLOR.test(st.bar.color) && Number.isFinite(st.bar.pct)) {
        const pct = Math.max(0, Math.min(100, Math.round(st.bar.pct)))
        style.backgroundImage = `linear-gradient(to right, ${st.bar.color}99 ${pct}%, transparent ${pct}%)`
      }
      if (st.ha && HALIGN[st.ha]) style.textAlign = HALIGN[st.ha]
      if (st.va && VALIGN[st.va]) style.verticalAlign = VALIGN[st.va]
      if (st.b) style.fontWeight = '700'
      if (st.i) style.fontStyle = 'italic'
      const lines = [st.u && 'underline', st.s && 'line-through'].filter(Boolean)
      if (lines.length) style.textDecorationLine = lines.join(' ')
      // a merge's edges are its corner cells' (a border set on a merged block is set on all its cells)
      if (st.bt || look(r - 1, c)?.bb) style.borderTop = EDGE
      if (look(r + rs - 1, c)?.bb || look(r + rs, c)?.bt) style.borderBottom = EDGE
      if (st.bl || look(r, c - 1)?.br) style.borderLeft = EDGE
      if (look(r, c + cs - 1)?.br || look(r, c + cs)?.bl) style.borderRight = EDGE
      out.push({
        c, text,
        ...(rs > 1 ? { rowspan: rs } : {}),
        ...(cs > 1 ? { colspan: cs } : {}),
        class: { num: !!s.numeric[c], wrap: !!st.wrap },
        style,
      })
    })
    return out
  })
}

/** The header cells' bottom edge: drawn where the first row asks for a top border (the header wins that edge otherwise). */
export function headEdges(s: ReviewSheet): boolean[] {
  return s.columns.map((_t, c) => !!s.styles?.[`0:${c}`]?.bt)
}
