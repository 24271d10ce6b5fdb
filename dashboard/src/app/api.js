// Talking to the server: the bearer token, JSON requests, and the change stream.
//
// The token comes from the URL fragment (#token=..., which browsers never send to the server),
// or from the sign-in form; it is kept in sessionStorage (this tab only) and the fragment is
// removed from the address bar at once. Every request sends it as "Authorization: Bearer".
// The stream is read with fetch() and a stream reader rather than EventSource, because
// EventSource cannot send headers and a token in the URL would end up in access logs.

const TOKEN_KEY = "edgeorch.token";

export class Unauthorized extends Error {}
export class NotAvailable extends Error {}

export function takeTokenFromUrl() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY) || "";
  return { Authorization: `Bearer ${token}`, ...extra };
}

async function problemText(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || response.statusText;
  } catch {
    return response.statusText;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: headers() };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(`/api/v1${path}`, init);
  if (response.status === 401) throw new Unauthorized(await problemText(response));
  if (response.status === 404 || response.status === 405) {
    throw new NotAvailable(await problemText(response));
  }
  if (!response.ok) throw new Error(`${method} ${path}: ${await problemText(response)}`);
  return response.json();
}

// Follow /api/v1/stream from `since`; calls onEvent(type, data, id) for each message.
// Resolves when the stream ends (server restart, reset, network error); the caller reconnects.
export async function followStream(since, onEvent, signal) {
  const response = await fetch(`/api/v1/stream?since=${since}`, {
    headers: headers({ Accept: "text/event-stream" }),
    cache: "no-store",
    signal,
  });
  if (response.status === 401) throw new Unauthorized(await problemText(response));
  if (!response.ok) throw new Error(`stream: ${await problemText(response)}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = parseBlock(block);
      if (message) onEvent(message.event, message.data, message.id);
    }
  }
}

function parseBlock(block) {
  let event = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  return { event, id, data: JSON.parse(data.join("\n")) };
}
