// The operators' API, on this same origin, called with the operator's credential.
//
// The credential lives in one variable of this module: never in a URL (it travels in the
// Authorization header only), never in localStorage, never in a cookie. credential.js may
// keep an encrypted copy for reloads of this tab.

let credential = null;

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** The API's base: the console's files are served at <base>console/<file>. */
export function apiBase() {
  return new URL("..", import.meta.url);
}

export function useCredential(token) {
  credential = token;
}

export function dropCredential() {
  credential = null;
}

function explain(status, body) {
  const said = body && typeof body.message === "string" ? body.message : "";
  if (status === 401) return "The credential was not accepted (mistyped, rotated or revoked): sign in again.";
  if (status === 429) return "Too many requests with this credential for a moment: wait a second, then try again.";
  if (status >= 500) return `The API failed (${status}); try again, and tell the ops engineers if it persists.`;
  return said || `The API answered ${status}.`;
}

export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (credential) headers.Authorization = `Bearer ${credential}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(new URL(path.replace(/^\//, ""), apiBase()), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch (error) {
    throw new ApiError(0, "The API could not be reached: check your connection and try again.", null);
  }
  const text = await response.text();
  let answer = null;
  try {
    answer = text ? JSON.parse(text) : null;
  } catch {
    answer = { message: text };
  }
  if (!response.ok) throw new ApiError(response.status, explain(response.status, answer), answer);
  return answer;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);

/** Path segments are ids the API constrains, but encode them anyway. */
export function path(strings, ...values) {
  return strings.reduce((built, part, index) =>
    built + part + (index < values.length ? encodeURIComponent(values[index]) : ""), "");
}
