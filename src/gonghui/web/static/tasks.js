// A task's page: asks for the task's figures every few seconds and moves the bar, then shows
// the result or the error, without reloading. Served from /static (the Content-Security-Policy
// allows no inline script); without JavaScript the page reloads itself instead.
(function () {
  var box = document.querySelector("[data-status-url]");
  if (!box) { return; }
  var find = function (name) { return box.querySelector('[data-testid="' + name + '"]'); };
  var refresh = find("task-refresh");
  var every = parseInt(box.getAttribute("data-poll-ms"), 10) || 2000;

  function show(task) {
    var bar = find("task-bar");
    bar.max = task.total > 0 ? task.total : 1;
    bar.value = task.total > 0 ? task.done : 0;
    if (task.status === "succeeded") { bar.value = bar.max; }
    bar.textContent = task.percent + "%";
    box.setAttribute("data-status", task.status);
    find("task-status").textContent = task.status_label;
    find("task-stage").textContent = task.stage || "";
    find("task-percent").textContent = task.percent + "%";
    find("task-count").textContent = task.total > 0 ? task.done + " / " + task.total + " " + task.unit : "";
    if (task.status === "succeeded") {
      find("task-summary").textContent = task.summary;
      var link = find("task-link");
      link.href = task.result_url || "/";
      link.textContent = /\/result$/.test(task.result_url || "") ? "下载结果" : "查看结果";
      find("task-result").hidden = false;
    }
    if (task.status === "failed") {
      var error = find("task-error");
      error.textContent = task.error || "任务失败";
      error.hidden = false;
    }
    if (refresh && (task.status === "succeeded" || task.status === "failed")) { refresh.hidden = true; }
  }

  function poll() {
    fetch(box.getAttribute("data-status-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (task) {
        if (task) { show(task); }
        if (!task || (task.status !== "succeeded" && task.status !== "failed")) { setTimeout(poll, every); }
      })
      .catch(function () { setTimeout(poll, every * 2); });
  }

  var status = box.getAttribute("data-status");
  if (status !== "succeeded" && status !== "failed") { setTimeout(poll, every); }
})();
