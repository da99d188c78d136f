// The operator's live console: every button calls the console API, and the room's websocket
// (joined with the staff token and the chosen brand) keeps the screen live.
import { ApiError, RoomSocket, api, el, show, socketUrl, yuan } from "./api.js";

const roomId = Number(document.body.dataset.roomId);
const $ = (id) => document.getElementById(id);
const STORE_KEY = "siyu.console";
const STATS_EVERY_MS = 2000; // orders and GMV are never broadcast to the room: the console polls them
const MAX_COMMENTS = 200;
const NEXT_ACTIONS = { scheduled: ["start"], live: ["pause", "end"], paused: ["resume", "end"] };

let session = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
let socket;
let statsTimer;
let room;
const live = { snapshots: 0 };

const call = (method, path, body) => api(method, `/api/v1/console${path}`, { token: session.access, brand: session.brand.id, body });

// --- login: a staff member picks one of their brands, as X-Brand does in the API ----------------
$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const choice = $("brand-choice");
  try {
    if (!choice.hidden && session?.pending) {
      const brand = session.pending.brands.find((b) => String(b.id) === form.get("brand"));
      return start({ access: session.pending.access, user: session.pending.user, brand });
    }
    const answer = await api("POST", "/api/v1/staff/login", { body: { username: form.get("username"), password: form.get("password") } });
    const brands = answer.brands.filter((b) => ["owner", "operator"].includes(b.role));
    if (!brands.length) return refuse("This account runs no brand's live rooms.");
    if (brands.length === 1) return start({ access: answer.access, user: answer.user, brand: brands[0] });
    session = { pending: { ...answer, brands } };
    choice.querySelector("select").replaceChildren(...brands.map((b) => el("option", { value: b.id }, b.name)));
    choice.hidden = false;
  } catch (err) {
    refuse(err.message);
  }
});

$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(STORE_KEY);
  location.reload();
});

function refuse(text) {
  show($("refused"), text);
}

async function start(chosen) {
  session = chosen;
  sessionStorage.setItem(STORE_KEY, JSON.stringify(session));
  $("login").hidden = true;
  show($("refused"), "");
  $("who").textContent = `${session.user.username} · ${session.brand.name}`;
  $("logout").hidden = false;
  try {
    room = await call("GET", `/rooms/${roomId}`);
  } catch (err) {
    if (err.status === 401) return relogin();
    // Another brand's room answers 404 exactly like a missing one: nothing of it is shown.
    return refuse(err.status === 404 ? `No live room ${roomId} in ${session.brand.name}.` : err.message);
  }
  $("live").hidden = false;
  renderRoom(room);
  await Promise.all([loadProducts(), loadComments(), loadCostreams(), loadCouponTemplates(), loadStats()]);
  statsTimer = setInterval(loadStats, STATS_EVERY_MS);
  socket = new RoomSocket(() => socketUrl(roomId, { token: session.access, brand: session.brand.id }), {
    onEvent: (type, data) => handlers[type]?.(data),
    onState: (what, code, text) => {
      if (code === 4401) return relogin();
      show($("connection"), what === "open" ? "" : text);
    },
  });
  socket.connect();
  window.siyuConsole = Object.assign(live, { socket, session }); // for the browser tests
}

function relogin() {
  sessionStorage.removeItem(STORE_KEY);
  socket?.stop();
  clearInterval(statsTimer);
  $("live").hidden = true;
  $("login").hidden = false;
  refuse("Your login expired; log in again.");
}

// Run an API call from a button: errors appear next to the controls, in the API's words.
async function act(fn) {
  show($("action-error"), "");
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return relogin();
    show($("action-error"), err.message);
  }
}

