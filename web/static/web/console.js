// The operator's live console (直播中控台): every control calls the public console API
// (/api/v1/console/...), and the room's websocket (joined with the staff token and the chosen
// brand) keeps the screen live. What the room's socket does not carry (orders, stock, the games'
// counts) is polled.
import { ApiError, RoomSocket, api, el, show, socketUrl, yuan } from "./api.js";

const roomId = Number(document.body.dataset.roomId);
const $ = (id) => document.getElementById(id);
const STORE_KEY = "siyu.console";
const STATS_EVERY_MS = 2000; // orders and GMV are never broadcast to the room: the console polls them
const COUNTS_EVERY_MS = 4000; // stock, coupon claims, lottery entrants, groups and bargains
const ERROR_CLEARS_AFTER_MS = 10000;
const MAX_COMMENTS = 200;
const NEXT_ACTIONS = { scheduled: ["start"], live: ["pause", "end"], paused: ["resume", "end"] };
const CONSOLE_ROLES = ["owner", "operator"];

const ROOM_STATUS = { scheduled: "未开播", live: "直播中", paused: "已暂停", ended: "已结束", cancelled: "已取消", banned: "已封禁" };
const PRODUCT_STATUS = { draft: "草稿", on_shelf: "已上架", off_shelf: "已下架", archived: "已归档" };
const AUDIT_STATUS = { pending: "待审核", approved: "已通过", rejected: "未通过" };
const LOTTERY_STATUS = { open: "进行中", drawn: "已开奖", stopped: "已结束" };
const LOTTERY_RULE = { present: "在线观看", keyword: "口令评论", liked: "点赞", subscribed: "预约提醒", new_customers: "新客" };
const COSTREAM_STATUS = { invited: "邀请中", accepted: "连麦中", active: "连麦中", declined: "已拒绝", ended: "已结束" };
// The console words the usual codes itself; any other shows the API's message, which api.js asks
// for in the page's language (Accept-Language: zh-Hans).
const CODE_TEXT = {
  network: "网络连接失败，请重试。",
  invalid_transition: "直播间当前状态不能进行此操作。",
  too_many_live_rooms: "同时直播的直播间数量已达上限。",
  room_not_live: "直播间未在直播中。",
  room_closed: "直播已结束，不能再修改。",
  product_not_on_sale: "该商品未在售，不能讲解。",
  product_not_sellable: "该商品未上架或未通过审核。",
  product_not_in_room: "该商品不在直播间中。",
  product_not_approved: "只有审核通过的商品才能加入直播间。",
  product_archived: "商品已归档。",
  room_products_full: "直播间商品数量已达上限。",
  order_mismatch: "商品列表已变化，请刷新后再排序。",
  not_enough_coupons: "优惠券库存不足。",
  template_retired: "该优惠券已停止发放。",
  template_store_exclusive: "门店专属券只能由导购发放，不能在直播间发券。",
  template_not_found: "优惠券不存在。",
  lottery_not_open: "抽奖已开奖或已结束。",
  gift_box_stopped: "礼盒已关闭。",
  insufficient_stock: "库存不足，不能减少这么多。",
  stock_limit_exceeded: "库存超过上限。",
  comment_hidden: "该评论已被隐藏。",
  comment_not_found: "评论不存在。",
  mute_not_found: "该禁言已解除。",
  role_not_allowed: "你的角色没有此权限。",
  already_linked: "已在连麦中。",
  same_room: "不能与自己的直播间连麦。",
  rate_limited: "操作太频繁，请稍后再试。",
};

let session = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
let socket;
let timers = [];
let room;
let listings = [];
let templates = [];
let pinnedId = null;
let errorTimer;
const drawnWinners = new Map(); // lottery id → winners answered by the draw
const live = { snapshots: 0 };

const call = (method, path, body) => api(method, `/api/v1/console${path}`, { token: session.access, brand: session.brand.id, body });

// --- login: a staff member picks one of their brands, as X-Brand does in the API; the platform
// operator searches all brands for one ------------------------------------------------------------
$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const choice = $("brand-choice");
  try {
    if (!choice.hidden && session?.pending) {
      const { pending } = session;
      const brand = pending.platform ? loginPicker.brand(form.get("brand")) : pending.brands.find((b) => String(b.id) === form.get("brand"));
      if (!brand) return refuse("请选择品牌。");
      return start({ access: pending.access, user: pending.user, brands: pending.brands, platform: pending.platform, brand });
    }
    const answer = await api("POST", "/api/v1/staff/login", { body: { username: form.get("username"), password: form.get("password") } });
    const brands = answer.brands.filter((b) => CONSOLE_ROLES.includes(b.role)); // the brands an account runs rooms for
    const platform = Boolean(answer.user.is_platform_operator);
    if (!platform && !brands.length) return refuse("该账号没有可管理直播间的品牌。");
    if (!platform && brands.length === 1) return start({ access: answer.access, user: answer.user, brands, brand: brands[0] });
    session = { pending: { ...answer, brands, platform } };
    const select = choice.querySelector("select");
    if (platform) {
      loginPicker = brandPicker({ input: $("brand-choice-search"), select, more: $("brand-choice-more"), token: answer.access, own: brands });
      await loginPicker.load();
    } else {
      select.replaceChildren(...brands.map((b) => el("option", { value: b.id }, b.name)));
    }
    $("brand-choice-search").hidden = !platform;
    choice.hidden = false;
  } catch (err) {
    refuse(errorText(err));
  }
});

