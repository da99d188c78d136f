// The viewer's page: what a brand's mini-program room page does, in a mobile-width browser page.
import { ApiError, RoomSocket, api, el, show, socketUrl, yuan } from "./api.js";

const roomId = Number(document.body.dataset.roomId);
const appid = document.body.dataset.appid;
const $ = (id) => document.getElementById(id);
const STORE_KEY = `siyu.viewer.${appid}`;
const MAX_COMMENTS = 100;
const LIKE_BATCH_MS = 1000; // taps are summed and sent at most once a second, 100 at most per frame

// Where the viewer came from (a festival venue, a co-stream partner, a share code), as the
// mini-program's page query passes it on: it is checked by the room detail and sent with orders.
const entrySource = new URLSearchParams(location.search).get("source") || "";
const roomPath = `/api/v1/mp/rooms/${roomId}` + (entrySource ? `?source=${encodeURIComponent(entrySource)}` : "");
const state = { snapshots: 0, room: null, me: null, token: null, products: new Map(), pushed: null, drops: new Map(), lotteries: new Map() };

// --- login --------------------------------------------------------------------------------------
// A real mini-program calls wx.login() and sends the code it gets; on the sandbox WeChat client
// (the embedded default) any code will do and the same code always maps to the same customer, so
// this page keeps one random code per browser as its "WeChat identity".
async function login(force = false) {
  const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
  if (!force && saved.token && saved.expiresAt > Date.now() + 60000) {
    Object.assign(state, { token: saved.token, me: saved.customer });
    return;
  }
  const code = saved.code || "h5" + crypto.randomUUID().replaceAll("-", "");
  const nickname = saved.customer?.nickname || `观众${code.slice(2, 6).toUpperCase()}`;
  const answer = await api("POST", "/api/v1/mp/login", { body: { appid, code, nickname } });
  state.token = answer.token;
  state.me = answer.customer;
  const record = { code, token: answer.token, customer: answer.customer, expiresAt: Date.now() + answer.expires_in * 1000 };
  localStorage.setItem(STORE_KEY, JSON.stringify(record));
}

const call = (method, path, body, headers) => api(method, path, { token: state.token, body, headers });

// Pictures that fail to load (offline demo, a dead link) are left out rather than shown broken.
for (const img of document.querySelectorAll("img")) img.addEventListener("error", () => img.classList.add("broken"));

// --- room ---------------------------------------------------------------------------------------
async function loadRoom() {
  // The room detail is the same for every viewer (cached); what is the viewer's own comes apart.
  const [room, mine] = await Promise.all([call("GET", roomPath), call("GET", `/api/v1/mp/rooms/${roomId}/me`)]);
  room.subscribed = mine.subscribed;
  state.room = room;
  state.mine = mine;
  state.source = entrySource;
  state.products = new Map(room.products.map((p) => [p.id, p]));
  $("title").textContent = room.title;
  $("anchor").textContent = room.anchor_name;
  document.title = room.title;
  if (room.cover_image_url) {
    $("cover").src = room.cover_image_url;
    $("cover").hidden = false;
  }
  setOnline(room.online);
  setLikes(room.likes);
  setPushed(room.pushed_product);
  setCostream(room.costream ? { status: "active", partner: room.costream.partner } : null);
  setStatus(room.status);
}

const ROOM_STATUS = { live: "直播中", paused: "已暂停", scheduled: "即将开始", ended: "已结束", cancelled: "已取消", banned: "已关闭" };
const ENDED_TEXT = { ended: "直播已结束", cancelled: "本场直播已取消", banned: "直播间已关闭" };