// --- the show -----------------------------------------------------------------------------------
function renderRoom(r) {
  room = r;
  $("room-title").textContent = `· ${r.title}`;
  $("status").textContent = r.status;
  $("status").dataset.status = r.status;
  $("costream-code").textContent = r.costream_code || "—";
  const allowed = NEXT_ACTIONS[r.status] || [];
  for (const button of document.querySelectorAll("[data-action]")) button.disabled = !allowed.includes(button.dataset.action);
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", () =>
    act(async () => {
      const action = button.dataset.action;
      if (action === "end" && !confirm("End the show for every viewer?")) return;
      renderRoom(await call("POST", `/rooms/${roomId}/${action}`, {}));
      loadProducts();
    }),
  );
}

async function loadStats() {
  try {
    const stats = await call("GET", `/rooms/${roomId}/stats`);
    $("online").textContent = stats.online;
    $("peak").textContent = stats.peak_online;
    $("likes").textContent = Math.max(stats.likes, Number($("likes").textContent));
    $("orders").textContent = stats.orders;
    $("paid-orders").textContent = stats.paid_orders;
    $("gmv").textContent = yuan(stats.paid_gmv);
  } catch (err) {
    if (err.status === 401) relogin();
  }
}

// --- products -----------------------------------------------------------------------------------
async function loadProducts() {
  const listings = await call("GET", `/rooms/${roomId}/products`);
  $("products").replaceChildren(...listings.map(productRow));
}

function productRow(p) {
  const pushed = room.pushed_product_id === p.product_id;
  const sellable = p.audit_status === "approved" && p.product_status === "on_shelf";
  const push = () => act(async () => {
    renderRoom(await call("POST", `/rooms/${roomId}/push`, { product_id: pushed ? null : p.product_id }));
    await loadProducts();
  });
  const sale = (event) => act(async () => {
    await call("POST", `/rooms/${roomId}/products/${p.product_id}/sale`, { on_sale: event.target.checked });
    room = await call("GET", `/rooms/${roomId}`); // taking the pushed product off sale stops the push
    await loadProducts();
  });
  return el(
    "tr",
    { dataset: { productId: p.product_id }, class: pushed ? "pushed" : "" },
    el("td", {}, p.name, sellable ? null : el("small", { class: "muted" }, ` (${p.product_status}, ${p.audit_status})`)),
    el("td", {}, el("input", { type: "checkbox", checked: p.on_sale, "aria-label": `${p.name} on sale`, onchange: sale })),
    el(
      "td",
      {},
      el("button", { type: "button", class: pushed ? "" : "primary", disabled: !pushed && (!p.on_sale || room.status !== "live"), onclick: push }, pushed ? "Stop presenting" : "Push"),
    ),
  );
}

// --- comments -----------------------------------------------------------------------------------
async function loadComments() {
  const page = await call("GET", `/rooms/${roomId}/comments?page_size=50`);
  for (const comment of page.results.reverse()) if (comment.status === "visible") addComment(comment);
  const pinned = page.results.find((c) => c.is_pinned);
  if (pinned) setPinned(pinned);
}