// The platform operator reaches every brand through the platform API's search (?q=, name, slug or
// appid), a page at a time ("更多" adds the next), never a list cut at the first hundred.
const BRAND_PAGE_SIZE = 20;
let loginPicker;
let headerPicker;

function brandPicker({ input, select, more, token, own, current }) {
  const mine = new Map(own.map((b) => [b.id, b]));
  const known = new Map(current ? [[current.id, current]] : []);
  const asBrand = (b) => mine.get(b.id) || { id: b.id, slug: b.slug, name: b.name, role: "platform", status: b.status };
  let query = "";
  let page = 1;
  let asked = 0;

  async function load(append = false) {
    const request = ++asked;
    const params = new URLSearchParams({ status: "active", page_size: BRAND_PAGE_SIZE, page });
    if (query) params.set("q", query);
    const answer = await api("GET", `/api/v1/platform/brands?${params}`, { token });
    if (request !== asked) return; // a later search has been asked meanwhile
    const found = answer.results.map(asBrand);
    for (const b of found) known.set(b.id, b);
    const options = found.filter((b) => b.id !== current?.id).map((b) => el("option", { value: b.id }, b.name));
    if (append) {
      select.append(...options);
    } else {
      const head = current ? [el("option", { value: current.id, selected: true }, current.name)] : [];
      const none = found.length || current ? [] : [el("option", { value: "", disabled: true, selected: true }, "没有找到品牌")];
      select.replaceChildren(...head, ...options, ...none);
    }
    more.hidden = !answer.next;
    more.textContent = `更多（共 ${answer.count} 个）`;
  }

  let typing;
  input.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      query = input.value.trim();
      page = 1;
      load().catch((err) => showError(errorText(err)));
    }, 250);
  });
  more.addEventListener("click", () => {
    page += 1;
    load(true).catch((err) => showError(errorText(err)));
  });
  return { load, brand: (id) => known.get(Number(id)) };
}

$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(STORE_KEY);
  location.reload();
});

function refuse(text) {
  show($("refused"), text);
}

const errorText = (err) => CODE_TEXT[err.code] || err.message;
const canEditSettings = () => ["owner", "platform"].includes(session.brand.role);

async function start(chosen) {
  session = { ...chosen, platform: Boolean(chosen.user?.is_platform_operator) };
  sessionStorage.setItem(STORE_KEY, JSON.stringify(session));
  $("login").hidden = true;
  show($("refused"), "");
  $("who").textContent = `${session.user.username} · ${session.brand.name}`;
  $("logout").hidden = false;
  renderBrandSwitch();
  loadRoomSwitch(); // also when this room is refused: the operator moves to one of the brand's rooms
  try {
    room = await call("GET", `/rooms/${roomId}`);
  } catch (err) {
    if (err.status === 401) return relogin();
    // Another brand's room answers 404 exactly like a missing one: nothing of it is shown.
    return refuse(err.status === 404 ? `品牌「${session.brand.name}」中没有直播间 ${roomId}。` : errorText(err));
  }
  $("live").hidden = false;
  renderRoom(room);
  await Promise.all([loadProducts(), loadComments(), loadCostreams(), loadCouponTemplates(), loadStats(), loadMutes(), loadSettings(), loadGames()]);
  loadLibrary();
  timers = [setInterval(loadStats, STATS_EVERY_MS), setInterval(refreshCounts, COUNTS_EVERY_MS)];
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
  timers.forEach(clearInterval);
  $("live").hidden = true;
  $("login").hidden = false;
  refuse("登录已过期，请重新登录。");
}

// --- errors: one line above the panels, in Chinese where the code is known; it clears on the next
// action that succeeds, after a few seconds, or with its ×. ---------------------------------------
function showError(text) {
  clearTimeout(errorTimer);
  const line = $("action-error");
  line.querySelector(".text").textContent = text || "";
  line.hidden = !text;
  if (text) errorTimer = setTimeout(() => showError(""), ERROR_CLEARS_AFTER_MS);
}
$("action-error").querySelector(".close").addEventListener("click", () => showError(""));

let noteTimer;
function note(text) {
  clearTimeout(noteTimer);
  show($("action-note"), text);
  if (text) noteTimer = setTimeout(() => show($("action-note"), ""), ERROR_CLEARS_AFTER_MS);
}

// Run an API call from a control: errors appear in the error line, in the API's words or ours.
async function act(fn) {
  try {
    const answer = await fn();
    showError("");
    return answer;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return relogin();
    const fields = Object.entries(err.fields || {}).filter(([, v]) => Array.isArray(v)).map(([k, v]) => `${k}: ${v.join(" ")}`);
    showError(errorText(err) + (err.code === "invalid" && fields.length ? `（${fields.join("；")}）` : ""));
  }
}

// Yuan typed by the operator ("199", "199.5", "¥1,999.00") → fen, exactly; null when it is not an amount.
function fen(text) {
  const clean = String(text).trim().replace(/[¥￥,\s]/g, "");
  const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(clean);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
}

function needFen(text, what) {
  const value = fen(text);
  if (value === null || value < 1) throw new ApiError(400, "invalid_amount", `${what}请填写金额，如 199.00。`);
  return value;
}

// --- brand and room switchers ---------------------------------------------------------------------
function renderBrandSwitch() {
  const brands = session.brands?.length ? session.brands : [session.brand];
  $("brand-switch-label").hidden = !session.platform && brands.length < 2;
  $("brand-search").hidden = !session.platform;
  if (session.platform) {
    headerPicker = brandPicker({
      input: $("brand-search"),
      select: $("brand-switch"),
      more: $("brand-more"),
      token: session.access,
      own: session.brands || [],
      current: session.brand,
    });
    headerPicker.load().catch((err) => console.warn("brands", err));
  } else {
    $("brand-switch").replaceChildren(...brands.map((b) => el("option", { value: b.id, selected: b.id === session.brand.id }, b.name)));
  }
}