function setStatus(status) {
  const room = state.room;
  room.status = status;
  $("status").textContent = ROOM_STATUS[status] || status;
  $("status").dataset.status = status;
  $("upcoming").hidden = status !== "scheduled";
  const over = ["ended", "cancelled", "banned"].includes(status);
  $("ended").hidden = !over;
  if (over && !room.replay_url) $("ended-text").textContent = ENDED_TEXT[status];
  if (over && room.replay_url) {
    $("replay").src = room.replay_url;
    $("replay").hidden = false;
    $("cover").hidden = true;
    $("ended-text").textContent = "直播已结束，可观看回放";
  }
  $("composer").hidden = over;
  if (status === "scheduled") startCountdown();
  setPushed(state.pushed);
}

// When the room sells (livestream/sales.py, told by the room detail, the snapshot and each
// room.status event): its products while live and in the replay, nothing while paused. The
// server refuses an order all the same; the page shows why before the viewer taps.
const SALE_REFUSALS = {
  room_not_started: "直播尚未开始，开播后可购买",
  room_paused: "直播暂停中，恢复后可购买",
  room_ended: "直播已结束，商品已停售",
  live_offer_ended: "直播专享价已结束",
  room_not_selling: "本场直播暂不售卖",
};
const saleRefusal = () => {
  const selling = state.room?.selling;
  return selling && !selling.products ? selling.products_refusal || "room_not_selling" : null;
};

let countdownTimer;
function startCountdown() {
  const start = new Date(state.room.scheduled_start);
  $("starts-at").textContent = `开播时间：${start.toLocaleString("zh-CN", { month: "long", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit" })}`;
  setReminder(state.room.subscribed);
  const tick = () => {
    const left = Math.max(0, start - Date.now());
    const h = Math.floor(left / 3600000);
    const m = Math.floor((left % 3600000) / 60000);
    const s = Math.floor((left % 60000) / 1000);
    $("countdown").textContent = left ? `${h} 小时 ${String(m).padStart(2, "0")} 分 ${String(s).padStart(2, "0")} 秒` : "马上开播";
  };
  tick();
  clearInterval(countdownTimer);
  countdownTimer = setInterval(tick, 1000);
}

function setReminder(subscribed) {
  state.room.subscribed = subscribed;
  $("remind").textContent = subscribed ? "已预约提醒 ✓（点击取消）" : "开播提醒";
  $("remind").classList.toggle("primary", !subscribed);
}

// A mini-program asks wx.requestSubscribeMessage first: one grant is one reminder.
$("remind").addEventListener("click", async () => {
  try {
    const answer = await call(state.room.subscribed ? "DELETE" : "POST", `/api/v1/mp/rooms/${roomId}/reminder`);
    setReminder(answer.subscribed);
  } catch (err) {
    notice(err.message);
  }
});

const setOnline = (n) => ($("online").textContent = n);
let likeTotal = 0;
let pendingLikes = 0;
function setLikes(total) {
  likeTotal = Math.max(likeTotal, total);
  $("likes").textContent = likeTotal + pendingLikes;
}

function setCostream(costream) {
  const banner = $("costream");
  if (!costream || !["active", "accepted"].includes(costream.status)) return show(banner, "");
  show(banner, `正在与「${costream.partner.title}」（${costream.partner.brand}）连麦`);
}

function notice(text) {
  show($("notice"), text);
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => show($("notice"), ""), 5000);
}

// --- comments -----------------------------------------------------------------------------------
function commentItem(comment) {
  const mine = comment.customer.id === state.me?.id;
  return el(
    "li",
    { dataset: { id: comment.id }, class: mine ? "mine" : "" },
    el("b", {}, comment.customer.nickname || "观众"),
    " ",
    el("span", { class: "text" }, comment.text),
  );
}

