export {
  renderLineChart,
  writeTrainingPlots,
  type HistoryPoint,
  type LineChartSpec,
  type LineSeries,
} from './plot.ts';
export { buildLineChartSvg } from './line-chart-svg.ts';
export { toHistoryPoint, type StepSummary } from './history.ts';
export {
  RELIABILITY_FILE,
  reliabilityChartSpec,
  reliabilityChartSvg,
  writeReliabilityDiagram,
} from './reliability.ts';
