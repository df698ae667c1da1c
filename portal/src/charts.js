// Charts: thin wrappers around uPlot for time series and bar charts. Each
// chart marks its container with data-drawn="true" once it has drawn data,
// so that tests (and people) can tell an empty chart from a drawn one.

import uPlot from 'uplot';
import {h} from './lib.js';

const COLORS = ['#2563eb', '#16a34a', '#dc2626', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

function sizeOf(el, height) {
  return {width: Math.max(240, Math.floor(el.clientWidth || 600)), height};
}

// fmtTick shows an axis value with up to three significant digits.
function fmtTick(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 ? Math.round(v).toLocaleString() : (+v.toPrecision(3)).toString();
}

// chartBox returns a titled container for a chart.
export function chartBox(title, testid) {
  const body = h('div', {class: 'chart-body'});
  const box = h('figure', {class: 'chart', 'data-testid': testid || null, 'data-drawn': 'false'},
    h('figcaption', {}, title), body);
  box.body = body;
  return box;
}

function markDrawn(box) {
  return (u) => {
    const n = u.data[0]?.length || 0;
    box.setAttribute('data-drawn', n > 0 ? 'true' : 'false');
  };
}

function resizeWith(box, u, height) {
  const ro = new ResizeObserver(() => u.setSize(sizeOf(box.body, height)));
  ro.observe(box.body);
  return ro;
}

// timeChart draws series over time (x in unix seconds). opts.series is a
// list of {label, unit?}. Returns {setData(xs, ...ys), push(t, ...vals),
// destroy()}; push keeps at most opts.keep points.
export function timeChart(box, {series, height = 220, keep = 300, yLabel = '', bars = false}) {
  const data = [[], ...series.map(() => [])];
  const u = new uPlot({
    ...sizeOf(box.body, height),
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        fill: bars ? COLORS[i % COLORS.length] + '99' : undefined,
        width: 2,
        paths: bars ? uPlot.paths.bars({size: [0.6, 60]}) : undefined,
        points: {show: false},
        value: (_, v) => (v === null || v === undefined ? '—' : (+v.toFixed(2)).toString() + (s.unit ? ' ' + s.unit : '')),
      })),
    ],
    axes: [{}, {label: yLabel, size: 60, values: (_, ticks) => ticks.map(fmtTick)}],
    scales: {x: {time: true}},
    hooks: {draw: [markDrawn(box)]},
  }, data, box.body);
  const ro = resizeWith(box, u, height);
  return {
    setData(xs, ...ys) {
      data[0] = xs;
      ys.forEach((y, i) => { data[i + 1] = y; });
      u.setData(data);
    },
    push(t, ...vals) {
      data[0].push(t);
      vals.forEach((v, i) => data[i + 1].push(v));
      if (data[0].length > keep) data.forEach((a) => a.shift());
      u.setData(data);
    },
    destroy() { ro.disconnect(); u.destroy(); },
  };
}

// barChart draws a series over categories (labels on the x axis), e.g.
// one bar per day or per station. setData(labels, ...ys).
export function barChart(box, {series, height = 240, yLabel = ''}) {
  let labels = [];
  const data = [[], ...series.map(() => [])];
  const u = new uPlot({
    ...sizeOf(box.body, height),
    series: [
      {label: 'x', value: (_, i) => (i === null ? '—' : labels[i] ?? '')},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        fill: COLORS[i % COLORS.length] + 'bb',
        width: 1,
        paths: uPlot.paths.bars({size: [0.7, 80]}),
        points: {show: false},
        value: (_, v) => (v === null || v === undefined ? '—' : (+v.toFixed(2)).toString() + (s.unit ? ' ' + s.unit : '')),
      })),
    ],
    scales: {x: {time: false, range: (_, min, max) => [min - 0.5, max + 0.5]}, y: {range: (_, min, max) => [0, max > 0 ? max * 1.1 : 1]}},
    axes: [
      {splits: () => data[0], values: (_, ticks) => ticks.map((t) => labels[t] ?? ''), gap: 6},
      {label: yLabel, size: 60, values: (_, ticks) => ticks.map(fmtTick)},
    ],
    hooks: {draw: [markDrawn(box)]},
  }, data, box.body);
  const ro = resizeWith(box, u, height);
  return {
    setData(ls, ...ys) {
      labels = ls;
      data[0] = ls.map((_, i) => i);
      ys.forEach((y, i) => { data[i + 1] = y; });
      u.setData(data);
    },
    destroy() { ro.disconnect(); u.destroy(); },
  };
}
