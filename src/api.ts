/** The JSON API, with errors turned into ApiError carrying the server's message and status. */
export class ApiError extends Error {
  constructor(public status: number, message: string) { super(message); this.name = 'ApiError' }
}

export interface WorkbookInfo { id: string; title: string; template: string; createdAt: number; updatedAt: number; url: string }
export interface TemplatePreview { sheet: string; columns: string[]; rows: string[][] }
export interface TemplateInfo { id: string; title: string; description: string; sheets: string[]; preview?: TemplatePreview }

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (e) {
    throw new ApiError(0, (e as Error).message || 'network error')
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let data: unknown
  try { data = text ? JSON.parse(text) : undefined } catch { data = undefined }
  if (!res.ok) throw new ApiError(res.status, (data as { error?: string } | undefined)?.error ?? `${res.status} ${res.statusText}`)
  return data as T
}

export const api = {
  templates: (lang: string) => request<TemplateInfo[]>('GET', `/api/templates?lang=${encodeURIComponent(lang)}`),
  list: () => request<WorkbookInfo[]>('GET', '/api/workbooks'),
  get: (id: string) => request<WorkbookInfo>('GET', `/api/workbooks/${encodeURIComponent(id)}`),
  create: (template: string, title: string | undefined, lang: string) =>
    request<{ id: string; title: string; url: string }>('POST', '/api/workbooks', { template, title, lang }),
  rename: (id: string, title: string) => request<WorkbookInfo>('PATCH', `/api/workbooks/${encodeURIComponent(id)}`, { title }),
  remove: (id: string) => request<void>('DELETE', `/api/workbooks/${encodeURIComponent(id)}`),
}
