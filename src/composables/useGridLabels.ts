/** The grid's words (its menus, editors and messages) in the person's language, read afresh on each call. */
import { useI18n } from 'vue-i18n'
import { COLUMN_TYPES, type ColumnType } from '../core/workbook/schema'
import type { GridLabels } from './grid/useGrid'

export function useGridLabels(): () => GridLabels {
  const { t } = useI18n()
  return () => ({
    rowAbove: t('grid.rowAbove'), rowBelow: t('grid.rowBelow'), colLeft: t('grid.colLeft'), colRight: t('grid.colRight'),
    removeRow: t('grid.removeRow'), removeCol: t('grid.removeCol'), copy: t('grid.copy'), cut: t('grid.cut'),
    columnType: t('grid.columnType'), freezeRows: t('grid.freezeRows'), freezeCols: t('grid.freezeCols'), unfreeze: t('grid.unfreeze'),
    types: Object.fromEntries(COLUMN_TYPES.map(x => [x, t(`types.${x}`)])) as Record<ColumnType, string>,
    calculated: t('grid.calculated'),
    applyColumnFormula: t('grid.applyColumnFormula'), stopColumnFormula: t('grid.stopColumnFormula'),
    columnSettings: t('grid.columnSettings'), colorRules: t('grid.colorRules'),
    editLost: (text) => t('grid.editLost', { text }),
    datePicker: { weekdays: t('grid.datePicker.weekdays').split(' '), month: (year, month) => t('grid.datePicker.month', { year, month, name: t('grid.datePicker.months').split(' ')[month - 1] ?? '' }), today: t('grid.datePicker.today'), prevMonth: t('grid.datePicker.prevMonth'), nextMonth: t('grid.datePicker.nextMonth') },
    formatTooMany: (max) => t('grid.formatTooMany', { max }),
    sortAsc: t('grid.sortAsc'), sortDesc: t('grid.sortDesc'),
    comment: t('comments.insert'),
    cellHistory: t('history.cellHistory'), was: (text) => t('history.was', { text: text || t('history.empty1') }),
    merge: t('grid.merge'), mergeAcross: t('grid.mergeAcross'), unmerge: t('grid.unmerge'),
    hideRows: t('grid.hideRows'), unhideRows: t('grid.unhideRows'), hideCols: t('grid.hideCols'), unhideCols: t('grid.unhideCols'),
    invalid: (p) => t(`grid.invalid.${p.code}`, p.code === 'not-in-options' ? { options: p.options.join(' / ') } : p.code === 'below-min' ? { min: p.min } : p.code === 'above-max' ? { max: p.max } : {}),
  })
}
