// Live time-series charts on uPlot (loaded as a classic script: window.uPlot).
const WINDOW = 300; // points kept per chart
const PALETTE = ['#58a6ff', '#3fb950', '#d29922', '#f85149', '#bc8cff', '#39c5cf', '#ff9bce', '#8b949e'];

export const color = (i) => PALETTE[i % PALETTE.length];

const axis = (format) => ({
  stroke: '#7d8a99',
  grid: { stroke: '#263241', width: 1 },
  ticks: { stroke: '#263241', width: 1 },
  ...(format ? { values: (_u, ticks) => ticks.map(format) } : {}),
});

/**
 * One chart in a dashboard card. `push(atSeconds, values)` appends a point per series; the set
 * of series can change (a replica added), which rebuilds the chart. Stacked charts draw
 * cumulative sums but show each series' own value in the legend.
 */
export class LiveChart {
  constructor(card, { stacked = false, yRange = null, format = null, colors = null } = {}) {
    this.card = card;
    this.el = card.querySelector('.chart');
    this.stacked = stacked;
    this.yRange = yRange;
    this.format = format;
    this.colors = colors;
    this.labels = [];
    this.times = [];
    this.values = []; // per series, raw
    this.samples = 0;
    this.plot = null;
    new ResizeObserver(() => this.plot?.setSize(this.#size())).observe(this.el);
  }

  #color(i) {
    return this.colors?.[this.labels[i]] ?? color(i);
  }

  #size() {
    return { width: Math.max(200, this.el.clientWidth), height: this.el.clientHeight || 200 };
  }

  #build() {
    this.plot?.destroy();
    const order = this.stacked ? [...this.labels.keys()].reverse() : [...this.labels.keys()];
    const series = [
      {},
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
    const scales = { x: { time: true } };
    if (this.yRange) scales.y = { range: this.yRange };
    this.order = order;
    this.plot = new window.uPlot(
      {
        ...this.#size(),
        series,
        scales,
        axes: [axis(), axis(this.format)],
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
