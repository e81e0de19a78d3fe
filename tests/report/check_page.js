// The checks of tests/report/check_report.sh, run by a headless chromium in
// a copy of a report page: injected at the top of <head>, so it sees every
// error the page raises. When the page has loaded (images included) it
// writes one line a check, "PASS what" or "FAIL what: why", into a pre
// element with the id rnnlua-check, which --dump-dom prints.
// location.hash "#columns=N": the figures must sit N to a row.
(function () {
  'use strict';
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {
      var what = t.getAttribute('src') || t.getAttribute('href');
      errors.push('failed to load <' + t.tagName.toLowerCase() + '> ' + what);
    } else {
      errors.push('script error: ' + e.message);
    }
  }, true);
  window.addEventListener('unhandledrejection', function (e) { errors.push('unhandled rejection: ' + e.reason); });
  var consoleError = console.error;
  console.error = function () {
    errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return consoleError.apply(console, arguments);
  };

  function size(el) {
    var r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  }

  // every figure has an img or svg that shows with a non-zero size, and
  // fits its column; every img anywhere has loaded
  function figureProblems() {
    var bad = [];
    document.querySelectorAll('figure').forEach(function (f, i) {
      var g = f.querySelector('img, svg');
      var name = 'figure ' + (i + 1);
      if (!g) { bad.push(name + ' has no img or svg'); return; }
      if (!size(g)) bad.push(name + ': zero size');
      if (g.getBoundingClientRect().right > f.getBoundingClientRect().right + 1) {
        bad.push(name + ': wider than its column');
      }
    });
    document.querySelectorAll('img').forEach(function (img) {
      if (!(img.complete && img.naturalWidth > 0 && img.naturalHeight > 0)) {
        bad.push('broken image ' + img.getAttribute('src'));
      }
    });
    return bad;
  }

  // the largest number of figures of one .figures grid on its first row
  function columns() {
    var most = 0;
    document.querySelectorAll('.figures').forEach(function (grid) {
      var figs = grid.querySelectorAll('figure');
      if (figs.length === 0) return;
      var top = figs[0].getBoundingClientRect().top, n = 0;
      figs.forEach(function (f) { if (Math.abs(f.getBoundingClientRect().top - top) < 1) n++; });
      most = Math.max(most, n);
    });
    return most;
  }

  function tableRows(id) {
    var t = document.querySelector('table#' + id);
    return t && size(t) ? t.querySelectorAll('tr').length : 0;
  }

  window.addEventListener('load', function () {
    var out = [];
    function check(ok, what, why) { out.push((ok ? 'PASS ' : 'FAIL ') + what + (ok || !why ? '' : ': ' + why)); }
    var figures = document.querySelectorAll('figure').length;
    check(figures > 0, 'the page has figures', 'none');
    var bad = figureProblems();
    check(bad.length === 0, 'every figure renders with a non-zero size', bad.join('; '));
    check(tableRows('summary') >= 2, 'the summary table is there', 'missing or empty');
    check(tableRows('comparisons') >= 2, 'the comparisons table is there', 'missing or empty');
    var want = /columns=(\d+)/.exec(location.hash);
    if (want) {
      var n = columns();
      check(n === Number(want[1]), 'figures ' + want[1] + ' to a row', n + ' to a row');
    }
    check(errors.length === 0, 'no errors in the console', errors.join('; '));
    var pre = document.createElement('pre');
    pre.id = 'rnnlua-check';
    pre.textContent = out.join('\n');
    document.body.appendChild(pre);
  });
})();
