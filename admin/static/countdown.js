// Live "time left" for response deadlines. The server renders seconds left at
// render time; we count down from the page load so a wrong PC clock does not matter.
(function () {
  const loaded = Date.now();
  function fmt(s) {
    const sign = s < 0 ? "已超时 " : "";
    s = Math.abs(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return sign + (h ? h + "时" : "") + String(m).padStart(h ? 2 : 1, "0") + "分" + String(sec).padStart(2, "0") + "秒";
  }
  function tick() {
    const passed = Math.floor((Date.now() - loaded) / 1000);
    document.querySelectorAll(".left[data-left]").forEach(function (el) {
      const left = parseInt(el.dataset.left, 10) - passed;
      el.textContent = fmt(left);
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 900);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
