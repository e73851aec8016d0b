/* Draws the portal's charts (templates/partials/chart.html) with Apache ECharts.
 *
 * Each <div class="chart" data-chart='{"kind", "labels", "series", "unit"}'> is hidden until
 * drawn here; its figures are also in the table that follows it, which is folded once the
 * chart is drawn. Inline scripts and styles are refused by the portal's Content Security
 * Policy: the data comes from the attribute, sizes are set through the DOM, and there is no
 * HTML tooltip (its markup would carry inline styles). */
(function () {
  'use strict';
  // GOV.UK Design System colours: each has a contrast of at least 3:1 on white.
  var PALETTE = ['#1d70b8', '#d4351c', '#00703c', '#f47738', '#4c2c92', '#5694ca', '#912b88'];
  var TEXT = '#0b0c0c';

  function axisOption(spec) {
    var many = spec.series.length > 1;
    var line = spec.kind === 'line';
    return {
      color: PALETTE,
      animation: false,
      textStyle: {color: TEXT},
      grid: {left: 8, right: many && line ? 96 : 24, top: 32, bottom: 8, containLabel: true},
      xAxis: {type: 'category', data: spec.labels, axisLabel: {color: TEXT, hideOverlap: true}},
      yAxis: {type: 'value', name: spec.unit || '', nameTextStyle: {color: TEXT},
              axisLabel: {color: TEXT}, minInterval: 1},
      series: spec.series.map(function (s) {
        var one = {type: spec.kind, name: s.name, data: s.values};
        if (line) {
          one.symbolSize = 6;
          // No legend in this build: a line is named at its end.
          if (many) one.endLabel = {show: true, formatter: '{a}', color: TEXT};
        } else if (spec.labels.length <= 12) {
          one.label = {show: true, position: 'top', color: TEXT};
        }
        return one;
      })
    };
  }

  function pieOption(spec) {
    var values = spec.series[0].values;
    return {
      color: PALETTE,
      animation: false,
      series: [{
        type: 'pie',
        radius: ['35%', '65%'],
        label: {formatter: '{b}: {c} ({d}%)', color: TEXT},
        data: spec.labels.map(function (label, i) { return {name: label, value: values[i]}; })
      }]
    };
  }

  function draw(el) {
    var spec;
    try {
      spec = JSON.parse(el.getAttribute('data-chart'));
    } catch (e) {
      return;  // the table still shows the figures
    }
    if (!spec.labels || !spec.labels.length || !spec.series || !spec.series.length) return;
    el.hidden = false;
    el.style.width = '100%';
    // A canvas drawn at the old width must not widen the page before it is redrawn.
    el.style.overflow = 'hidden';
    el.style.height = (spec.kind === 'pie' ? 260 : 280) + 'px';
    var chart = window.echarts.init(el, null, {renderer: 'canvas'});
    chart.setOption(spec.kind === 'pie' ? pieOption(spec) : axisOption(spec));
    // Redrawn whenever the box changes size (a phone turned, a window narrowed).
    if (window.ResizeObserver) {
      new ResizeObserver(function () { chart.resize(); }).observe(el);
    } else {
      window.addEventListener('resize', function () { chart.resize(); });
    }
    var figure = el.closest('figure');
    var table = figure && figure.querySelector('details[data-chart-table]');
    if (table) table.open = false;
  }

  function start() {
    if (!window.echarts) return;  // the library did not load: the tables stay open
    var charts = document.querySelectorAll('div.chart[data-chart]');
    for (var i = 0; i < charts.length; i++) draw(charts[i]);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