$("brand-switch").addEventListener("change", async (event) => {
  const brand = session.platform ? headerPicker.brand(event.target.value) : session.brands.find((b) => String(b.id) === event.target.value);
  if (!brand || brand.id === session.brand.id) return;
  session = { ...session, brand };
  sessionStorage.setItem(STORE_KEY, JSON.stringify(session));
  // The room open now is another brand's: go to the new brand's newest room, or stay and be told none.
  const rooms = await call("GET", "/rooms?page_size=1").catch(() => ({ results: [] }));
  if (rooms.results.length) location.assign(`/console/rooms/${rooms.results[0].id}/live`);
  else location.reload();
});

async function loadRoomSwitch() {
  try {
    const page = await call("GET", "/rooms?page_size=100");
    const when = (r) => new Date(r.scheduled_start).toLocaleString("zh-CN", { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
    const options = page.results.map((r) => el("option", { value: r.id, selected: r.id === roomId }, `${r.title} · ${ROOM_STATUS[r.status] || r.status} · ${when(r)}`));
    if (!page.results.some((r) => r.id === roomId)) options.unshift(el("option", { value: "", selected: true }, "选择直播间…"));
    $("room-switch").replaceChildren(...options);
    $("room-switch-label").hidden = !page.results.length;
  } catch (err) {
    console.warn("rooms", err);
  }
}

$("room-switch").addEventListener("change", (event) => {
  if (event.target.value) location.assign(`/console/rooms/${event.target.value}/live`);
});

// --- the show -----------------------------------------------------------------------------------
function renderRoom(r) {
  room = r;
  $("room-title").textContent = `· ${r.title}`;
  $("status").textContent = ROOM_STATUS[r.status] || r.status;
  $("status").dataset.status = r.status;
  $("costream-code").textContent = r.costream_code || "—";
  $("push-server").textContent = r.push_server;
  $("stream-key").dataset.value = r.stream_key;
  renderStreamKey();
  const allowed = NEXT_ACTIONS[r.status] || [];
  for (const button of document.querySelectorAll("[data-action]")) button.disabled = !allowed.includes(button.dataset.action);
}

function renderStreamKey() {
  const key = $("stream-key");
  const masked = key.dataset.masked === "true";
  key.textContent = masked ? "•".repeat(Math.min(24, (key.dataset.value || "").length)) : key.dataset.value;
  $("stream-key-toggle").textContent = masked ? "显示" : "隐藏";
}

$("stream-key-toggle").addEventListener("click", () => {
  const key = $("stream-key");
  key.dataset.masked = key.dataset.masked === "true" ? "false" : "true";
  renderStreamKey();
});

$("stream-key-reset").addEventListener("click", () =>
  act(async () => {
    if (!confirm("重置推流密钥？旧的推流地址将立即失效，推流软件需要填写新密钥。")) return;
    renderRoom(await call("POST", `/rooms/${roomId}/stream-key`));
    note("推流密钥已重置，请在推流软件中更新。");
  }),
);

for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", async () => {
    const what = button.dataset.copy;
    const text = what === "push-url" ? room.push_url : what === "stream-key" ? room.stream_key : room.push_server;
    const label = button.textContent;
    try {
      await copy(text);
      button.textContent = "已复制 ✓";
    } catch {
      button.textContent = "复制失败";
    }
    setTimeout(() => (button.textContent = label), 1500);
  });
}

async function copy(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = el("textarea", { readonly: true, style: "position:fixed;left:-9999px" });
  area.value = text;
  document.body.append(area);
  area.select();
  const done = document.execCommand("copy");
  area.remove();
  if (!done) throw new Error("copy refused");
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", () =>
    act(async () => {
      const action = button.dataset.action;
      if (action === "end" && !confirm("确定结束直播？所有观众都将看到直播已结束。")) return;
      renderRoom(await call("POST", `/rooms/${roomId}/${action}`, {}));
      loadProducts();
    }),
  );
}

const socketLive = () => live.snapshots > 0 && socket?.socket?.readyState === WebSocket.OPEN;

async function loadStats() {
  try {
    const stats = await call("GET", `/rooms/${roomId}/stats`);
    // The online count is the room's, as every viewer's page shows it: the snapshot and the
    // `viewers` broadcasts (every 2 s). The poll reads the same live store, but at other moments,
    // so it stands in only while the socket is not connected.
    if (!socketLive()) $("online").textContent = stats.online;
    $("peak").textContent = Math.max(stats.peak_online, Number($("peak").textContent));
    $("likes").textContent = Math.max(stats.likes, Number($("likes").textContent));
    $("orders").textContent = stats.orders;
    $("paid-orders").textContent = stats.paid_orders;
    $("gmv").textContent = yuan(stats.paid_gmv);
  } catch (err) {
    if (err.status === 401) relogin();
  }
}

// What changes without an event on the room's socket: stock, coupon claims, the games' counts.
function refreshCounts() {
  if (document.hidden) return;
  Promise.all([refreshStock(), loadDrops(), loadGames()]).catch((err) => err.status === 401 && relogin());
}

// --- products -----------------------------------------------------------------------------------
function priceText(p) {
  if (p.price_type === "range" && p.price2) return `${yuan(p.price)} – ${yuan(p.price2)}`;
  if (p.price_type === "discount" && p.price2) return `${yuan(p.price2)}（原价 ${yuan(p.price)}）`;
  return yuan(p.price);
}