function addComment(comment) {
  const list = $("comments");
  if (list.querySelector(`[data-id="${comment.id}"]`)) return;
  list.append(commentItem(comment));
  while (list.children.length > MAX_COMMENTS) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

function setPinned(comment) {
  const pinned = $("pinned");
  pinned.replaceChildren(...(comment ? ["置顶 · ", el("b", {}, comment.customer.nickname || "观众"), " ", comment.text] : []));
  pinned.hidden = !comment;
  pinned.dataset.id = comment ? comment.id : "";
}

// The moderation refusals in the page's own words; any other code shows the server's message, which
// the socket sends in the page's language (socketUrl passes it on as ?lang=).
const COMMENT_ERRORS = {
  muted: "你已被禁言，暂时不能评论。",
  comment_rate_limited: "评论太频繁了，请稍后再发。",
  comment_blocked: "评论含有本直播间不允许的词语。",
  login_required: "登录后才能评论。",
  comments_disabled: "本直播间已关闭评论。",
};

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("comment-text");
  const text = input.value.trim();
  if (!text) return show($("composer-error"), "请先输入评论内容。");
  if (!socket.send("comment", { text })) return show($("composer-error"), "正在连接直播间，请稍候再发。");
  show($("composer-error"), "");
  input.value = "";
});

// --- likes --------------------------------------------------------------------------------------
$("like").addEventListener("click", () => {
  pendingLikes += 1;
  $("likes").textContent = likeTotal + pendingLikes;
  if (!sendLikes.timer) sendLikes.timer = setTimeout(sendLikes, LIKE_BATCH_MS);
});

function sendLikes() {
  sendLikes.timer = null;
  const count = Math.min(pendingLikes, 100);
  if (count && socket.send("like", { count })) {
    pendingLikes -= count;
    likeTotal += count; // the room's total, announced once a second, catches up
  }
  if (pendingLikes) sendLikes.timer = setTimeout(sendLikes, LIKE_BATCH_MS);
}

// --- the pushed product and buying -------------------------------------------------------------
function priceText(p) {
  if (p.price_type === "range" && p.price2) return `${yuan(p.price)} – ${yuan(p.price2)}`;
  if (p.price_type === "discount" && p.price2) return `${yuan(p.price2)}  原价 ${yuan(p.price)}`;
  return yuan(p.price);
}

function setPushed(product) {
  state.pushed = product;
  const card = $("product");
  card.hidden = !product;
  if (!product) return;
  card.dataset.productId = product.id;
  $("product-cover").classList.remove("broken");
  $("product-cover").src = product.cover_url || "";
  $("product-name").textContent = product.name;
  $("product-price").textContent = priceText(product);
  const listed = state.products.has(product.id);
  const refusal = listed ? saleRefusal() : null;
  $("buy").disabled = !listed || Boolean(refusal);
  $("buy").textContent = !listed ? "未在售" : refusal ? "暂不可购买" : "马上抢";
  $("buy").dataset.refusal = refusal || "";
  show($("buy-reason"), refusal ? SALE_REFUSALS[refusal] || SALE_REFUSALS.room_not_selling : "");
}

// Opening the product card (a tap on it or on Buy) counts as a product click in the report's
// funnel: best-effort, nothing waits for it and an error changes nothing on screen.
$("product").addEventListener("click", () => {
  if (!state.pushed || !state.token) return;
  call("POST", `/api/v1/mp/rooms/${roomId}/product-clicks`, { product: state.pushed.id }).catch(() => {});
});

$("buy").addEventListener("click", async () => {
  let product = state.products.get(state.pushed?.id);
  if (!product || saleRefusal()) return;
  const select = $("sku");
  select.replaceChildren(
    ...product.skus.map((sku) => el("option", { value: sku.id, disabled: !sku.in_stock }, `${sku.spec || "默认规格"} — ${yuan(sku.price)}${sku.in_stock ? "" : "（已售罄）"}`)),
  );
  $("checkout-title").textContent = product.name;
  show($("checkout-error"), "");
  show($("order-status"), "");
  $("pay").disabled = false;
  $("checkout").showModal();
  loadCouponOptions();
});

