// Lamina's web UI: metric charts (uPlot), live run pages, parallel coordinates. No framework, nothing from a CDN.
(function () {
  'use strict';

  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
  const color = i => palette[i % palette.length];
  const shortId = id => id.replace(/-/g, '').slice(0, 8);

  // Exponential moving average with TensorBoard's debiasing, so the first points are not pulled towards zero.
  function smooth(values, weight) {
    if (!(weight > 0)) return values;
    let last = 0, n = 0;
    return values.map(v => {
      if (v === null || !isFinite(v)) return v;
      last = last * weight + (1 - weight) * v;
      n++;
      return last / (1 - Math.pow(weight, n));
    });
  }

  // The x of each point: step, epoch (the run's 'epoch' metric at that step, else the step), or seconds since the first point.
  function xsOf(series, all, x) {
    if (x === 'time') {
      const t0 = series.points.length ? series.points[0][1] : 0;
      return series.points.map(p => (p[1] - t0) / 1000);
    }
    if (x === 'epoch') {
      const epochs = all.find(a => a.run_id === series.run_id && a.name === 'epoch');
      if (epochs) {
        const byStep = new Map(epochs.points.map(p => [p[0], p[2]]));
        return series.points.map(p => byStep.has(p[0]) ? byStep.get(p[0]) : p[0]);
      }
    }
    return series.points.map(p => p[0]);
  }

  // uPlot.join wants each table's x ascending and unique: a repeated x keeps its last point.
  function table(xs, ys, mins, maxs) {
    const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b] || a - b);
    const out = [[], [], [], []];
    for (const i of order) {
      const k = out[0].length;
      if (k > 0 && out[0][k - 1] === xs[i]) {
        out[1][k - 1] = ys[i];
        out[2][k - 1] = Math.min(out[2][k - 1], mins[i]);
        out[3][k - 1] = Math.max(out[3][k - 1], maxs[i]);
      } else {
        out[0].push(xs[i]); out[1].push(ys[i]); out[2].push(mins[i]); out[3].push(maxs[i]);
      }
    }
    return out;
  }

  // Draws each downsampled series' min–max band under its line, so a spike inside a bucket is never hidden.
  function bandsPlugin(bands) {
    return {
      hooks: {
        drawSeries: [(u, si) => {
          const band = bands[si];
          if (!band || !band.show) return;
          const ctx = u.ctx;
          ctx.save();
          ctx.beginPath();
          ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
          ctx.clip();
          ctx.beginPath();
          const xs = band.xs, lo = band.min, hi = band.max;
          let started = false;
          for (let i = 0; i < xs.length; i++) {
            if (hi[i] === null || !isFinite(hi[i])) continue;
            const px = u.valToPos(xs[i], 'x', true), py = u.valToPos(hi[i], 'y', true);
            if (started) ctx.lineTo(px, py); else { ctx.moveTo(px, py); started = true; }
          }
          for (let i = xs.length - 1; i >= 0; i--) {
            if (lo[i] === null || !isFinite(lo[i])) continue;
            ctx.lineTo(u.valToPos(xs[i], 'x', true), u.valToPos(lo[i], 'y', true));
          }
          ctx.closePath();
          ctx.globalAlpha = 0.18;
          ctx.fillStyle = band.color;
          ctx.fill();
          ctx.restore();
        }],
      },
    };
  }

  // The decimals a tick step needs: 0.25 two, 5 none, 1e-7 seven.
  function decimalsOf(step) {
    const [mantissa, exponent] = Number(step.toPrecision(6)).toExponential().split('e');
    return Math.max(0, (mantissa.split('.')[1] || '').length - parseInt(exponent, 10));
  }

  // A tick label by magnitude: tiny and huge values with an exponent (1.5e-7, never "0"), the others with the decimals
  // their step needs (0.25, not 0.3), or with 3 significant digits where there is no step (a log scale's 1, 2, 5 × 10^k).
  function tickLabel(v, step) {
    if (v === null || v === undefined || !isFinite(v)) return '';
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a < 1e-3 || (a >= 1e6 && !(step > 0 && step < a / 1e3))) {
      return v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
    }
    return String(step > 0 && isFinite(step) ? Number(v.toFixed(Math.min(20, decimalsOf(step)))) : Number(v.toPrecision(3)));
  }

  const linearTicks = (u, splits, axisIdx, space, step) => splits.map(v => tickLabel(v, step));
  const logTicks = (u, splits) => splits.map(v => tickLabel(v, null));

  // An axis as wide as its longest label: uPlot's fixed 50 px cut labels such as "1.5e-7" short.
  function axisSize(u, values, axisIdx, cycleNum) {
    const axis = u.axes[axisIdx];
    if (cycleNum > 1) return axis._size;
    const longest = (values || []).reduce((acc, v) => (v !== null && String(v).length > acc.length ? String(v) : acc), '');
    u.ctx.font = axis.font[0];
    // 4 px to spare: a glyph's ink can reach past its measured advance.
    return Math.ceil(axis.ticks.size + axis.gap + 4 + (longest === '' ? 0 : u.ctx.measureText(longest).width / uPlot.pxRatio));
  }

  // A range around values that are all one (a single point): uPlot's own spreads it oddly and puts labels on the chart's
  // edges, where they are clipped. A decade either side on a log scale, a tenth of the value (or 1 around 0) otherwise.
  function rangeOfOne(columns, log) {
    let lo = Infinity, hi = -Infinity;
    for (const column of columns) {
      for (const v of column) {
        if (v === null || v === undefined || !isFinite(v)) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (lo !== hi) return null;
    if (log) return [lo / 10, lo * 10];
    const d = lo === 0 ? 1 : Math.abs(lo) / 10;
    return [lo - d, lo + d];
  }

  async function drawChart(el) {
    const runs = el.dataset.runs.split(',').filter(Boolean);
    const metric = el.dataset.metric;
    const x = el.dataset.x || 'step';
    const log = el.dataset.log === '1';
    const weight = parseFloat(el.dataset.smooth || '0');
    const points = el.dataset.points || '1000';
    const names = x === 'epoch' && metric !== 'epoch' ? [metric, 'epoch'] : [metric];
    const url = '/api/series?runs=' + encodeURIComponent(runs.join(',')) + '&metrics=' + names.map(encodeURIComponent).join(',') + '&points=' + encodeURIComponent(points);
    const response = await fetch(url, { credentials: 'same-origin' });
    if (!response.ok) {
      el.textContent = 'the series could not be loaded: ' + (await response.text());
      el.dataset.state = 'error';
      return;
    }
    const all = await response.json();
    const tables = [];
    const series = [{ label: x === 'time' ? 'seconds' : x }];
    const bands = [null];
    let downsampled = 0, total = 0;
    runs.forEach((id, i) => {
      const s = all.find(a => a.run_id === id && a.name === metric);
      if (!s || s.points.length === 0) return;
      total += s.count;
      if (s.downsampled) downsampled++;
      const keep = v => (v === null || (log && v <= 0)) ? null : v;
      const t = table(xsOf(s, all, x), smooth(s.points.map(p => keep(p[2])), weight), s.points.map(p => keep(p[3])), s.points.map(p => keep(p[4])));
      tables.push([t[0], t[1]]);
      series.push({ label: shortId(id), stroke: color(i), width: 1.5, spanGaps: true, points: { show: t[0].length < 60 } });
      bands.push({ xs: t[0], min: t[2], max: t[3], color: color(i), show: s.downsampled });
    });
    if (tables.length === 0) {
      el.textContent = 'no points';
      el.dataset.state = 'empty';
      return;
    }
    // Each run keeps its own x values; join aligns them on their union (gaps where a run has no point).
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    const bandsAligned = bands.map((b, si) => {
      if (!b) return null;
      const at = new Map(b.xs.map((v, k) => [v, k]));
      return { color: b.color, show: b.show, xs: data[0], min: data[0].map(v => at.has(v) ? b.min[at.get(v)] : null), max: data[0].map(v => at.has(v) ? b.max[at.get(v)] : null) };
    });
    const xRange = rangeOfOne([data[0]], false);
    const yRange = rangeOfOne(data.slice(1), log);
    const options = {
      width: Math.max(320, el.clientWidth || 640),
      height: 260,
      // Room above the plot for half of the top tick's label.
      padding: [12, null, null, null],
      scales: {
        x: Object.assign({ time: false }, xRange ? { range: xRange } : {}),
        y: Object.assign(log ? { distr: 3 } : {}, yRange ? { range: yRange } : {}),
      },
      series: series,
      axes: [
        { label: x === 'time' ? 'seconds since the first point' : x, values: linearTicks },
        { values: log ? logTicks : linearTicks, size: axisSize },
      ],
      legend: { live: true },
      plugins: [bandsPlugin(bandsAligned)],
    };
    if (el._plot) el._plot.destroy();
    el.textContent = '';
    el._plot = new uPlot(options, data, el);
    const note = document.createElement('p');
    note.className = 'chart-note';
    note.textContent = downsampled > 0
      ? `${total} points, ${downsampled} series downsampled by the store (shaded: min–max of each bucket)`
      : `${total} points, every one drawn`;
    el.appendChild(note);
    el.dataset.state = 'drawn';
    el.dataset.series = String(series.length - 1);
  }

  function drawCharts(root) {
    return Promise.all(Array.from(root.querySelectorAll('.chart[data-metric]')).map(el => drawChart(el).catch(e => {
      el.textContent = 'chart failed: ' + e;
      el.dataset.state = 'error';
    })));
  }

  // A live run: its state every 2 s, the log's tail and the curves; the page reloads once when the run ends.
  function followRun(run) {
    const id = run.dataset.run;
    const field = name => run.querySelector(`[data-live-field="${name}"]`);
    const tick = async () => {
      try {
        const response = await fetch('/api/runs/' + id, { credentials: 'same-origin', cache: 'no-store' });
        if (!response.ok) return;
        const state = await response.json();
        if (state.status !== 'queued' && state.status !== 'running') {
          window.location.reload();
          return;
        }
        const status = field('status');
        if (status) status.innerHTML = '';
        if (status) {
          const badge = document.createElement('span');
          badge.className = 'status status-' + state.status;
          badge.dataset.status = state.status;
          badge.textContent = state.status;
          status.appendChild(badge);
        }
        if (field('status-text')) field('status-text').textContent = state.status;
        if (field('duration')) field('duration').textContent = state.duration;
        const log = await fetch('/runs/' + id + '/log?tail=200', { credentials: 'same-origin', cache: 'no-store' });
        if (log.ok && field('log')) {
          const pre = field('log');
          const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.textContent = await log.text();
          if (field('log-lines')) field('log-lines').textContent = log.headers.get('X-Lamina-Log-Lines') || '';
          if (atEnd) pre.scrollTop = pre.scrollHeight;
        }
        await drawCharts(run);
      } finally {
        window.setTimeout(tick, 2000);
      }
    };
    window.setTimeout(tick, 2000);
  }

  // Parallel coordinates: one vertical axis per differing parameter and one for the metric; one line per run,
  // coloured from blue (low) to red (high) by the metric.
  function drawParallel(el, data) {
    const svgNs = 'http://www.w3.org/2000/svg';
    const axes = data.keys.map(k => ({ name: k, values: data.runs.map(r => r.parameters[k]) }));
    axes.push({ name: data.metric, values: data.runs.map(r => r.value), metric: true });
    const width = Math.max(480, el.clientWidth || 800), height = 320, top = 36, bottom = 24, left = 40, right = 60;
    const step = axes.length > 1 ? (width - left - right) / (axes.length - 1) : 0;
    const scales = axes.map(a => {
      const present = a.values.filter(v => v !== null && v !== undefined);
      const numeric = present.length > 0 && present.every(v => typeof v === 'number' || (v !== '' && !isNaN(Number(v))));
      if (numeric) {
        const nums = present.map(Number);
        const lo = Math.min(...nums), hi = Math.max(...nums);
        return { numeric: true, lo, hi, at: v => v === null || v === undefined ? null : (hi === lo ? 0.5 : (Number(v) - lo) / (hi - lo)) };
      }
      const cats = Array.from(new Set(present.map(String))).sort();
      return { numeric: false, cats, at: v => v === null || v === undefined ? null : (cats.length === 1 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1)) };
    });
    const y = f => top + (1 - f) * (height - top - bottom);
    const svg = document.createElementNS(svgNs, 'svg');
    svg.setAttribute('width', width);
    svg.setAttribute('height', height);
    svg.setAttribute('class', 'parallel-svg');
    const metricScale = scales[scales.length - 1];
    const heat = f => `hsl(${Math.round(240 - 240 * (f === null ? 0 : f))}, 70%, 45%)`;
    data.runs.forEach((r, i) => {
      const pts = [];
      axes.forEach((a, j) => {
        const f = scales[j].at(a.values[i]);
        if (f !== null) pts.push(`${left + j * step},${y(f)}`);
      });
      const line = document.createElementNS(svgNs, 'polyline');
      line.setAttribute('points', pts.join(' '));
      line.setAttribute('fill', 'none');
      line.setAttribute('stroke', heat(metricScale.at(r.value)));
      line.setAttribute('stroke-width', '2');
      line.setAttribute('data-run', r.id);
      const title = document.createElementNS(svgNs, 'title');
      title.textContent = `${r.short_id}: ${data.metric} = ${r.value}`;
      line.appendChild(title);
      svg.appendChild(line);
    });
    axes.forEach((a, j) => {
      const xPos = left + j * step;
      const axis = document.createElementNS(svgNs, 'line');
      axis.setAttribute('x1', xPos); axis.setAttribute('x2', xPos);
      axis.setAttribute('y1', top); axis.setAttribute('y2', height - bottom);
      axis.setAttribute('stroke', '#444');
      svg.appendChild(axis);
      const label = document.createElementNS(svgNs, 'text');
      label.setAttribute('x', xPos); label.setAttribute('y', top - 20);
      label.setAttribute('text-anchor', 'middle');
      label.setAttribute('class', a.metric ? 'axis-label metric' : 'axis-label');
      label.textContent = a.name;
      svg.appendChild(label);
      const s = scales[j];
      const ticks = s.numeric ? [[1, s.hi], [0, s.lo]] : s.cats.map(c => [s.at(c), c]);
      ticks.forEach(([f, text]) => {
        const t = document.createElementNS(svgNs, 'text');
        t.setAttribute('x', xPos + 4); t.setAttribute('y', y(f) + 4);
        t.setAttribute('class', 'tick');
        t.textContent = typeof text === 'number' ? Number(text.toPrecision(4)) : text;
        svg.appendChild(t);
      });
    });
    el.textContent = '';
    el.appendChild(svg);
    el.dataset.state = 'drawn';
  }

  document.addEventListener('DOMContentLoaded', () => {
    document.querySelectorAll('.swatch[data-index]').forEach(s => { s.style.background = color(parseInt(s.dataset.index, 10)); });
    drawCharts(document);
    document.querySelectorAll('.parallel').forEach(el => {
      const script = el.parentElement.querySelector('script.parallel-data');
      if (script) drawParallel(el, JSON.parse(script.textContent));
    });
    const run = document.querySelector('.run[data-live="1"]');
    if (run) followRun(run);
    // "Compare selected" needs 2 to 50 ticked runs.
    document.querySelectorAll('form.table-form').forEach(form => form.addEventListener('submit', e => {
      const n = form.querySelectorAll('input[name="runs"]:checked').length;
      if (n < 2 || n > 50) {
        e.preventDefault();
        window.alert('Tick 2 to 50 runs to compare (' + n + ' ticked).');
      }
    }));
  });
})();