async function loadProducts() {
  listings = await call("GET", `/rooms/${roomId}/products`);
  const open = new Set([...document.querySelectorAll("#products tr.sku-editor")].map((row) => Number(row.dataset.productId)));
  const rows = [];
  listings.forEach((p, index) => {
    rows.push(productRow(p, index));
    if (open.has(p.product_id)) rows.push(skuEditor(p));
  });
  $("products").replaceChildren(...rows);
  $("product-count").textContent = `共 ${listings.length} 件`;
  renderSkuChoices();
  renderLibraryChoices();
}

// The poll updates the stock in place, so a price being typed is never overwritten.
async function refreshStock() {
  const fresh = await call("GET", `/rooms/${roomId}/products`);
  if (fresh.map((p) => p.product_id).join() !== listings.map((p) => p.product_id).join()) return loadProducts();
  listings = fresh;
  for (const p of fresh) {
    const cell = document.querySelector(`#products tr.product[data-product-id="${p.product_id}"] [data-stock]`);
    if (cell) setStock(cell, p.stock);
    for (const sku of p.skus) {
      const skuCell = document.querySelector(`#products tr.sku-editor [data-sku-stock="${sku.id}"]`);
      if (skuCell) skuCell.textContent = sku.stock;
    }
  }
}

function setStock(cell, stock) {
  cell.textContent = stock;
  cell.classList.toggle("low", stock <= 5);
}

function productRow(p, index) {
  const pushed = room.pushed_product_id === p.product_id;
  const sellable = p.audit_status === "approved" && p.product_status === "on_shelf";
  const push = () =>
    act(async () => {
      renderRoom(await call("POST", `/rooms/${roomId}/push`, { product_id: pushed ? null : p.product_id }));
      await loadProducts();
    });
  const sale = (event) =>
    act(async () => {
      await call("POST", `/rooms/${roomId}/products/${p.product_id}/sale`, { on_sale: event.target.checked });
      room = await call("GET", `/rooms/${roomId}`); // taking the pushed product off sale stops the push
    }).finally(loadProducts); // refused: the box shows what the room holds again
  const move = (step) => () =>
    act(async () => {
      const ids = listings.map((l) => l.product_id);
      const [moved] = ids.splice(index, 1);
      ids.splice(index + step, 0, moved);
      await call("POST", `/rooms/${roomId}/products/order`, { product_ids: ids });
      await loadProducts();
    });
  const remove = () =>
    act(async () => {
      if (!confirm(`从直播间移除「${p.name}」？`)) return;
      await call("DELETE", `/rooms/${roomId}/products/${p.product_id}`);
      await loadProducts();
    });
  const edit = () => {
    const next = document.querySelector(`#products tr.sku-editor[data-product-id="${p.product_id}"]`);
    if (next) return next.remove();
    document.querySelector(`#products tr.product[data-product-id="${p.product_id}"]`).after(skuEditor(p));
  };
  const stock = el("td", { "data-stock": "" });
  setStock(stock, p.stock);
  return el(
    "tr",
    { dataset: { productId: p.product_id }, class: `product${pushed ? " pushed" : ""}` },
    el(
      "td",
      { class: "order" },
      `${index + 1}`,
      el("button", { type: "button", class: "mini", "data-act": "up", "aria-label": `${p.name} 上移`, disabled: index === 0, onclick: move(-1) }, "↑"),
      el("button", { type: "button", class: "mini", "data-act": "down", "aria-label": `${p.name} 下移`, disabled: index === listings.length - 1, onclick: move(1) }, "↓"),
    ),
    el("td", {}, p.name, sellable ? null : el("small", { class: "muted" }, `（${PRODUCT_STATUS[p.product_status] || p.product_status}，${AUDIT_STATUS[p.audit_status] || p.audit_status}）`)),
    el("td", { "data-price": "" }, priceText(p)),
    stock,
    el("td", {}, el("input", { type: "checkbox", checked: p.on_sale, "aria-label": `${p.name} 在售`, onchange: sale })),
    el(
      "td",
      { class: "row-actions" },
      el(
        "button",
        { type: "button", "data-act": "push", class: pushed ? "" : "primary", disabled: !pushed && (!p.on_sale || room.status !== "live"), onclick: push },
        pushed ? "取消讲解" : "讲解",
      ),
      el("button", { type: "button", "data-act": "edit", onclick: edit }, "改价/库存"),
      el("button", { type: "button", "data-act": "remove", class: "danger", onclick: remove }, "移除"),
    ),
  );
}