function addComment(comment) {
  const list = $("comments");
  if (list.querySelector(`[data-id="${comment.id}"]`)) return;
  const commentAction = (action) => () =>
    act(async () => {
      await untilSaved(() => call("POST", `/comments/${comment.id}/${action}`));
      if (action === "hide") list.querySelector(`[data-id="${comment.id}"]`)?.remove();
    });
  const mute = () =>
    act(async () => {
      await call("POST", "/mutes", { customer_id: comment.customer.id, room_id: roomId, reason: `Comment: ${comment.text}`.slice(0, 200) });
      for (const item of list.querySelectorAll(`[data-customer="${comment.customer.id}"]`)) item.classList.add("muted-author");
    });
  list.append(
    el(
      "li",
      { dataset: { id: comment.id, customer: comment.customer.id } },
      el("b", {}, comment.customer.nickname || `Customer ${comment.customer.id}`),
      " ",
      el("span", { class: "text" }, comment.text),
      el(
        "span",
        { class: "comment-actions" },
        el("button", { type: "button", onclick: commentAction("hide") }, "Hide"),
        el("button", { type: "button", onclick: commentAction("pin") }, "Pin"),
        el("button", { type: "button", onclick: mute }, "Mute"),
      ),
    ),
  );
  while (list.children.length > MAX_COMMENTS) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

// Comments reach the database in batches (every few seconds): acting on one that was just said
// answers comment_not_found until it is saved, so the console tries again for a little while.
async function untilSaved(request, tries = 10) {
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await request();
      show($("action-error"), "");
      return answer;
    } catch (err) {
      if (err.code !== "comment_not_found" || attempt >= tries) throw err;
      show($("action-error"), "Saving the comment first…");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function setPinned(comment) {
  const pinned = $("pinned");
  pinned.hidden = !comment;
  if (!comment) return pinned.replaceChildren();
  const unpin = () => act(() => untilSaved(() => call("POST", `/comments/${comment.id}/unpin`)));
  pinned.replaceChildren("Pinned · ", el("b", {}, comment.customer.nickname), " ", comment.text, " ", el("button", { type: "button", onclick: unpin }, "Unpin"));
}

// --- co-stream ----------------------------------------------------------------------------------
async function loadCostreams() {
  const page = await call("GET", "/costreams?page_size=100");
  const mine = page.results.filter((c) => c.inviter_room_id === roomId || c.invitee_room_id === roomId);
  $("costreams").replaceChildren(...mine.filter((c) => ["invited", "active"].includes(c.status)).map(costreamItem));
  if (!$("costreams").children.length) $("costreams").append(el("li", { class: "muted" }, "No co-stream."));
}

function costreamItem(c) {
  const run = (action) => () => act(async () => {
    await call("POST", `/costreams/${c.id}/${action}`);
    await loadCostreams();
  });
  const buttons = [];
  if (c.status === "invited" && c.side === "invitee") buttons.push(["accept", "Accept"], ["decline", "Decline"]);
  if (["invited", "active"].includes(c.status)) buttons.push(["end", "End"]);
  return el(
    "li",
    { dataset: { id: c.id } },
    `${c.status}: ${c.partner.title} (${c.partner.brand}) `,
    ...buttons.map(([action, label]) => el("button", { type: "button", onclick: run(action) }, label)),
  );
}

$("invite").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(async () => {
    await call("POST", `/rooms/${roomId}/costreams`, { room_code: form.room_code.value });
    form.reset();
    await loadCostreams();
  });
});

// --- coupons: the panel shows once the brand's templates are read ---------------------------------
async function loadCouponTemplates() {
  try {
    const page = await call("GET", "/coupon-templates?page_size=100&droppable=true"); // only what a drop accepts
    const templates = page.results || page;
    $("coupon-drop").template_id.replaceChildren(...templates.map((t) => el("option", { value: t.id }, t.name)));
    $("coupon-panel").hidden = false;
  } catch (err) {
    console.warn("coupon templates", err);
  }
}

$("coupon-drop").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(() => call("POST", `/rooms/${roomId}/coupon-drops`, { template_id: Number(form.template_id.value), quantity: Number(form.quantity.value) }));
});

// --- the socket -----------------------------------------------------------------------------------
const handlers = {
  snapshot(data) {
    live.snapshots += 1;
    for (const frame of data.comments) addComment(frame.data || frame);
    if (data.pinned_comment) setPinned(data.pinned_comment);
    $("online").textContent = data.online;
    $("likes").textContent = data.likes;
  },
  comment: addComment,
  "comment.hidden": (data) => $("comments").querySelector(`[data-id="${data.id}"]`)?.remove(),
  "comment.pinned": (data) => setPinned(data.comment),
  likes: (data) => ($("likes").textContent = data.total),
  viewers: (data) => {
    $("online").textContent = data.online;
    $("peak").textContent = Math.max(data.peak, Number($("peak").textContent));
  },
  "product.push": () => call("GET", `/rooms/${roomId}`).then((r) => (room = r)).then(loadProducts),
  "product.sale": () => loadProducts(),
  "room.status": () => call("GET", `/rooms/${roomId}`).then(renderRoom).then(loadProducts),
  costream: () => loadCostreams(),
};

if (session?.access && session.brand) start(session);
else $("login").hidden = false;
