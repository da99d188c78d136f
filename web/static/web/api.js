// The REST and websocket client both pages share: exactly what a mini-program would do with
// wx.request and wx.connectSocket. Errors come back in Siyu's one shape:
// {"error": {"code", "message", "fields"}}, their messages in the page's language (<html lang>):
// the API reads it from Accept-Language, the room's socket from ?lang= (a browser cannot set a
// websocket's headers). A page words the codes it knows itself and shows the server's message
// for any other.

export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || {};
  }
}

export const LANGUAGE = document.documentElement.lang || "zh-Hans";

export async function api(method, path, { token, brand, body, headers } = {}) {
  const init = { method, headers: { Accept: "application/json", "Accept-Language": LANGUAGE, ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (brand) init.headers["X-Brand"] = String(brand);
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "network", "网络连接失败，请重试。");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "http_" + response.status, error.message || `请求失败（HTTP ${response.status}）`, error.fields);
  }
  return data;
}

export const yuan = (fen) => "¥" + (fen / 100).toFixed(2);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function show(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

// Close codes after which reconnecting cannot help (README, "Websocket").
const FINAL = { 4403: "无权进入该直播间。", 4404: "直播间不存在。", 4409: "直播已结束。" };
const RETRY_LATER = 1013; // the server's live store is unreachable for a moment: reconnect, backing off
const PING_EVERY = 15000;
const PONG_WAIT = 10000;

// One room socket that reconnects after a drop (backing off up to 10 s) and starts again from the
// snapshot the server sends first on every connection. `tick` frames (very large rooms) carry
// several events: they are unpacked, so handlers only ever see plain events.
export class RoomSocket {
  constructor(url, { onEvent, onState }) {
    this.url = url; // a function, so a fresh token is used on each reconnect
    this.onEvent = onEvent;
    this.onState = onState || (() => {});
    this.attempt = 0;
    this.stopped = false;
  }

  connect() {
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.onState("open");
      this.pinger = setInterval(() => this.ping(), PING_EVERY);
    };
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "snapshot") this.attempt = 0; // joined: a socket refused after opening (1013) keeps backing off
      if (frame.type === "pong") {
        clearTimeout(this.pongTimer);
        return;
      }
      for (const event of frame.type === "tick" ? frame.data.events : [frame]) this.onEvent(event.type, event.data || {});
    };
    socket.onclose = (event) => {
      clearInterval(this.pinger);
      clearTimeout(this.pongTimer);
      if (this.socket !== socket || this.stopped) return;
      if (FINAL[event.code]) {
        this.onState("closed", event.code, FINAL[event.code]);
        return;
      }
      // With jitter, so that the sockets a server closed at once (1013: live updates unavailable) do not return at once.
      const delay = Math.min(10000, 500 * 2 ** this.attempt++) * (0.75 + Math.random() / 2);
      const why = event.code === RETRY_LATER ? "实时互动暂时中断" : "连接已断开";
      this.onState("reconnecting", event.code, `${why}，${Math.max(1, Math.round(delay / 1000))} 秒后重新连接…`);
      this.retry = setTimeout(() => this.connect(), delay);
    };
  }

  ping() {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.send("ping", { t: Date.now() });
    // A socket can die silently (phone asleep, NAT dropped it): no pong in time means reconnect.
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => this.socket.close(), PONG_WAIT);
  }

  send(type, data = {}) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify({ type, data }));
    return true;
  }

  // Drop the connection as a network failure would (the reconnect path is the normal one).
  drop() {
    this.socket.close();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    if (this.socket) this.socket.close();
  }
}

export function socketUrl(roomId, params) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/rooms/${roomId}/?${new URLSearchParams({ ...params, lang: LANGUAGE })}`;
}