// Under a product: the price shown in the room, and each SKU's price (what a buyer pays) and stock.
function skuEditor(p) {
  const shown = el("form", { class: "inline shown-price" });
  const label = { fixed: ["价格"], discount: ["原价", "直播价"], range: ["最低价", "最高价"] }[p.price_type] || ["价格"];
  shown.append(
    el("span", { class: "muted" }, "展示价"),
    el("input", { name: "price", value: (p.price / 100).toFixed(2), "aria-label": `${p.name} ${label[0]}`, inputmode: "decimal" }),
    label[1] ? el("input", { name: "price2", value: p.price2 ? (p.price2 / 100).toFixed(2) : "", "aria-label": `${p.name} ${label[1]}`, inputmode: "decimal" }) : null,
    el("button", { type: "submit" }, "保存展示价"),
  );
  shown.addEventListener("submit", (event) => {
    event.preventDefault();
    act(async () => {
      const body = { price: needFen(shown.price.value, label[0]) };
      if (shown.price2) body.price2 = needFen(shown.price2.value, label[1]);
      await call("PATCH", `/products/${p.product_id}`, body);
      await loadProducts();
      note(`「${p.name}」展示价已更新`); // once the table shows it
    });
  });
  const skuRows = p.skus.map((sku) => {
    const price = el("form", { class: "inline" },
      el("input", { name: "price", value: (sku.price / 100).toFixed(2), inputmode: "decimal", "aria-label": `${sku.spec || sku.code} 售价` }),
      el("button", { type: "submit" }, "改价"));
    price.addEventListener("submit", (event) => {
      event.preventDefault();
      act(async () => {
        const typed = price.price.value;
        await call("PATCH", `/skus/${sku.id}`, { price: needFen(typed, "售价") });
        await loadProducts();
        note(`「${p.name} ${sku.spec}」售价已改为 ${typed} 元`); // once the table shows it
      });
    });
    const stock = el("form", { class: "inline" },
      el("input", { name: "delta", type: "number", placeholder: "+10 / -5", "aria-label": `${sku.spec || sku.code} 库存增减` }),
      el("button", { type: "submit" }, "调整库存"));
    stock.addEventListener("submit", (event) => {
      event.preventDefault();
      act(async () => {
        const delta = Number(stock.delta.value);
        if (!Number.isInteger(delta) || delta === 0) throw new ApiError(400, "invalid_delta", "库存增减请填写非零整数，如 10 或 -5。");
        await call("POST", `/skus/${sku.id}/stock`, { delta });
        await loadProducts();
      });
    });
    return el("tr", { dataset: { skuId: sku.id }, class: sku.is_active ? "" : "inactive" },
      el("td", {}, sku.spec || sku.code, sku.is_active ? null : el("small", { class: "muted" }, "（停售）")),
      el("td", {}, price),
      el("td", { "data-sku-stock": sku.id }, sku.stock),
      el("td", {}, stock));
  });
  const table = el("table", { class: "skus" }, el("thead", {}, el("tr", {}, el("th", {}, "规格"), el("th", {}, "售价（元）"), el("th", {}, "库存"), el("th", {}, "增减"))), el("tbody", {}, ...skuRows));
  return el("tr", { dataset: { productId: p.product_id }, class: "sku-editor" }, el("td", { colspan: 6 }, shown, table));
}

// The product library: approved, not archived, not in the room yet.
let library = [];
async function loadLibrary(q = "") {
  const params = new URLSearchParams({ audit_status: "approved", page_size: "100" });
  if (q) params.set("q", q);
  try {
    library = (await call("GET", `/products?${params}`)).results.filter((p) => p.status !== "archived");
  } catch (err) {
    library = [];
  }
  renderLibraryChoices();
}

function renderLibraryChoices() {
  const inRoom = new Set(listings.map((l) => l.product_id));
  const choices = library.filter((p) => !inRoom.has(p.id));
  const select = $("product-add").product_id;
  select.replaceChildren(
    ...(choices.length ? choices.map((p) => el("option", { value: p.id }, `${p.name} · ${priceText(p)}${p.is_sellable ? "" : "（未上架）"}`)) : [el("option", { value: "" }, "商品库中没有可添加的商品")]),
  );
}

let searchTimer;
$("product-add").q.addEventListener("input", (event) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => loadLibrary(event.target.value.trim()), 300);
});

$("product-add").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = Number(event.target.product_id.value);
  if (!id) return;
  act(async () => {
    await call("POST", `/rooms/${roomId}/products`, { product_ids: [id] });
    await loadProducts();
  });
});

// --- comments: the pinned one on top, and not again in the feed -----------------------------------
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
      if (action === "pin") setPinned(comment);
    });
  const mute = () =>
    act(async () => {
      await call("POST", "/mutes", { customer_id: comment.customer.id, room_id: roomId, reason: `评论：${comment.text}`.slice(0, 200) });
      for (const item of list.querySelectorAll(`[data-customer="${comment.customer.id}"]`)) item.classList.add("muted-author");
      await loadMutes();
    });
  list.append(
    el(
      "li",
      { dataset: { id: comment.id, customer: comment.customer.id }, hidden: String(comment.id) === String(pinnedId) },
      el("b", {}, comment.customer.nickname || `观众 ${comment.customer.id}`),
      " ",
      el("span", { class: "text" }, comment.text),
      el(
        "span",
        { class: "comment-actions" },
        el("button", { type: "button", onclick: commentAction("hide") }, "隐藏"),
        el("button", { type: "button", onclick: commentAction("pin") }, "置顶"),
        el("button", { type: "button", onclick: mute }, "禁言"),
      ),
    ),
  );
  while (list.children.length > MAX_COMMENTS) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

// Comments reach the database in batches (every few seconds): acting on one that was just said
// answers comment_not_found until it is saved, so the console tries again for a little while.
async function untilSaved(request, tries = 10) {
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request();
      } catch (err) {
        if (err.code !== "comment_not_found" || attempt >= tries) throw err;
        note("评论保存中，稍后自动重试…");
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  } finally {
    note("");
  }
}

