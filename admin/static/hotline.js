// The phone ticket form: find the caller as the number or name is typed, pick with the keyboard,
// and show only the picked caller's contract's systems and levels. Without this script the form
// still works: the server finds the caller from what was typed.
(function () {
  const input = document.getElementById("caller");
  const list = document.getElementById("caller-list");
  const personId = document.getElementById("person_id");
  const picked = document.getElementById("caller-picked");
  const form = document.getElementById("phone-form");
  let items = [], active = -1, timer = null, asked = "";

  function showContract(key) {
    ["system_id", "severity"].forEach(function (id) {
      const select = document.getElementById(id);
      select.querySelectorAll("optgroup").forEach(function (group) {
        const other = key && group.dataset.contract !== key;
        group.hidden = other;
        group.disabled = other;
        if (other && select.selectedOptions[0] && select.selectedOptions[0].parentElement === group) select.value = "";
      });
    });
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    active = -1;
  }

  function render() {
    list.innerHTML = "";
    items.forEach(function (c, i) {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = "caller-option-" + i;
      li.textContent = c.label;
      li.className = i === active ? "active" : "";
      li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
      list.appendChild(li);
    });
    list.hidden = items.length === 0;
    input.setAttribute("aria-expanded", items.length ? "true" : "false");
    if (active >= 0) input.setAttribute("aria-activedescendant", "caller-option-" + active);
  }

  function pick(i) {
    const c = items[i];
    personId.value = c.id;
    picked.textContent = "已选定：" + c.label;
    picked.dataset.contract = c.contract;
    showContract(c.contract);
    close();
    document.getElementById("system_id").focus();
  }

  function lookup() {
    const q = input.value.trim();
    if (q === asked) return;
    asked = q;
    if (!q) { items = []; render(); return; }
    fetch("/admin/hotline/callers?q=" + encodeURIComponent(q), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (found) {
        if (q !== input.value.trim()) return;  // typed on meanwhile
        items = found;
        active = found.length ? 0 : -1;
        render();
      });
  }

  input.addEventListener("input", function () {
    personId.value = "";  // typing again un-picks
    picked.textContent = "";
    picked.dataset.contract = "";
    showContract("");
    clearTimeout(timer);
    timer = setTimeout(lookup, 150);
  });
  input.addEventListener("keydown", function (e) {
    if (list.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      render();
    } else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();  // Enter picks the caller, it does not send the form
      pick(active);
    } else if (e.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", function () { setTimeout(close, 100); });
  document.getElementById("description").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  if (picked.dataset.contract) showContract(picked.dataset.contract);
})();