// --- the checkout's coupon: the viewer's claimed coupons, as the order would judge them ----------
const COUPON_REFUSALS = {
  coupon_not_applicable: "不适用于该商品",
  coupon_min_spend_not_met: "未达使用门槛",
};
let couponRequest = 0;
async function loadCouponOptions() {
  const sku = Number($("sku").value);
  const quantity = Math.max(1, Number($("quantity").value) || 1);
  if (!sku) return;
  const asked = ++couponRequest;
  let options = [];
  try {
    options = await call("GET", `/api/v1/mp/coupons/for-purchase?sku=${sku}&quantity=${quantity}`);
  } catch (err) {
    console.warn("coupons", err);
  }
  if (asked !== couponRequest) return; // a later change asked again
  const previous = $("coupon").value;
  $("coupon").replaceChildren(
    el("option", { value: "" }, "不使用优惠券"),
    ...options.map((o) =>
      el(
        "option",
        { value: o.coupon.id, disabled: !o.applies, dataset: { discount: o.discount } },
        o.applies ? `${o.coupon.template.name} — 减 ${yuan(o.discount)}` : `${o.coupon.template.name}（${COUPON_REFUSALS[o.refusal] || "不可用"}）`,
      ),
    ),
  );
  // The best one that applies is chosen for the viewer (they may pick another, or none).
  const keep = options.find((o) => o.applies && String(o.coupon.id) === previous);
  const best = options.find((o) => o.applies);
  $("coupon").value = keep ? previous : best ? String(best.coupon.id) : "";
  showDiscount();
}

function showDiscount() {
  const discount = Number($("coupon").selectedOptions[0]?.dataset.discount || 0);
  const product = state.products.get(state.pushed?.id);
  const sku = product?.skus.find((s) => String(s.id) === $("sku").value);
  const amount = (sku?.price || 0) * Math.max(1, Number($("quantity").value) || 1);
  show($("coupon-discount"), discount ? `优惠 -${yuan(discount)}，商品金额 ${yuan(amount)} → ${yuan(amount - discount)}` : "");
}

$("sku").addEventListener("change", loadCouponOptions);
$("quantity").addEventListener("change", loadCouponOptions);
$("coupon").addEventListener("change", showDiscount);

$("checkout-form").addEventListener("submit", async (event) => {
  if (event.submitter?.value !== "pay") return;
  event.preventDefault();
  const form = new FormData(event.target);
  const address = Object.fromEntries(["name", "phone", "province", "city", "district", "detail"].map((k) => [k, form.get(k)]));
  $("pay").disabled = true;
  show($("checkout-error"), "");
  try {
    // One key per purchase attempt: a retried request answers the same order, never a second one.
    const key = crypto.randomUUID();
    const body = {
      lines: [{ sku: Number(form.get("sku")), quantity: Number(form.get("quantity")) }],
      room_id: roomId,
      source: state.source,
      delivery: "ship",
      address,
      ...(form.get("coupon") ? { coupon_id: Number(form.get("coupon")) } : {}),
    };
    let order = await call("POST", "/api/v1/mp/orders", body, { "Idempotency-Key": key });
    showOrder(order, "已下单，正在支付…");
    // A mini-program passes `params` to wx.requestPayment; on the sandbox the customer "pays" with
    // sandbox-pay, which sends WeChat Pay's signed notification to the same notification code.
    await call("POST", `/api/v1/mp/orders/${order.id}/pay`);
    order = await call("POST", `/api/v1/mp/orders/${order.id}/sandbox-pay`);
    order = await waitUntilPaid(order);
    showOrder(order);
  } catch (err) {
    show($("checkout-error"), SALE_REFUSALS[err.code] || err.message);
    $("pay").disabled = false;
    if (err.code?.startsWith("coupon_")) loadCouponOptions(); // its state changed: ask again
  }
});

async function waitUntilPaid(order) {
  for (let i = 0; order.status === "pending_payment" && i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    order = await call("GET", `/api/v1/mp/orders/${order.id}`);
  }
  return order;
}