function setPinned(comment) {
  const pinned = $("pinned");
  const previous = pinnedId;
  pinnedId = comment ? comment.id : null;
  // The pinned comment is shown once, on top; the one it replaces goes back into the feed.
  if (previous !== null) $("comments").querySelector(`[data-id="${previous}"]`)?.removeAttribute("hidden");
  if (comment) $("comments").querySelector(`[data-id="${comment.id}"]`)?.setAttribute("hidden", "");
  pinned.hidden = !comment;
  if (!comment) return pinned.replaceChildren();
  const unpin = () =>
    act(async () => {
      await untilSaved(() => call("POST", `/comments/${comment.id}/unpin`));
      setPinned(null);
    });
  pinned.replaceChildren("置顶 · ", el("b", {}, comment.customer.nickname || `观众 ${comment.customer.id}`), " ", comment.text, " ", el("button", { type: "button", onclick: unpin }, "取消置顶"));
}

// --- mutes ----------------------------------------------------------------------------------------
async function loadMutes() {
  const page = await call("GET", `/mutes?applies_to_room=${roomId}&active=true&page_size=100`);
  const items = page.results.map((m) =>
    el(
      "li",
      { dataset: { muteId: m.id, customer: m.customer } },
      el("b", {}, m.nickname || `观众 ${m.customer}`),
      " ",
      el("small", { class: "muted" }, m.room ? "本场" : "全部直播间", m.until ? ` · 至 ${new Date(m.until).toLocaleString("zh-CN")}` : ""),
      " ",
      el("button", { type: "button", onclick: () => unmute(m) }, "解除禁言"),
    ),
  );
  $("mutes").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "暂无禁言的观众")]));
}

function unmute(m) {
  act(async () => {
    await call("DELETE", `/mutes/${m.id}`);
    for (const item of $("comments").querySelectorAll(`[data-customer="${m.customer}"]`)) item.classList.remove("muted-author");
    await loadMutes();
  });
}

// --- co-stream ----------------------------------------------------------------------------------
async function loadCostreams() {
  const page = await call("GET", "/costreams?page_size=100");
  const mine = page.results.filter((c) => c.inviter_room_id === roomId || c.invitee_room_id === roomId);
  $("costreams").replaceChildren(...mine.filter((c) => ["invited", "active", "accepted"].includes(c.status)).map(costreamItem));
  if (!$("costreams").children.length) $("costreams").append(el("li", { class: "muted" }, "暂无连麦"));
}

function costreamItem(c) {
  const run = (action) => () =>
    act(async () => {
      await call("POST", `/costreams/${c.id}/${action}`);
      await loadCostreams();
    });
  const buttons = [];
  if (c.status === "invited" && c.side === "invitee") buttons.push(["accept", "接受"], ["decline", "拒绝"]);
  buttons.push(["end", "结束连麦"]);
  return el(
    "li",
    { dataset: { id: c.id } },
    `${COSTREAM_STATUS[c.status] || c.status}：${c.partner.title}（${c.partner.brand}） `,
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
    const page = await call("GET", "/coupon-templates?page_size=100");
    templates = page.results || page; // the game forms offer every template as a prize
    const droppable = templates.filter((t) => t.droppable); // a drop refuses the others (store-only, ended)
    $("coupon-drop").template_id.replaceChildren(...droppable.map((t) => el("option", { value: t.id }, t.name)));
    $("coupon-panel").hidden = false;
    await loadDrops();
  } catch (err) {
    console.warn("coupon templates", err);
  }
  for (const select of document.querySelectorAll("#games select[name=coupon_template_id]")) {
    select.replaceChildren(...templates.map((t) => el("option", { value: t.id }, t.name)));
  }
}

$("coupon-drop").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(async () => {
    await call("POST", `/rooms/${roomId}/coupon-drops`, { template_id: Number(form.template_id.value), quantity: Number(form.quantity.value) });
    await loadDrops();
  });
});

async function loadDrops() {
  const drops = await call("GET", `/rooms/${roomId}/coupon-drops`);
  $("drops").replaceChildren(
    ...(drops.length
      ? drops.map((d) => el("tr", { dataset: { dropId: d.id } }, el("td", {}, d.name), el("td", { class: "claimed" }, `${d.quantity - d.remaining} / ${d.quantity}`)))
      : [el("tr", {}, el("td", { colspan: 2, class: "muted" }, "本场还没有发券"))]),
  );
}

// --- games: lotteries, gift boxes, group buys, bargains -------------------------------------------
for (const tab of document.querySelectorAll("#games [data-tab]")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll("#games [data-tab]")) {
      other.setAttribute("aria-selected", String(other === tab));
      $(`tab-${other.dataset.tab}`).hidden = other !== tab;
    }
  });
}

async function loadGames() {
  await Promise.all([loadLotteries(), loadGiftBoxes(), loadGroupBuys(), loadBargains()]);
}

const lotteryForm = $("lottery-form");
function lotteryFormFields() {
  const coupon = lotteryForm.prize_kind.value === "coupon";
  lotteryForm.querySelector("[data-for=physical]").hidden = coupon;
  lotteryForm.querySelector("[data-for=coupon]").hidden = !coupon;
  lotteryForm.querySelector("[data-for=keyword]").hidden = lotteryForm.rule.value !== "keyword";
}
lotteryForm.prize_kind.addEventListener("change", lotteryFormFields);
lotteryForm.rule.addEventListener("change", lotteryFormFields);

lotteryForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const f = lotteryForm;
  act(async () => {
    const body = { title: f.title.value, prize_kind: f.prize_kind.value, winner_count: Number(f.winner_count.value), rule: f.rule.value };
    if (body.prize_kind === "coupon") body.coupon_template_id = Number(f.coupon_template_id.value);
    else body.prize_name = f.prize_name.value;
    if (body.rule === "keyword") body.keyword = f.keyword.value;
    await call("POST", `/rooms/${roomId}/lotteries`, body);
    f.title.value = "";
    await loadLotteries();
  });
});

