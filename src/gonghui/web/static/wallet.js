// The wallet's region lists: a search box that narrows the grouped list as one types a city,
// a province or a code (full-width digits too). The options are rebuilt, not hidden: phones'
// own pickers show hidden options. Without this file the grouped list works as it is.
(function () {
  function plain(text) {
    return text.replace(/[\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFEE0);
    }).replace(/\s+/g, "").toLowerCase();
  }

  function narrow(select, groups, count, query) {
    var wanted = plain(query);
    var chosen = select.value;
    var kept = [];
    var matches = 0;
    groups.forEach(function (group) {
      var whole = wanted && plain(group.label).indexOf(wanted) >= 0;
      var options = group.options.filter(function (option) {
        return !wanted || whole || plain(option.text + option.value).indexOf(wanted) >= 0;
      });
      if (options.length) { kept.push({ label: group.label, options: options }); }
      matches += options.length;
    });
    if (!matches) { kept = groups; }
    select.textContent = "";
    kept.forEach(function (group) {
      var optgroup = document.createElement("optgroup");
      optgroup.label = group.label;
      group.options.forEach(function (option) { optgroup.appendChild(option); });
      select.appendChild(optgroup);
    });
    var still = Array.prototype.some.call(select.options, function (o) { return o.value === chosen; });
    select.value = still ? chosen : select.options[0].value;
    if (!wanted) { count.textContent = ""; }
    else if (!matches) { count.textContent = "没有找到“" + query.trim() + "”，请换个城市或省份名"; }
    else { count.textContent = "找到 " + matches + " 个统筹区，已列在下方"; }
  }

  document.querySelectorAll("[data-region-pick]").forEach(function (pick) {
    var select = pick.querySelector("select");
    var box = pick.querySelector("[data-region-filter]");
    var count = pick.querySelector("[data-region-count]");
    var groups = Array.prototype.map.call(select.querySelectorAll("optgroup"), function (group) {
      return { label: group.label, options: Array.prototype.slice.call(group.querySelectorAll("option")) };
    });
    box.parentElement.hidden = false;
    box.addEventListener("input", function () { narrow(select, groups, count, box.value); });
    // Enter in the box picks the first match instead of sending the form half filled.
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); select.focus(); }
    });
  });
})();