const ORDER_STATUS = {
  pending_payment: "待支付",
  paid: "支付成功",
  shipped: "已发货",
  completed: "已完成",
  cancelled: "已取消",
  refunding: "退款中",
  refunded: "已退款",
};

function showOrder(order, note) {
  const status = note || ORDER_STATUS[order.status] || order.status;
  const coupon = order.coupon ? `（${order.coupon.name} -${yuan(order.coupon.discount)}）` : "";
  show($("order-status"), `订单 ${order.number}：实付 ${yuan(order.payable)}${coupon} — ${status}`);
  $("order-status").dataset.status = order.status;
}

// --- coupons --------------------------------------------------------------------------------------
// The room's drops still open, for a viewer who joins late; new ones arrive as `coupon.drop` events.
async function loadDrops() {
  try {
    const answer = await call("GET", `/api/v1/mp/rooms/${roomId}/coupon-drops`);
    for (const drop of answer.results || answer) addDrop(drop);
  } catch (err) {
    console.warn("coupon drops", err);
  }
}

function addDrop(drop) {
  state.drops.set(drop.id, drop);
  const shelf = $("coupons");
  const item = el(
    "div",
    { class: "coupon", dataset: { id: drop.id } },
    el("strong", {}, drop.name),
    el("span", { class: "muted" }, drop.description || ""),
    el("span", { class: "muted remaining" }, drop.remaining !== undefined ? `剩余 ${drop.remaining} 张` : ""),
    el("button", { type: "button", class: "primary", onclick: (e) => claim(drop, e.target) }, "领取"),
  );
  shelf.querySelector(`[data-id="${drop.id}"]`)?.remove();
  shelf.append(item);
  shelf.hidden = false;
}

async function claim(drop, button) {
  button.disabled = true;
  try {
    await call("POST", `/api/v1/mp/coupons/drops/${drop.id}/claim`);
    button.textContent = "已领取 ✓";
  } catch (err) {
    notice(err.message);
    button.disabled = false;
  }
}

// --- lotteries ------------------------------------------------------------------------------------
// An open lottery shows its prize, its rule and a join button; at the draw the card names the
// winners and the revealed seed, which with the proof endpoint lets anyone check the draw.
const LOTTERY_RULES = {
  present: "在线观看即可参与",
  keyword: "发送口令评论参与",
  liked: "点赞直播间即可参与",
  subscribed: "预约开播提醒的观众可参与",
  new_customers: "未下过单的新客可参与",
};

async function loadLotteries() {
  try {
    for (const lottery of await call("GET", `/api/v1/mp/rooms/${roomId}/lotteries`)) showLottery(lottery);
  } catch (err) {
    console.warn("lotteries", err);
  }
}

function showLottery(lottery) {
  const known = state.lotteries.get(lottery.id) || {};
  lottery = { ...known, ...lottery };
  state.lotteries.set(lottery.id, lottery);
  const rule = LOTTERY_RULES[lottery.rule] || "";
  const drawn = Boolean(lottery.seed) || lottery.status === "drawn";
  const winners = (lottery.winners || []).map((w) => w.nickname || `观众 #${w.customer_id}`).join("、");
  const mine = (lottery.winners || []).some((w) => w.customer_id === state.me?.id);
  const item = el(
    "div",
    { class: "coupon lottery", dataset: { id: lottery.id, status: drawn ? "drawn" : "open" } },
    el("strong", {}, `🎁 ${lottery.title}`),
    el("span", { class: "muted" }, `${lottery.prize?.name || ""}${lottery.winner_count ? ` · ${lottery.winner_count} 人中奖` : ""}`),
    el("span", { class: "muted" }, lottery.rule === "keyword" ? `${rule}：「${lottery.keyword}」` : rule),
    drawn
      ? el("span", { class: "winners" }, mine ? "恭喜你中奖了！" : winners ? `中奖名单：${winners}` : "已开奖：无人中奖")
      : el("button", { type: "button", class: "primary", disabled: Boolean(lottery.joined), onclick: (e) => joinLottery(lottery, e.target) },
          lottery.joined ? "已参与 ✓" : "参与抽奖"),
  );
  const shelf = $("coupons");
  shelf.querySelector(`.lottery[data-id="${lottery.id}"]`)?.remove();
  shelf.append(item);
  shelf.hidden = false;
}

