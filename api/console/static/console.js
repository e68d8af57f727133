// The SLA countdowns tick every second from the deadline the server gave (the server's page, and
// the board's refresh every 10 s, stay the truth); nothing else on the console needs a script
// beyond htmx.
(function () {
  function words(seconds) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    if (days) return days + " 天 " + hours + " 小时";
    if (hours) return hours + " 小时 " + mins + " 分";
    return mins + " 分";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-deadline")) - now) / 1000;
      el.textContent = (left >= 0 ? "剩 " : "超时 ") + words(left);
      el.classList.toggle("overdue", left < 0);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
