// The sandbox page's slash commands: typing "/" opens a menu of the channel's registered commands, then of the
// chosen command's options (fixed choices, or the bot's own autocomplete as the option is typed); Enter
// invokes the command as the author (`/tz info personality:lilith`). The bot's answer shows where it belongs:
// an ephemeral one for the author alone, a modal the bot opens as a form over the page.
// Reads:  GET /_sandbox/commands?channel_id=, GET /_sandbox/interactions/{id}
// Writes: POST /_sandbox/interactions (a command, an autocomplete, a modal's submit)
"use strict";

(() => {
  const page = window.tzPage;
  if (!page) return;
  const { state, getJson, loadMessages, showError, el } = page;
  const input = document.getElementById("input");
  const menu = el("div", { id: "slash-menu", role: "listbox", "aria-label": "Slash commands" });
  menu.hidden = true;
  document.getElementById("composer-area").prepend(menu);
  const SETTLE_MS = 30_000;
  let commands = [];
  let commandsOf = null;   // the channel `commands` were listed for
  let items = [];          // what the menu offers: {label, about, pick}
  let active = 0;
  let asked = 0;           // the latest autocomplete; older answers are dropped

  const post = (body) => getJson("/_sandbox/interactions", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });

  async function load() {
    if (commandsOf === state.current) return;
    commands = await getJson(`/_sandbox/commands?channel_id=${state.current}`);
    commandsOf = state.current;
  }

  // "/tz config personality:lilith key:model value:gpt 4" -> the command, its options, and the one being typed.
  function parse(text) {
    const body = text.slice(1);
    let entry = null;
    for (const c of commands) {
      if ((body === c.command || body.startsWith(c.command + " ")) && (!entry || c.command.length > entry.command.length)) entry = c;
    }
    if (!entry) return { entry: null };
    const rest = body.slice(entry.command.length);
    const names = entry.options.map((o) => o.name).join("|");
    const marks = names ? [...rest.matchAll(new RegExp(`(?:^|\\s)(${names}):`, "g"))] : [];
    const options = {};
    let last = null;
    marks.forEach((m, i) => {
      const start = m.index + m[0].length;
      const end = i + 1 < marks.length ? marks[i + 1].index : rest.length;
      const value = rest.slice(start, end).trim();
      options[m[1]] = value;
      last = { name: m[1], value, open: end === rest.length && !/\s$/.test(rest) };
    });
    return { entry, options, last, rest };
  }

  function show(list) {
    items = list;
    active = 0;
    menu.replaceChildren(...list.map((item, i) => el("div", {
      class: "item" + (i === active ? " active" : ""), role: "option", dataset: { value: item.label },
      onmousedown: (e) => { e.preventDefault(); item.pick(); },
    }, el("span", { class: "what", text: item.label }), el("span", { class: "about", text: item.about || "" }))));
    menu.hidden = list.length === 0;
  }

  function fill(text) {
    input.value = text;
    input.focus();
    refresh();
  }

  function replaceLast(p, value) {
    const text = input.value;
    return text.slice(0, text.length - p.last.value.length) + value + " ";
  }

  async function refresh() {
    const text = input.value;
    if (!text.startsWith("/") || !state.current) { show([]); return; }
    try { await load(); } catch (err) { showError(`no commands: ${err.message}`); return; }
    const p = parse(text);
    if (!p.entry) {
      const typed = text.trim();
      show(commands.filter((c) => ("/" + c.command).startsWith(typed) || typed === "/")
        .slice(0, 25).map((c) => ({ label: "/" + c.command, about: c.description, pick: () => fill(`/${c.command} `) })));
      return;
    }
    const option = p.last && p.last.open ? p.entry.options.find((o) => o.name === p.last.name) : null;
    if (option && option.choices) {
      show(option.choices.filter((c) => String(c.name).startsWith(p.last.value))
        .map((c) => ({ label: c.name, about: option.name, pick: () => fill(replaceLast(p, String(c.value))) })));
      return;
    }
    if (option && option.autocomplete) {
      const mine = ++asked;
      let view;
      try {
        view = await post({ channel_id: state.current, user_id: state.author, command: p.entry.command,
          options: { ...p.options, [option.name]: p.last.value }, focused: option.name });
      } catch { return; }
      if (mine !== asked) return;
      show((view.choices || []).map((c) => ({ label: c.name, about: option.name, pick: () => fill(replaceLast(p, c.value)) })));
      return;
    }
    const left = p.entry.options.filter((o) => !(o.name in p.options));
    show(left.map((o) => ({
      label: `${o.name}:`, about: `${o.required ? "required" : "optional"} · ${o.description || ""}`,
      pick: () => fill(input.value + (/\s$/.test(input.value) ? "" : " ") + `${o.name}:`),
    })));
  }

  async function send(text) {
    await load().catch(() => {});
    const p = parse(text.trim());
    if (!p.entry) { showError(`no command ${text.trim().split(/\s/)[0]} here`); return; }
    let view;
    try {
      view = await post({ channel_id: state.current, user_id: state.author, command: p.entry.command, options: p.options });
    } catch (err) {
      showError(`not sent: ${err.message}`);
      return;
    }
    input.value = "";
    show([]);
    showError("");
    if (view.response === 9 && view.modal) openModal(view);
    else await settle(view.id);
  }

  async function settle(id) {
    // The bot deferred the answer (or answered at once): wait until it is there, then show the channel as the
    // author sees it (an ephemeral answer comes through no event: it is theirs alone).
    const until = Date.now() + SETTLE_MS;
    for (;;) {
      const view = await getJson(`/_sandbox/interactions/${id}`).catch(() => null);
      if (!view || (view.original && !view.original.loading) || view.expired || Date.now() > until) break;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await loadMessages(state.current);
  }

  function openModal(view) {
    const inputs = [];
    const rows = (view.modal.components || []).flatMap((row) => row.components || []);
    const form = el("form", { id: "modal" }, el("h2", { text: view.modal.title || "" }),
      rows.map((field) => {
        const box = el("input", { name: field.custom_id, "aria-label": field.label || field.custom_id,
          placeholder: field.placeholder || "", autocomplete: "off", type: "password" });
        inputs.push(box);
        return el("label", {}, el("div", { text: field.label || field.custom_id }), box);
      }),
      el("button", { type: "submit", id: "modal-submit", text: "Submit" }));
    const backdrop = el("div", { id: "modal-backdrop" }, form);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const values = Object.fromEntries(inputs.map((box) => [box.name, box.value]));
      backdrop.remove();
      try {
        const submitted = await post({ modal_of: view.id, values });
        await settle(submitted.id);
      } catch (err) {
        showError(`not sent: ${err.message}`);
      }
    });
    backdrop.addEventListener("mousedown", (e) => { if (e.target === backdrop) backdrop.remove(); });
    document.body.append(backdrop);
    if (inputs[0]) inputs[0].focus();
  }

  input.addEventListener("input", refresh);
  input.addEventListener("keydown", (e) => {
    if (menu.hidden || !items.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      [...menu.children].forEach((node, i) => node.classList.toggle("active", i === active));
    } else if (e.key === "Tab") {
      e.preventDefault();
      items[active].pick();
    } else if (e.key === "Escape") {
      show([]);
    }
  }, true);
  window.tzSlash = { send, refresh };
})();
