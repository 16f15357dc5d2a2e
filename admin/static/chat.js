// The web chat: pick a person, send lines, poll for new ones.
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { person: null, after: 0, timer: null };

  function clientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  async function api(path, options) {
    const resp = await fetch(path, options);
    if (!resp.ok) {
      let detail = resp.statusText;
      try { detail = (await resp.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    return resp.json();
  }

  function addLine(line) {
    const li = document.createElement("li");
    li.className = line.direction + (line.group ? " group" : "");
    const at = new Date(line.at);
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = (line.group ? "工程师群 · " : "") + at.toLocaleTimeString("zh-CN", { hour12: false });
    const body = document.createElement("div");
    body.className = "body";
    body.textContent = line.text;
    li.append(meta, body);
    $("lines").append(li);
    li.scrollIntoView({ block: "end" });
  }

  async function poll() {
    if (!state.person) return;
    const person = state.person;
    try {
      const lines = await api(`/chat/api/lines?person_id=${person}&after=${state.after}`);
      if (person !== state.person) return;
      lines.forEach((l) => { addLine(l); state.after = Math.max(state.after, l.id); });
      $("error").textContent = "";
    } catch (e) {
      $("error").textContent = "连接服务台失败，正在重试…";
    }
  }

  async function loadPeople() {
    const people = await api("/chat/api/people");
    const groups = {};
    people.forEach((p) => { (groups[p.hospital] = groups[p.hospital] || []).push(p); });
    Object.keys(groups).forEach((h) => {
      const og = document.createElement("optgroup");
      og.label = h;
      groups[h].forEach((p) => {
        const o = document.createElement("option");
        o.value = p.id;
        o.textContent = `${p.name}（${p.department} · ${p.role_text}）`;
        o.dataset.engineer = p.is_engineer ? "1" : "";
        og.append(o);
      });
      $("person").append(og);
    });
  }

  function choose() {
    const sel = $("person");
    state.person = sel.value ? parseInt(sel.value, 10) : null;
    state.after = 0;
    $("lines").innerHTML = "";
    const on = !!state.person;
    $("text").disabled = !on;
    document.querySelector("#compose button").disabled = !on;
    const opt = sel.selectedOptions[0];
    $("who").textContent = on ? (opt.dataset.engineer ? "您以工程师身份登录，也能看到工程师群的通知。" : "您以报障人身份登录。") : "";
    if (state.timer) clearInterval(state.timer);
    if (on) { poll(); state.timer = setInterval(poll, 1500); $("text").focus(); }
  }

  // The box is cleared at once (so typing on is safe and a second Enter sends
  // nothing twice); on failure the text comes back, and a retry reuses its id.
  async function send(ev) {
    ev.preventDefault();
    const text = $("text").value.trim();
    if (!text || !state.person) return;
    const id = clientId();
    $("text").value = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const body = JSON.stringify({ person_id: state.person, text, client_id: id });
        await api("/chat/api/messages", { method: "POST", headers: { "Content-Type": "application/json" }, body });
        $("error").textContent = "";
        poll();
        return;
      } catch (e) {
        $("error").textContent = "发送失败：" + e.message;
      }
    }
    $("text").value = text + ($("text").value ? "\n" + $("text").value : "");
  }

  $("person").addEventListener("change", choose);
  $("compose").addEventListener("submit", send);
  $("text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $("compose").requestSubmit(); }
  });
  loadPeople().catch(() => { $("error").textContent = "无法加载人员列表"; });
})();
