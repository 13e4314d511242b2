/**
 * Additive Holt-Winters (triple exponential smoothing) with a fixed seasonal period, and a grid
 * search for its smoothing parameters. No npm package does this and is kept up (holtwinters 0.0.1,
 * holt-winters 0.0.0 and nostradamus 0.1.0 are abandoned), so it is written out here.
 *
 *   level_t  = α (y_t − s_{t−m}) + (1 − α)(level_{t−1} + trend_{t−1})
 *   trend_t  = β (level_t − level_{t−1}) + (1 − β) trend_{t−1}
 *   s_t      = γ (y_t − level_t) + (1 − γ) s_{t−m}
 *   ŷ_{t+h}  = level_t + h·trend_t + s_{t+h−m·k}   (the latest seasonal value of that phase)
 *
 * Initial state from the first two seasons: trend = (mean of season 2 − mean of season 1) / m, level
 * = mean of season 1 moved back to just before t = 0, seasonal = season 1 minus its trend line. The grid
 * search minimises the one-step-ahead squared error after the first season (the warm-up).
 */

export interface HwParams { alpha: number; beta: number; gamma: number }

export interface HwModel {
  period: number;
  params: HwParams;
  level: number;
  trend: number;
  /** Seasonal value per phase (t mod period), the latest of each. */
  season: number[];
  /** Observations the model has seen. */
  n: number;
  /** One-step-ahead predictions for every observation. */
  fitted: number[];
  /** Squared one-step error summed after the first season. */
  sse: number;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Fits the model to `y` (at least two seasons) with the given parameters. */
export function fitHoltWinters(y: number[], period: number, params: HwParams): HwModel {
  if (!Number.isInteger(period) || period < 2) throw new Error('period must be an integer ≥ 2');
  if (y.length < 2 * period) throw new Error(`Holt-Winters needs at least two seasons (${2 * period} values), got ${y.length}`);
  const { alpha, beta, gamma } = params;
  const m1 = mean(y.slice(0, period));
  let trend = (mean(y.slice(period, 2 * period)) - m1) / period;
  let level = m1 - trend * ((period - 1) / 2 + 1);
  const season = y.slice(0, period).map((v, i) => v - (m1 + trend * (i - (period - 1) / 2)));
  const fitted: number[] = [];
  let sse = 0;
  for (let t = 0; t < y.length; t++) {
    const phase = t % period;
    const s = season[phase]!;
    const yhat = level + trend + s;
    fitted.push(yhat);
    if (t >= period) sse += (y[t]! - yhat) ** 2;
    const prevLevel = level;
    level = alpha * (y[t]! - s) + (1 - alpha) * (level + trend);
    trend = beta * (level - prevLevel) + (1 - beta) * trend;
    season[phase] = gamma * (y[t]! - level) + (1 - gamma) * s;
  }
  return { period, params, level, trend, season, n: y.length, fitted, sse };
}

/** The next `h` values after the fitted data. */
export function forecastHoltWinters(model: HwModel, h: number): number[] {
  const out: number[] = [];
  for (let k = 1; k <= h; k++) out.push(model.level + k * model.trend + model.season[(model.n + k - 1) % model.period]!);
  return out;
}

const steps = (from: number, to: number, step: number): number[] => {
  const out: number[] = [];
  for (let x = from; x <= to + 1e-9; x += step) out.push(Math.round(x * 1000) / 1000);
  return out;
};

export const DEFAULT_GRID = {
  alpha: steps(0.05, 0.95, 0.05),
  beta: [0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3],
  gamma: steps(0.05, 0.95, 0.1),
};

/** The parameters with the least one-step-ahead error on `y` (ties: the first in grid order). */
export function gridSearch(y: number[], period: number, grid = DEFAULT_GRID): { params: HwParams; sse: number } {
  let best: { params: HwParams; sse: number } | undefined;
  for (const alpha of grid.alpha) for (const beta of grid.beta) for (const gamma of grid.gamma) {
    const { sse } = fitHoltWinters(y, period, { alpha, beta, gamma });
    if (Number.isFinite(sse) && (!best || sse < best.sse)) best = { params: { alpha, beta, gamma }, sse };
  }
  return best!;
}

/** Mean absolute error. */
export function mae(actual: number[], predicted: number[]): number {
  return mean(actual.map((a, i) => Math.abs(a - predicted[i]!)));
}

/** Mean absolute percentage error in percent, over the days with a non-zero actual (null if none). */
export function mape(actual: number[], predicted: number[]): number | null {
  const terms = actual.flatMap((a, i) => (a !== 0 ? [Math.abs((a - predicted[i]!) / a)] : []));
  return terms.length ? (100 * terms.reduce((x, y) => x + y, 0)) / terms.length : null;
}

/** The seasonal-naive forecast: the last season repeated. */
export function seasonalNaive(y: number[], period: number, h: number): number[] {
  const last = y.slice(-period);
  return Array.from({ length: h }, (_, k) => last[k % last.length] ?? 0);
}
