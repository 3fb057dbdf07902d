// albench report: sortable tables and strategy toggles on the curves. The page reads the same without it.
"use strict";
document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.querySelectorAll("thead th");
  headers.forEach(function (th, column) {
    th.tabIndex = 0;
    th.title = "Sort by " + th.textContent;
    function sort() {
      var numeric = th.dataset.type === "number";
      var descending = th.getAttribute("aria-sort") ? th.getAttribute("aria-sort") === "ascending" : numeric;
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      function key(row) {
        var cell = row.cells[column];
        if (!numeric) return cell.textContent;
        return cell.dataset.value ? parseFloat(cell.dataset.value) : null;
      }
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) return (x === null) - (y === null); // no value: always last
        var order = numeric ? x - y : x.localeCompare(y);
        return descending ? -order : order;
      });
      var sorted = document.createDocumentFragment();
      rows.forEach(function (row) { sorted.appendChild(row); });
      body.appendChild(sorted); // one change to the page, not one per row
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (event) { if (event.key === "Enter") sort(); });
  });
});
document.querySelectorAll("fieldset.toggles").forEach(function (box) {
  box.hidden = false;
  var figure = document.getElementById(box.dataset.figure);
  box.addEventListener("change", function (event) {
    var input = event.target;
    var prefix = box.dataset.figure + "-strategy-" + input.value + "-";
    figure.querySelectorAll('[id^="' + prefix + '"]').forEach(function (element) {
      if (element.id.indexOf("-legend-") >= 0) element.style.opacity = input.checked ? "" : "0.25";
      else element.style.display = input.checked ? "" : "none";
    });
  });
});