async function joinLottery(lottery, button) {
  button.disabled = true;
  try {
    showLottery(await call("POST", `/api/v1/mp/rooms/${roomId}/lotteries/${lottery.id}/join`));
  } catch (err) {
    notice(err.message);
    button.disabled = false;
  }
}

// --- the socket ----------------------------------------------------------------------------------
const handlers = {
  snapshot(data) {
    // Every (re)connection starts from here: the feed is rebuilt, nothing is counted twice.
    state.snapshots += 1;
    $("comments").replaceChildren();
    for (const comment of data.comments) addComment(comment.data || comment);
    setPinned(data.pinned_comment);
    setOnline(data.online);
    setLikes(data.likes);
    if (data.room.selling) state.room.selling = data.room.selling;
    if (data.room.status !== state.room.status) setStatus(data.room.status);
    else setPushed(state.pushed);
    if ((data.pushed_product?.id || null) !== (state.pushed?.id || null)) refreshProducts(data.pushed_product);
  },
  comment: addComment,
  "comment.hidden": (data) => {
    $("comments").querySelector(`[data-id="${data.id}"]`)?.remove();
    if ($("pinned").dataset.id === String(data.id)) setPinned(null);
  },
  "comment.pinned": (data) => setPinned(data.comment),
  likes: (data) => setLikes(data.total),
  viewers: (data) => setOnline(data.online),
  "product.push": (data) => refreshProducts(data.product),
  "product.sale": () => refreshProducts(state.pushed),
  "room.status": (data) => {
    Object.assign(state.room, { started_at: data.started_at, ended_at: data.ended_at });
    if (data.selling) state.room.selling = data.selling;
    setStatus(data.status);
  },
  costream: setCostream,
  "coupon.drop": addDrop,
  "lottery.open": showLottery,
  "lottery.result": (data) => showLottery({ ...data, status: "drawn" }),
  "lottery.stopped": (data) => $("coupons").querySelector(`.lottery[data-id="${data.id}"]`)?.remove(),
  "customer.muted": (data) => {
    if (data.customer_id === state.me?.id) show($("composer-error"), COMMENT_ERRORS.muted);
  },
  "customer.unmuted": (data) => {
    if (data.customer_id === state.me?.id) show($("composer-error"), "");
  },
  error: (data) => show($("composer-error"), COMMENT_ERRORS[data.code] || data.message),
};

// The room's on-sale products change with pushes and sales: read them again, then show the card.
async function refreshProducts(pushed) {
  try {
    const room = await call("GET", roomPath);
    state.products = new Map(room.products.map((p) => [p.id, p]));
  } catch (err) {
    console.warn("room", err);
  }
  setPushed(pushed);
}

let socket;
async function main() {
  try {
    await login();
    await loadRoom();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      await login(true);
      await loadRoom();
    } else {
      show($("composer-error"), err.message);
      return;
    }
  }
  loadDrops();
  loadLotteries();
  socket = new RoomSocket(() => socketUrl(roomId, { token: state.token, ...(state.source ? { source: state.source } : {}) }), {
    onEvent: (type, data) => handlers[type]?.(data),
    onState: async (what, code, text) => {
      show($("connection"), what === "open" ? "" : text);
      if (code === 4401) await login(true); // the token expired: log in again before the retry
    },
  });
  socket.connect();
  window.siyuViewer = { socket, state }; // for the browser tests and curious developers
}

main();
