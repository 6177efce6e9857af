/**
 * Sends a CSV to the server with XMLHttpRequest (fetch reports no upload progress): the bytes sent
 * as they go (the server reads them as they arrive), then the answer.
 */
import type { CsvEncoding } from '../../core/csv/decode'
import type { Delimiter } from '../../core/csv/parse'
import type { ColumnType } from '../../core/workbook/schema'
import { ApiError } from '../../api'

export interface CsvReport {
  encoding: CsvEncoding
  delimiter: Delimiter
  rows: number
  columns: number
  header: boolean
  skippedLines: number
  types: { title: string; type: ColumnType }[]
  coerced: Record<'numbers' | 'percents' | 'currency' | 'dates' | 'wan' | 'formulasAsText' | 'formulas' | 'codes' | 'keptText', number> | null
}

export interface CsvChoice {
  encoding: CsvEncoding
  delimiter: Delimiter
  /** 1-based header row, 0 for none */
  header: number
  formulas: boolean
}

export function sendCsv<T>(path: string, file: Blob, query: Record<string, string>, token: string, onProgress: (sent: number, total: number) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `${path}?${new URLSearchParams(query)}`)
    xhr.setRequestHeader('Content-Type', 'text/csv')
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.upload.onprogress = e => onProgress(e.loaded, e.lengthComputable ? e.total : file.size)
    xhr.onload = () => {
      let data: (T & { error?: string }) | undefined
      try { data = JSON.parse(xhr.responseText) } catch { data = undefined }
      if (xhr.status >= 200 && xhr.status < 300 && data) resolve(data)
      else reject(new ApiError(xhr.status, data?.error ?? `${xhr.status} ${xhr.statusText}`))
    }
    xhr.onerror = () => reject(new ApiError(0, 'network error'))
    xhr.send(file)
  })
}

export const choiceQuery = (c: CsvChoice): Record<string, string> => ({
  encoding: c.encoding, delimiter: { ',': 'comma', '\t': 'tab', ';': 'semicolon', '|': 'pipe' }[c.delimiter], header: String(c.header), formulas: c.formulas ? 'keep' : 'text',
})