async function loadLotteries() {
  const rows = await call("GET", `/rooms/${roomId}/lotteries`);
  $("lotteries").replaceChildren(...(rows.length ? rows.map(lotteryCard) : [el("li", { class: "muted" }, "本场还没有抽奖")]));
}

function lotteryCard(l) {
  const run = (action) => () =>
    act(async () => {
      if (action === "draw" && !confirm(`现在为「${l.title}」开奖？`)) return;
      const answer = await call("POST", `/rooms/${roomId}/lotteries/${l.id}/${action}`);
      drawnWinners.set(l.id, answer.winners || []);
      await loadLotteries();
    });
  const winners = drawnWinners.get(l.id);
  return el(
    "li",
    { class: "card", dataset: { lotteryId: l.id, status: l.status } },
    el("b", {}, l.title),
    ` · ${l.prize.name} × ${l.winner_count} · ${LOTTERY_RULE[l.rule] || l.rule}${l.keyword ? `「${l.keyword}」` : ""}`,
    el("div", { class: "counts" }, el("span", { class: "status" }, LOTTERY_STATUS[l.status] || l.status), " · 参与 ", el("b", { "data-count": "entrants" }, l.entrant_count), " 人"),
    winners ? el("div", { class: "winners" }, winners.length ? `中奖：${winners.map((w) => w.nickname || `#${w.customer_id}`).join("、")}` : "无人中奖") : null,
    l.status === "open" ? el("div", { class: "buttons" }, el("button", { type: "button", class: "primary", onclick: run("draw") }, "开奖"), el("button", { type: "button", onclick: run("stop") }, "结束不开奖")) : null,
  );
}

for (const fieldset of document.querySelectorAll("#gift-box-form .prize")) {
  const sync = () => {
    const kind = fieldset.querySelector("[name=kind]").value;
    fieldset.querySelector("[name=coupon_template_id]").hidden = kind !== "coupon";
    fieldset.querySelector("[name=points]").hidden = kind !== "points";
  };
  fieldset.querySelector("[name=kind]").addEventListener("change", sync);
}

$("gift-box-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const f = event.target;
  act(async () => {
    const prizes = [];
    for (const fieldset of f.querySelectorAll(".prize")) {
      const field = (name) => fieldset.querySelector(`[name=${name}]`);
      if (!field("name").value.trim()) continue;
      const prize = { kind: field("kind").value, name: field("name").value.trim(), weight: Number(field("weight").value || 1) };
      if (field("stock").value !== "") prize.stock = Number(field("stock").value);
      if (prize.kind === "coupon") prize.coupon_template_id = Number(field("coupon_template_id").value);
      if (prize.kind === "points") prize.points = Number(field("points").value || 0);
      prizes.push(prize);
    }
    await call("POST", `/rooms/${roomId}/gift-boxes`, { title: f.title.value, watch_minutes: Number(f.watch_minutes.value), prizes });
    f.title.value = "";
    await loadGiftBoxes();
  });
});

async function loadGiftBoxes() {
  const boxes = await call("GET", `/rooms/${roomId}/gift-boxes`);
  $("gift-boxes").replaceChildren(...(boxes.length ? boxes.map(giftBoxCard) : [el("li", { class: "muted" }, "本场还没有礼盒")]));
}

function giftBoxCard(b) {
  const stop = () =>
    act(async () => {
      await call("POST", `/rooms/${roomId}/gift-boxes/${b.id}/stop`);
      await loadGiftBoxes();
    });
  const prizes = b.prizes.map((p) => `${p.name}${p.stock === null ? "" : `（剩 ${p.remaining}/${p.stock}）`}`).join("、");
  return el(
    "li",
    { class: "card", dataset: { boxId: b.id, status: b.status } },
    el("b", {}, b.title),
    ` · 看播 ${b.watch_minutes} 分钟 · ${prizes}`,
    el("div", { class: "counts" }, el("span", { class: "status" }, b.status === "open" ? "进行中" : "已关闭"), " · 已开 ", el("b", { "data-count": "opened" }, b.opened_count), " 次"),
    b.status === "open" ? el("div", { class: "buttons" }, el("button", { type: "button", onclick: stop }, "关闭礼盒")) : null,
  );
}

// Group buys and bargains are offers on one SKU of a product in the room, for this room.
function renderSkuChoices() {
  const options = () =>
    listings.flatMap((p) => p.skus.filter((s) => s.is_active).map((s) => el("option", { value: s.id }, `${p.name} ${s.spec} · ${yuan(s.price)} · 库存 ${s.stock}`)));
  for (const form of [$("group-buy-form"), $("bargain-form")]) {
    const keep = form.sku_id.value;
    form.sku_id.replaceChildren(...options());
    if (keep) form.sku_id.value = keep;
  }
}

function offerWindow() {
  const now = new Date();
  const showEnd = new Date(room.scheduled_end);
  const end = new Date(Math.max(showEnd.getTime(), now.getTime() + 2 * 3600 * 1000));
  return { starts_at: now.toISOString(), ends_at: end.toISOString() };
}

$("group-buy-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const f = event.target;
  act(async () => {
    await call("POST", "/group-buys", {
      sku_id: Number(f.sku_id.value),
      room_id: roomId,
      price: needFen(f.price.value, "拼团价"),
      group_size: Number(f.group_size.value),
      time_limit_minutes: Number(f.time_limit_minutes.value),
      ...offerWindow(),
    });
    f.price.value = "";
    await loadGroupBuys();
  });
});

