// Live time-series charts on uPlot (loaded as a classic script: window.uPlot).
const WINDOW = 300; // points kept per chart
const PLOT_HEIGHT = 200; // px, axes included
const PALETTE = ['#58a6ff', '#3fb950', '#d29922', '#f85149', '#bc8cff', '#39c5cf', '#ff9bce', '#8b949e'];

export const color = (i) => PALETTE[i % PALETTE.length];

const AXIS_FONT = '11px system-ui, sans-serif';

const axis = (extra) => ({
  stroke: '#7d8a99',
  font: AXIS_FONT,
  labelFont: AXIS_FONT,
  grid: { stroke: '#263241', width: 1 },
  ticks: { stroke: '#263241', width: 1 },
  ...extra,
});

// Samples come at most twice a second: ticks on whole seconds (no ":14.500"), at least 64 px
// apart so that "15:04:05" labels never touch, even at 420 px.
const SECOND_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString('en-GB', { hour12: false });
const timeAxis = () => axis({ space: 64, incrs: SECOND_STEPS, values: (_u, ticks) => ticks.map(clock) });
// Counts (clients, sessions, statements) get whole-number ticks.
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/**
 * Every chart on the page shows the same span of time, from the oldest point any chart still
 * holds to the newest any chart has, so the panels line up even when one stream started later
 * or samples a little behind the others.
 */
const timeline = {
  charts: new Set(),
  range() {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const c of this.charts) {
      if (c.times.length === 0) continue;
      lo = Math.min(lo, c.times[0]);
      hi = Math.max(hi, c.times.at(-1));
    }
    if (!Number.isFinite(lo)) return [0, 1];
    return [lo, Math.max(hi, lo + 1)];
  },
};

/**
 * One chart in a dashboard card. `push(atSeconds, values)` appends a point per series; the set
 * of series can change (a replica added), which rebuilds the chart. Stacked charts draw
 * cumulative sums but show each series' own value in the legend.
 */
export class LiveChart {
  /**
   * `unit` labels the y axis; `integer` keeps its ticks on whole numbers; `format` renders a
   * value for the axis and the legend.
   */
  constructor(
    card,
    { stacked = false, yRange = null, format = null, colors = null, unit = '', integer = false } = {},
  ) {
    this.card = card;
    this.el = card.querySelector('.chart');
    this.stacked = stacked;
    this.yRange = yRange;
    this.format = format;
    this.colors = colors;
    this.unit = unit;
    this.integer = integer;
    this.labels = [];
    this.times = [];
    this.values = []; // per series, raw
    this.samples = 0;
    this.plot = null;
    timeline.charts.add(this);
    new ResizeObserver(() => this.plot?.setSize(this.#size())).observe(this.el);
  }

  #color(i) {
    return this.colors?.[this.labels[i]] ?? color(i);
  }

  #size() {
    // A fixed plot height: the legend below it wraps onto more lines on a narrow screen and the
    // card grows with it.
    return { width: Math.max(200, this.el.clientWidth), height: PLOT_HEIGHT };
  }

  #build() {
    this.plot?.destroy();
    const order = this.stacked ? [...this.labels.keys()].reverse() : [...this.labels.keys()];
    // The legend shows the newest sample until the pointer picks another (uPlot shows "--").
    const series = [
      {
        label: 'at',
        value: (_u, v) => {
          const t = v ?? this.times.at(-1);
          return t === undefined ? '–' : clock(t);
        },
      },
      ...order.map((i) => ({
        label: this.labels[i],
        stroke: this.#color(i),
        width: 1.5,
        fill: this.stacked ? `${this.#color(i)}cc` : undefined,
        points: { show: false },
        value: (_u, _v, _si, idx) => {
          const raw = idx === null || idx === undefined ? this.values[i].at(-1) : this.values[i][idx];
          if (raw === null || raw === undefined) return '–';
          return this.format ? this.format(raw) : String(Math.round(raw * 10) / 10);
        },
      })),
    ];
    const scales = { x: { time: true, range: () => timeline.range() } };
    if (this.yRange) scales.y = { range: this.yRange };
    this.order = order;
    this.plot = new window.uPlot(
      {
        ...this.#size(),
        series,
        scales,
        axes: [
          timeAxis(),
          axis({
            label: this.unit,
            labelSize: this.unit ? 16 : 0,
            size: 44,
            ...(this.integer ? { incrs: COUNT_STEPS } : {}),
            ...(this.format ? { values: (_u, ticks) => ticks.map(this.format) } : {}),
          }),
        ],
        legend: { live: true },
        cursor: { y: false },
      },
      this.#data(),
      this.el,
    );
  }

  #data() {
    if (!this.stacked) return [this.times, ...this.order.map((i) => this.values[i])];
    const sums = this.values.map(() => []);
    for (let t = 0; t < this.times.length; t++) {
      let sum = 0;
      this.values.forEach((v, i) => {
        sum += v[t] ?? 0;
        sums[i][t] = sum;
      });
    }
    return [this.times, ...this.order.map((i) => sums[i])];
  }

  push(atSeconds, labels, values) {
    if (labels.join('\u0000') !== this.labels.join('\u0000')) {
      // New series start empty; points already drawn keep their time.
      const previous = new Map(this.labels.map((l, i) => [l, this.values[i]]));
      this.labels = labels;
      this.values = labels.map((l) => previous.get(l) ?? this.times.map(() => null));
      this.plot = null;
    }
    this.times.push(atSeconds);
    values.forEach((v, i) => {
      this.values[i].push(v);
    });
    if (this.times.length > WINDOW) {
      this.times.shift();
      for (const v of this.values) v.shift();
    }
    if (this.plot) this.plot.setData(this.#data());
    else this.#build();
    this.samples += 1;
    this.card.dataset.samples = String(this.samples);
  }
}
