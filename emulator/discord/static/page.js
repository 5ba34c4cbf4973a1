// The sandbox page: a Discord-like view of the emulator's world, and the bot's live actor tree.
// Reads:  GET /_page/config, GET /_sandbox/state, GET /_sandbox/channels/{id}/messages?as={author}
// Writes: POST /_sandbox/messages (a "/" command: slash.js, POST /_sandbox/interactions)
// Live:   GET /_page/events (server-sent events: message_create/update/delete, typing_start, channels)
// Tree:   GET {bot_http}/status every second, POST {bot_http}/actors/kill {"pid"}
"use strict";

(() => {
  const TYPING_MS = 10_000;       // Discord shows a typing indicator for 10 s unless refreshed
  const GROUP_MS = 7 * 60_000;    // consecutive messages of one author within this are grouped
  const SHOWN_MESSAGES = 300;     // render at most this many of a channel's latest messages
  const TREE_PERIOD_MS = 1_000;
  const TREE_TIMEOUT_MS = 2_000;
  const AVATAR_COLOURS = ["#5865f2", "#757e8a", "#3ba55c", "#faa61a", "#ed4245", "#eb459f"];

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  };

  const state = {
    config: { bot_http: null },
    world: null,              // GET /_sandbox/state
    botId: null,
    users: new Map(),         // id -> {id, username, bot}
    humans: [],               // the people one can type as
    channels: new Map(),      // id -> {id, name, kind: "text"|"thread"|"dm", nsfw, parent_id, user_id}
    current: null,            // selected channel id
    messages: new Map(),      // channel id -> [summary] (only channels that were loaded)
    loading: new Map(),       // channel id -> events that arrived while its messages were being fetched
    unread: new Set(),
    author: null,             // user id one types as
    replyTo: null,            // message summary being replied to
    typing: new Map(),        // channel id -> Map(user id -> {name, until})
    live: false,
  };

  // --- helpers ------------------------------------------------------------------------------------

  function hashOf(text) {
    let h = 0;
    for (const ch of text) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return h;
  }

  function avatar(name, url, seed) {
    const initial = (name || "?").trim().charAt(0).toUpperCase() || "?";
    const node = el("span", { class: "avatar", "aria-hidden": "true" });
    node.style.background = AVATAR_COLOURS[hashOf(seed || name || "") % AVATAR_COLOURS.length];
    const fallback = () => { node.replaceChildren(initial); };
    if (url && /^https?:\/\//i.test(url)) {
      const img = el("img", { src: url, alt: "", loading: "lazy", referrerpolicy: "no-referrer" });
      img.addEventListener("error", fallback, { once: true });
      node.append(img);
    } else {
      fallback();
    }
    return node;
  }

  const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  function nameOfUser(id) {
    const user = state.users.get(String(id));
    return user ? user.username : id;
  }

  function nameOfChannel(id) {
    const ch = state.channels.get(String(id));
    return ch ? (ch.kind === "dm" ? `${nameOfUser(ch.user_id)}'s DM` : ch.name) : id;
  }

  // Markdown-ish, as Discord renders the common cases: ```blocks```, `code`, **bold**, *italic*, __underline__,
  // ~~strike~~, <@user> and <#channel> mentions, links. Text is escaped first; only these tags are produced.
  function inline(text) {
    let html = escapeHtml(text);
    html = html.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, "<strong>$1</strong>");
    html = html.replace(/__(?=\S)([\s\S]*?\S)__/g, "<u>$1</u>");
    html = html.replace(/~~(?=\S)([\s\S]*?\S)~~/g, "<s>$1</s>");
    html = html.replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])/g, "$1<em>$2</em>");
    html = html.replace(/&lt;@!?(\d+)&gt;/g, (_, id) => `<span class="mention">@${escapeHtml(String(nameOfUser(id)))}</span>`);
    html = html.replace(/&lt;#(\d+)&gt;/g, (_, id) => `<span class="mention">#${escapeHtml(String(nameOfChannel(id)))}</span>`);
    html = html.replace(/\bhttps?:\/\/[^\s<]+[^\s<.,:;"')\]]/g, (url) => `<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`);
    return html;
  }

  function formatContent(text) {
    const pattern = /```(?:[\w+-]*\n)?([\s\S]*?)```|`([^`\n]+)`/g;
    let html = "";
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      const block = match[1] !== undefined;
      const before = text.slice(last, match.index);
      html += inline(block ? before.replace(/\n$/, "") : before);  // a block is on its own lines already
      html += block
        ? `<pre><code>${escapeHtml(match[1].replace(/\n$/, ""))}</code></pre>`
        : `<code>${escapeHtml(match[2])}</code>`;
      last = match.index + match[0].length;
      if (block && text[last] === "\n") last += 1;
    }
    return html + inline(text.slice(last));
  }

  function plainSnippet(text) {
    return text.replace(/```[\s\S]*?```/g, "[code]").replace(/[*_~`]/g, "")
      .replace(/<@!?(\d+)>/g, (_, id) => "@" + nameOfUser(id)).replace(/\s+/g, " ").trim().slice(0, 140);
  }

  function timeLabel(iso, short) {
    if (!iso) return "";
    const date = new Date(iso);
    const hm = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (short) return hm;
    const today = new Date();
    const yesterday = new Date(today.getTime() - 86_400_000);
    if (date.toDateString() === today.toDateString()) return `Today at ${hm}`;
    if (date.toDateString() === yesterday.toDateString()) return `Yesterday at ${hm}`;
    return `${date.toLocaleDateString()} ${hm}`;
  }

  // Who a message shows as: a webhook message carries the webhook's (overridden) username and avatar.
  function authorOf(m) {
    const webhook = m.webhook_id !== null && m.webhook_id !== undefined;
    const name = m.author.username;
    return {
      name,
      tag: webhook ? "APP" : (m.author.bot ? "BOT" : null),
      avatarUrl: webhook ? m.avatar_url : null,
      seed: webhook ? "webhook:" + name : name,
      key: webhook ? "webhook:" + name : String(m.author.id),
    };
  }

  async function getJson(url, options) {
    const response = await fetch(url, { cache: "no-store", ...options });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
    return body;
  }

  // --- world and channels ---------------------------------------------------------------------------

  async function loadWorld() {
    const world = await getJson("/_sandbox/state");
    state.world = world;
    state.users = new Map(world.users.map((u) => [u.id, u]));
    const bot = world.users.find((u) => u.bot);  // the bot user is the world's first
    state.botId = bot ? bot.id : null;
    const dmUsers = new Set(world.dm_channels.map((d) => d.user_id));
    const withDm = world.users.filter((u) => !u.bot && dmUsers.has(u.id));
    state.humans = withDm.length ? withDm : world.users.filter((u) => !u.bot);
    state.channels = new Map();
    for (const guild of world.guilds) {
      for (const c of guild.channels) {
        const kind = c.parent_id ? "thread" : "text";
        state.channels.set(c.id, { ...c, kind, guild: guild.name });
      }
    }
    for (const d of world.dm_channels) state.channels.set(d.id, { id: d.id, kind: "dm", user_id: d.user_id });
    if (world.guilds[0]) $("guild-name").textContent = world.guilds[0].name;
    renderChannelList();
    renderSwitcher();
  }

  function renderChannelList() {
    const list = $("channel-list");
    const items = [];
    for (const guild of state.world.guilds) {
      items.push(el("div", { class: "cat", text: guild.name }));  // one heading per guild
      const top = guild.channels.filter((c) => !c.parent_id);
      for (const c of top) {
        items.push(channelButton(state.channels.get(c.id)));
        for (const t of guild.channels.filter((x) => x.parent_id === c.id)) items.push(channelButton(state.channels.get(t.id)));
      }
    }
    if (state.world.dm_channels.length) items.push(el("div", { class: "cat", text: "Direct messages" }));
    for (const d of state.world.dm_channels) items.push(channelButton(state.channels.get(d.id)));
    list.replaceChildren(...items);
  }

  function channelButton(ch) {
    const classes = ["chan", ch.kind === "thread" ? "thread" : "", ch.id === state.current ? "selected" : "", state.unread.has(ch.id) ? "unread" : ""];
    const props = { class: classes.filter(Boolean).join(" "), type: "button", dataset: { channelId: ch.id, channel: ch.kind === "dm" ? "dm:" + nameOfUser(ch.user_id) : ch.name }, onclick: () => selectChannel(ch.id) };
    if (ch.kind === "dm") {
      const user = nameOfUser(ch.user_id);
      return el("button", { ...props, title: `${user}'s DM with ${nameOfUser(state.botId)}` },
        avatar(user, null, user), el("span", { class: "chan-name", text: user }),
        el("span", { class: "dm-with", text: "↔ " + nameOfUser(state.botId) }));
    }
    return el("button", props,
      el("span", { class: "chan-icon", text: ch.kind === "thread" ? "↳" : "#" }),
      el("span", { class: "chan-name", text: ch.name }),
      ch.nsfw ? el("span", { class: "nsfw-badge", title: "Age-restricted", text: "18+" }) : null);
  }

  function renderSwitcher() {
    const ch = state.channels.get(state.current);
    const locked = ch && ch.kind === "dm" ? ch.user_id : null;
    if (locked) state.author = locked;
    if (!state.author || !state.humans.some((u) => u.id === state.author)) {
      const saved = sessionStorage.getItem("author");
      state.author = (state.humans.find((u) => u.id === saved) || state.humans[0] || {}).id || null;
    }
    $("author-switcher").replaceChildren(...state.humans.map((u) => el("button", {
      class: "who", type: "button", role: "radio", "aria-checked": String(u.id === state.author),
      dataset: { user: u.username }, disabled: locked && locked !== u.id,
      title: locked && locked !== u.id ? `only ${nameOfUser(locked)} can write in this DM` : `type as ${u.username}`,
      onclick: () => {
        const changed = state.author !== u.id;
        state.author = u.id;
        sessionStorage.setItem("author", u.id);
        renderSwitcher();
        if (changed && state.current) loadMessages(state.current);  // another person sees other ephemeral answers
        $("input").focus();
      },
    }, avatar(u.username, null, u.username), el("span", { class: "chan-name", text: u.username }))));
  }

  async function selectChannel(id) {
    id = String(id);
    if (!state.channels.has(id)) return;
    state.current = id;
    state.unread.delete(id);
    cancelReply();
    if (location.hash !== "#" + id) history.replaceState(null, "", "#" + id);
    const ch = state.channels.get(id);
    $("chat-icon").textContent = ch.kind === "dm" ? "@" : ch.kind === "thread" ? "↳" : "#";
    $("chat-title").textContent = ch.kind === "dm" ? `${nameOfUser(state.botId)} · ${nameOfUser(ch.user_id)}'s DM` : ch.name;
    $("chat-topic").textContent = ch.kind === "dm" ? "" : (ch.nsfw ? "Age-restricted channel" : ch.kind === "thread" ? `Thread in #${nameOfChannel(ch.parent_id)}` : "");
    $("input").placeholder = ch.kind === "dm" ? `Message @${nameOfUser(state.botId)}` : `Message #${ch.name}`;
    renderChannelList();
    renderSwitcher();
    renderTyping();
    $("messages").replaceChildren();
    await loadMessages(id);
  }

  async function loadMessages(id) {
    // Events that arrive while the list is being fetched are kept and applied on top of it, so nothing
    // posted meanwhile is lost (applying one twice is harmless: messages are keyed by id).
    const held = [];
    state.loading.set(id, held);
    let list;
    try {
      // As the author sees it: their ephemeral answers (slash commands) are theirs alone.
      list = await getJson(`/_sandbox/channels/${id}/messages${state.author ? `?as=${state.author}` : ""}`);
    } catch (err) {
      showError(`could not load messages: ${err.message}`);
      return;
    } finally {
      if (state.loading.get(id) === held) state.loading.delete(id);
    }
    state.messages.set(id, list);
    for (const apply of held) apply();
    if (id === state.current) renderMessages(true);
  }

  function whenLoaded(channelId, apply) {
    const held = state.loading.get(channelId);
    if (held) held.push(apply);
    else apply();
  }

  // --- messages ------------------------------------------------------------------------------------

  function personalitySpoke(list) {
    // A personality speaks through a webhook in servers, and as the bot ("**Name:** text") in DMs.
    return list.some((m) => m.webhook_id || (m.author.bot && /^\*\*[^*\n]+:\*\* /.test(m.content)));
  }

  function welcome(ch, list) {
    const dm = ch.kind === "dm";
    const title = dm ? nameOfUser(state.botId) : (ch.kind === "thread" ? ch.name : `Welcome to #${ch.name}!`);
    const text = dm ? `This is the beginning of ${nameOfUser(ch.user_id)}'s direct message history with ${nameOfUser(state.botId)}.`
      : `This is the start of ${ch.kind === "thread" ? "the thread" : "#" + ch.name}.`;
    const nodes = [el("div", { class: "big-icon", text: dm ? "@" : "#" }), el("h2", { text: title }), el("p", { text })];
    if (!list.length || !personalitySpoke(list)) {
      const hint = el("div", { class: "hint", id: "first-run-hint" });
      hint.innerHTML = "Create a personality: <code>!tz add lilith</code>, then say <code>@lilith hello</code>.";
      hint.querySelectorAll("code").forEach((code) => code.addEventListener("click", () => {
        $("input").value = code.textContent;
        $("input").focus();
      }));
      nodes.push(hint);
    }
    return el("div", { class: "welcome" }, nodes);
  }

  function renderMessages(forceBottom) {
    const box = $("messages");
    const id = state.current;
    const ch = state.channels.get(id);
    if (!state.messages.has(id)) return;  // still loading: loadMessages renders it
    const all = state.messages.get(id);
    const atBottom = forceBottom || box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const shown = all.slice(-SHOWN_MESSAGES);
    const byId = new Map(all.map((m) => [m.id, m]));
    const nodes = [welcome(ch, all)];
    let prev = null;
    for (const m of shown) {
      nodes.push(messageNode(m, prev, byId));
      prev = m;
    }
    box.replaceChildren(...nodes);
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function messageNode(m, prev, byId) {
    const who = authorOf(m);
    const replied = m.reply_to ? byId.get(m.reply_to) : null;
    const grouped = prev && !m.reply_to && authorOf(prev).key === who.key && authorOf(prev).name === who.name
      && new Date(m.timestamp) - new Date(prev.timestamp) < GROUP_MS;
    const me = state.author;
    const mentioned = me && (m.mentions || []).includes(me);
    const classes = ["msg", grouped ? "cont" : "", m.reply_to ? "has-reply" : "", mentioned ? "mentioned" : "",
      m.ephemeral ? "ephemeral" : "",
      state.replyTo && state.replyTo.id === m.id ? "replying" : ""];
    const content = el("div", { class: "content" });
    content.innerHTML = formatContent(m.content || "");
    if (m.edited) content.append(el("span", { class: "edited", text: "(edited)" }));
    const attachments = (m.attachments || []).map((a) => el("div", { class: "attachment" },
      el("a", { href: a.url, target: "_blank", rel: "noopener", text: `📎 ${a.filename}` })));
    const node = el("div", {
      class: classes.filter(Boolean).join(" "), id: "msg-" + m.id,
      dataset: { id: m.id, author: who.name, webhook: m.webhook_id ? "1" : "0" },
    });
    if (m.reply_to) node.append(replyContext(m.reply_to, replied));
    if (grouped) {
      node.append(el("span", { class: "side-time", text: timeLabel(m.timestamp, true) }));
    } else {
      node.append(avatar(who.name, who.avatarUrl, who.seed),
        el("div", { class: "head" },
          el("span", { class: "name", text: who.name }),
          who.tag ? el("span", { class: "tag", text: who.tag }) : null,
          el("time", { datetime: m.timestamp, title: m.timestamp ? new Date(m.timestamp).toLocaleString() : "", text: timeLabel(m.timestamp) })));
    }
    if (m.ephemeral) node.append(el("div", { class: "only-you", text: "Only you can see this" }));
    node.append(content, ...attachments,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "reply-btn", title: "Reply", onclick: () => startReply(m) }, "↩ Reply")));
    return node;
  }

  function replyContext(replyId, replied) {
    if (!replied) return el("div", { class: "reply-ctx missing" }, "Original message was deleted");
    const who = authorOf(replied);
    return el("div", { class: "reply-ctx", dataset: { replyTo: replyId } },
      avatar(who.name, who.avatarUrl, who.seed),
      el("span", { class: "reply-author", text: who.name }),
      el("span", { class: "reply-snippet", text: plainSnippet(replied.content || "") || "Click to see attachment",
        onclick: () => jumpTo(replyId) }));
  }

  function jumpTo(id) {
    const node = $("msg-" + id);
    if (!node) return;
    node.scrollIntoView({ block: "center", behavior: "smooth" });
    node.classList.remove("flash");
    void node.offsetWidth;
    node.classList.add("flash");
  }

  function startReply(m) {
    state.replyTo = m;
    $("reply-name").textContent = authorOf(m).name;
    $("reply-bar").hidden = false;
    document.querySelectorAll(".msg.replying").forEach((n) => n.classList.remove("replying"));
    const node = $("msg-" + m.id);
    if (node) node.classList.add("replying");
    $("input").focus();
  }

  function cancelReply() {
    state.replyTo = null;
    $("reply-bar").hidden = true;
    document.querySelectorAll(".msg.replying").forEach((n) => n.classList.remove("replying"));
  }

  function showError(text) {
    $("send-error").textContent = text;
    clearTimeout(showError.timer);
    if (text) showError.timer = setTimeout(() => { $("send-error").textContent = ""; }, 6000);
  }

  async function send() {
    const input = $("input");
    const content = input.value;
    if (!content.trim() || !state.current || !state.author) return;
    if (content.startsWith("/") && window.tzSlash) {  // a slash command: invoked as the author (slash.js)
      await window.tzSlash.send(content);
      return;
    }
    const author = state.users.get(state.author);
    const body = { channel_id: state.current, author: { id: author.id, username: author.username }, content };
    if (state.replyTo) body.reply_to = state.replyTo.id;
    try {
      await getJson("/_sandbox/messages", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    } catch (err) {
      showError(`not sent: ${err.message}`);
      return;
    }
    input.value = "";
    autosize();
    cancelReply();
    showError("");
    if (!state.live) loadMessages(state.current);   // no stream: fetch instead of waiting for the event
  }

  function autosize() {
    const input = $("input");
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 200) + "px";
  }

  // --- live updates --------------------------------------------------------------------------------

  function upsert(m) {
    const list = state.messages.get(m.channel_id);
    if (!list) return false;
    const index = list.findIndex((x) => x.id === m.id);
    if (index >= 0) list[index] = m;
    else {
      list.push(m);
      if (list.length > 1 && BigInt(list[list.length - 2].id) > BigInt(m.id)) list.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    }
    return true;
  }

  function onMessage(m, created) {
    whenLoaded(m.channel_id, () => upsert(m));
    if (created) {
      // The author stopped typing; a personality's webhook message ends the bot's typing too.
      const typers = state.typing.get(m.channel_id);
      if (typers) {
        typers.delete(m.author.id);
        if (m.webhook_id || m.author.bot) typers.delete(state.botId);
      }
      if (m.channel_id !== state.current) {
        state.unread.add(m.channel_id);
        renderChannelList();
      }
    }
    if (m.channel_id === state.current) {
      renderMessages(false);
      renderTyping();
    }
  }

  function onDelete(d) {
    whenLoaded(d.channel_id, () => {
      const list = state.messages.get(d.channel_id);
      if (list) state.messages.set(d.channel_id, list.filter((m) => m.id !== d.id));
    });
    if (state.replyTo && state.replyTo.id === d.id) cancelReply();
    if (d.channel_id === state.current) renderMessages(false);
  }

  function onTyping(t) {
    if (!state.typing.has(t.channel_id)) state.typing.set(t.channel_id, new Map());
    state.typing.get(t.channel_id).set(t.user_id, { name: t.username, until: Date.now() + TYPING_MS });
    if (t.channel_id === state.current) renderTyping();
  }

  function renderTyping() {
    const now = Date.now();
    const typers = state.typing.get(state.current) || new Map();
    for (const [id, t] of typers) if (t.until <= now) typers.delete(id);
    const names = [...typers.values()].map((t) => t.name);
    const box = $("typing");
    if (!names.length) { box.replaceChildren(); return; }
    const who = names.length === 1 ? [el("strong", { text: names[0] }), " is typing…"]
      : names.length <= 3 ? [el("strong", { text: names.slice(0, -1).join(", ") }), " and ", el("strong", { text: names[names.length - 1] }), " are typing…"]
        : ["Several people are typing…"];
    box.replaceChildren(el("span", { class: "dots" }, el("i"), el("i"), el("i")), el("span", { class: "typing-text" }, who));
  }

  function connectEvents() {
    const source = new EventSource("/_page/events");
    const setLive = (live) => {
      state.live = live;
      $("live").className = "live " + (live ? "on" : "off");
      $("live").textContent = live ? "live" : "reconnecting…";
    };
    source.addEventListener("open", () => {
      // (Re)connected: whatever happened meanwhile is read again rather than trusted to the stream.
      setLive(true);
      for (const id of [...state.messages.keys()]) if (id !== state.current) state.messages.delete(id);
      if (state.current) loadMessages(state.current);
    });
    source.addEventListener("error", () => setLive(false));
    const on = (name, fn) => source.addEventListener(name, (e) => {
      try { fn(JSON.parse(e.data)); } catch (err) { console.error(name, err); }
    });
    on("message_create", (m) => onMessage(m, true));
    on("message_update", (m) => onMessage(m, false));
    on("message_delete", onDelete);
    on("typing_start", onTyping);
    on("channels", () => loadWorld().catch((err) => console.error(err)));
  }

  // --- the actor tree ------------------------------------------------------------------------------

  const tree = { rows: new Map(), lastPids: new Map() };

  function uptimeLabel(s) {
    s = Math.floor(s || 0);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
  }

  function treeRows(status) {
    const sups = Array.isArray(status.supervisors) ? status.supervisors : [];
    const byKey = new Map(sups.map((s) => [s.key, s]));
    const rows = [];
    const seen = new Set();
    const walk = (sup, depth) => {
      seen.add(sup.key);
      for (const child of [...(sup.children || [])].sort(byKindThenKey)) {
        rows.push({ id: `${sup.key}|${child.key}`, depth, child, supervisor: byKey.has(child.key) });
        const sub = byKey.get(child.key);
        if (sub && !seen.has(sub.key)) walk(sub, depth + 1);
      }
    };
    const root = byKey.get("root");
    if (root) {
      rows.push({ id: "root", depth: 0, child: { key: "root", kind: "supervisor", status: "live", pid: root.pid, restarts: 0 }, supervisor: true, root: true });
      walk(root, 1);
    }
    for (const sup of sups) if (!seen.has(sup.key)) {
      rows.push({ id: `sup|${sup.key}`, depth: 0, child: { key: sup.key, kind: "shard", status: "live", pid: sup.pid, restarts: 0 }, supervisor: true, root: true });
      walk(sup, 1);
    }
    return rows;
  }

  const KIND_ORDER = ["registry", "blacklist", "shard", "user", "channel"];
  const naturalKey = (key) => String(key).replace(/\d+/g, (d) => d.padStart(24, "0"));

  function byKindThenKey(a, b) {
    const ka = KIND_ORDER.indexOf(a.kind), kb = KIND_ORDER.indexOf(b.kind);
    if (ka !== kb) return (ka < 0 ? 99 : ka) - (kb < 0 ? 99 : kb);
    if (a.kind === "shard") {  // user shards, then channel shards, each by number
      const ga = String(a.key).split("/")[0], gb = String(b.key).split("/")[0];
      if (ga !== gb) return ga === "user" ? -1 : gb === "user" ? 1 : ga < gb ? -1 : 1;
    }
    const na = naturalKey(a.key), nb = naturalKey(b.key);
    return na < nb ? -1 : na > nb ? 1 : 0;
  }

  function actorRow(row) {
    const node = el("div", { class: "actor", role: "listitem" },
      el("span", { class: "dot" }),
      el("span", { class: "label" }, el("span", { class: "kind" }), el("span", { class: "key" }), " ", el("span", { class: "id" }), " ", el("span", { class: "state" })),
      el("span", { class: "pid", title: "process id" }),
      el("span", { class: "restarts", title: "restarts" }),
      el("button", { class: "kill", type: "button", title: "kill -9 this actor's process: watch its supervisor restart it" }, "kill"));
    node.querySelector(".kill").addEventListener("click", () => kill(node));
    return node;
  }

  function updateRow(node, row) {
    const c = row.child;
    const pid = c.pid === null || c.pid === undefined ? "" : String(c.pid);
    const restarts = Number(c.restarts || 0);
    node.className = ["actor", `depth-${Math.min(row.depth, 3)}`, row.supervisor ? "supervisor" : "", c.status === "parked" ? "parked" : ""].filter(Boolean).join(" ");
    const previous = tree.lastPids.get(row.id);
    if (previous !== undefined && previous !== pid && pid) {
      node.classList.add("changed");
      setTimeout(() => node.classList.remove("changed"), 1700);
    }
    tree.lastPids.set(row.id, pid);
    Object.assign(node.dataset, { key: c.key, kind: c.kind, status: c.status || "", pid, restarts: String(restarts) });
    node.querySelector(".kind").textContent = c.kind;
    const name = c.kind === "user" || c.kind === "channel" ? nameForKey(c.kind, c.key) : null;
    node.querySelector(".key").textContent = name || c.key;
    node.querySelector(".id").textContent = name ? c.key : "";
    node.querySelector(".label").title = `${c.kind} ${c.key}` + (c.pending ? ` · ${c.pending} pending` : "")
      + (c.idle_s !== undefined ? ` · idle ${Math.round(c.idle_s)} s` : "");
    node.querySelector(".state").textContent = c.status === "live" ? "" : c.status || "";
    node.querySelector(".pid").textContent = pid || "—";
    const r = node.querySelector(".restarts");
    r.textContent = `↻${restarts}`;
    r.classList.toggle("some", restarts > 0);
    const button = node.querySelector(".kill");
    button.disabled = !pid || !!row.root;
    button.hidden = !!row.root;
    let err = node.querySelector(".err");
    if (c.last_error && c.status !== "live") {
      if (!err) { err = el("span", { class: "err" }); node.append(err); }
      err.textContent = c.last_error;
      err.title = c.last_error;
    } else if (err) {
      err.remove();
    }
  }

  function nameForKey(kind, key) {
    // user and channel actors are keyed by Discord ids: show the name the emulator knows (the id beside it).
    if (kind === "user") return state.users.get(String(key))?.username || null;
    const ch = state.channels.get(String(key));
    if (!ch) return null;
    return ch.kind === "dm" ? `@${nameOfUser(ch.user_id)} DM` : `#${ch.name}`;
  }

  function renderTree(status) {
    const body = $("tree-body");
    const rows = treeRows(status);
    let list = body.querySelector(".actors");
    if (!list) {
      list = el("div", { class: "actors", role: "list" });
      body.replaceChildren(list);
      tree.rows.clear();
    }
    const wanted = new Set(rows.map((r) => r.id));
    for (const [id, node] of tree.rows) if (!wanted.has(id)) { node.remove(); tree.rows.delete(id); }
    rows.forEach((row, i) => {
      let node = tree.rows.get(row.id);
      if (!node) { node = actorRow(row); tree.rows.set(row.id, node); }
      updateRow(node, row);
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
    const children = rows.filter((r) => !r.root).map((r) => r.child);
    const restarts = children.reduce((sum, c) => sum + Number(c.restarts || 0), 0);
    const parked = children.filter((c) => c.status === "parked").length;
    const actors = children.filter((c) => c.kind === "user" || c.kind === "channel").length;
    $("tree-summary").textContent = `up ${uptimeLabel(status.uptime_s)} · ${actors} actors · ↻${restarts}` + (parked ? ` · ${parked} parked` : "");
    $("tree-summary").dataset.restarts = String(restarts);
  }

  function treeUnavailable(reason) {
    tree.rows.clear();
    tree.lastPids.clear();
    $("tree-summary").textContent = "";
    $("tree-body").replaceChildren(el("div", { class: "tree-note unavailable", id: "tree-unavailable" },
      "bot status unavailable", el("small", { text: reason })));
  }

  async function kill(node) {
    const pid = Number(node.dataset.pid);
    const footer = $("tree-footer");
    if (!pid || !state.config.bot_http) return;
    node.querySelector(".kill").disabled = true;
    try {
      const response = await fetch(state.config.bot_http.replace(/\/$/, "") + "/actors/kill", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ pid }),
      });
      if (!response.ok) {
        const why = response.status === 403 ? "kill is allowed in the sandbox only" : response.status === 404 ? "no such actor (it may have restarted already)" : `${response.status}`;
        throw new Error(why);
      }
      footer.className = "";
      footer.textContent = `killed ${node.dataset.kind} ${node.querySelector(".key").textContent} (pid ${pid}): watch it restart`;
    } catch (err) {
      footer.className = "error";
      footer.textContent = `kill failed: ${err.message}`;
    }
  }

  async function pollTree() {
    const base = state.config.bot_http;
    try {
      if (!base) {
        treeUnavailable("the emulator was not told where the bot's HTTP server is");
        return;
      }
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), TREE_TIMEOUT_MS);
      try {
        const response = await fetch(base.replace(/\/$/, "") + "/status", { cache: "no-store", signal: controller.signal });
        if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
        renderTree(await response.json());
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      treeUnavailable(`cannot reach ${base}/status`);
    } finally {
      setTimeout(pollTree, TREE_PERIOD_MS);
    }
  }

  // --- start ---------------------------------------------------------------------------------------

  window.tzPage = { state, getJson, loadMessages, showError, el };  // what slash.js builds on

  async function main() {
    $("composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
    $("input").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
      else if (e.key === "Escape") cancelReply();
    });
    $("input").addEventListener("input", autosize);
    $("reply-cancel").addEventListener("click", () => { cancelReply(); $("input").focus(); });
    setInterval(renderTyping, 1000);
    try {
      state.config = await getJson("/_page/config");
    } catch {
      state.config = { bot_http: null };
    }
    await loadWorld().finally(pollTree);  // the tree names user and channel actors from the world
    connectEvents();
    const wanted = location.hash.slice(1);
    const general = [...state.channels.values()].find((c) => c.name === "general");
    await selectChannel(state.channels.has(wanted) ? wanted : (general || [...state.channels.values()][0]).id);
    document.body.dataset.ready = "1";
  }

  main().catch((err) => {
    console.error(err);
    showError(`the page could not start: ${err.message}`);
  });
})();
