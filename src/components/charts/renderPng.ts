/**
 * Renders charts to PNG images off screen (for the XLSX export), with the same option the panel shows.
 * Loaded on demand only.
 */
import { init, use } from 'echarts/core'
import { BarChart, LineChart, PieChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'
import { chartOption, type ChartData } from '../../core/charts/charts'

use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer])

export const IMAGE_WIDTH = 640
export const IMAGE_HEIGHT = 360

/** base64 PNG (without the data: prefix) of each chart */
export function renderPngs(charts: { id: string; data: ChartData }[]): { chartId: string; png: string }[] {
  const host = document.createElement('div')
  host.style.cssText = `position:fixed;left:-10000px;top:0;width:${IMAGE_WIDTH}px;height:${IMAGE_HEIGHT}px`
  document.body.appendChild(host)
  try {
    return charts.filter(c => !c.data.empty).map(c => {
      const chart = init(host, null, { renderer: 'canvas', width: IMAGE_WIDTH, height: IMAGE_HEIGHT })
      try {
        chart.setOption({ backgroundColor: '#fff', ...chartOption(c.data, { animation: false }) })
        const url = chart.getDataURL({ type: 'png', pixelRatio: 1, backgroundColor: '#fff' })
        return { chartId: c.id, png: url.slice(url.indexOf(',') + 1) }
      } finally {
        chart.dispose()
      }
    })
  } finally {
    host.remove()
  }
}