async function loadGroupBuys() {
  const page = await call("GET", `/group-buys?room=${roomId}&page_size=50`);
  $("group-buys").replaceChildren(...(page.results.length ? page.results.map(groupBuyCard) : [el("li", { class: "muted" }, "本场还没有拼团")]));
}

function groupBuyCard(o) {
  const stop = () =>
    act(async () => {
      if (!confirm("停止拼团？未成团的团将关闭并退款。")) return;
      await call("POST", `/group-buys/${o.id}/stop`);
      await loadGroupBuys();
    });
  return el(
    "li",
    { class: "card", dataset: { offerId: o.id, active: o.is_active } },
    el("b", {}, o.title || o.product_name),
    ` · ${o.group_size} 人团 ${yuan(o.price)}（原价 ${yuan(o.sku_price)}）`,
    el(
      "div",
      { class: "counts" },
      el("span", { class: "status" }, o.is_active ? "进行中" : "已停止"),
      " · 拼团中 ", el("b", { "data-count": "forming" }, o.groups_forming),
      " · 已成团 ", el("b", { "data-count": "succeeded" }, o.groups_succeeded),
      " · 已付款 ", el("b", { "data-count": "paid" }, o.members_paid), " 人",
    ),
    o.is_active ? el("div", { class: "buttons" }, el("button", { type: "button", onclick: stop }, "停止拼团")) : null,
  );
}

$("bargain-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const f = event.target;
  act(async () => {
    await call("POST", "/bargain-offers", {
      sku_id: Number(f.sku_id.value),
      room_id: roomId,
      floor_price: needFen(f.floor_price.value, "底价"),
      helpers_needed: Number(f.helpers_needed.value),
      time_limit_minutes: Number(f.time_limit_minutes.value),
      ...offerWindow(),
    });
    f.floor_price.value = "";
    await loadBargains();
  });
});

async function loadBargains() {
  const page = await call("GET", `/bargain-offers?room=${roomId}&page_size=50`);
  $("bargains").replaceChildren(...(page.results.length ? page.results.map(bargainCard) : [el("li", { class: "muted" }, "本场还没有砍价")]));
}

function bargainCard(o) {
  const stop = () =>
    act(async () => {
      await call("POST", `/bargain-offers/${o.id}/stop`);
      await loadBargains();
    });
  return el(
    "li",
    { class: "card", dataset: { offerId: o.id, active: o.is_active } },
    el("b", {}, o.title || o.product_name),
    ` · ${yuan(o.sku_price)} 砍到 ${yuan(o.floor_price)} · ${o.helpers_needed} 人助力`,
    el(
      "div",
      { class: "counts" },
      el("span", { class: "status" }, o.is_active ? "进行中" : "已停止"),
      " · 发起 ", el("b", { "data-count": "started" }, o.bargains_started),
      " · 砍价中 ", el("b", { "data-count": "active" }, o.bargains_active),
      " · 已购买 ", el("b", { "data-count": "purchased" }, o.bargains_purchased),
    ),
    o.is_active ? el("div", { class: "buttons" }, el("button", { type: "button", onclick: stop }, "停止砍价")) : null,
  );
}

// --- the brand's settings: owners (and the platform operator) change them; operators read them -----
async function loadSettings() {
  const brand = await call("GET", "/brand");
  const f = $("brand-settings");
  for (const name of ["blocked_words", "blocked_word_action", "comments_per_minute", "reminder_lead_minutes", "reminder_template_id", "timezone"]) f[name].value = brand[name];
  f.allow_anonymous_viewers.checked = brand.allow_anonymous_viewers;
  f.reminder_cancel_notice.checked = brand.reminder_cancel_notice;
  f.reminder_template_data.value = Object.entries(brand.reminder_template_data || {}).map(([k, v]) => `${k}=${v}`).join("\n");
  const editable = canEditSettings();
  for (const field of f.elements) field.disabled = !editable;
  $("settings-who").textContent = editable ? "" : "（仅品牌所有者可修改）";
}

$("brand-settings").addEventListener("submit", (event) => {
  event.preventDefault();
  const f = event.target;
  act(async () => {
    const layout = {};
    for (const line of f.reminder_template_data.value.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const cut = line.indexOf("=");
      if (cut < 1) throw new ApiError(400, "invalid_layout", `开播提醒文案每行写作「字段=内容」，如 thing1={title} 开播啦：${line}`);
      layout[line.slice(0, cut).trim()] = line.slice(cut + 1).trim();
    }
    await call("PATCH", "/brand", {
      blocked_words: f.blocked_words.value,
      blocked_word_action: f.blocked_word_action.value,
      comments_per_minute: Number(f.comments_per_minute.value),
      allow_anonymous_viewers: f.allow_anonymous_viewers.checked,
      reminder_lead_minutes: Number(f.reminder_lead_minutes.value),
      reminder_template_id: f.reminder_template_id.value,
      reminder_template_data: layout,
      reminder_cancel_notice: f.reminder_cancel_notice.checked,
      timezone: f.timezone.value,
    });
    await loadSettings();
    show($("settings-saved"), "已保存");
    setTimeout(() => show($("settings-saved"), ""), 2000);
  });
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
  "comment.hidden": (data) => {
    $("comments").querySelector(`[data-id="${data.id}"]`)?.remove();
    if (String(data.id) === String(pinnedId)) setPinned(null);
  },
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
  "coupon.drop": () => loadDrops(),
  "lottery.open": () => loadLotteries(),
  "lottery.result": () => loadLotteries(),
};

if (session?.access && session.brand) start(session);
else $("login").hidden = false;
