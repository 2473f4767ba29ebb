// The operators' console: sign-in, navigation and the three screens.
//
// Routes live in the URL's fragment (#/attention, #/orders/<tenant>/<order>, #/performance):
// they name objects, never the credential, and the fragment is never sent to a server.

import { ApiError, dropCredential, get, useCredential } from "./api.js";
import { forget, seal, unseal } from "./credential.js";
import { announce, h, replaceChildren } from "./dom.js";
import { renderAttention } from "./attention.js";
import { renderPerformance } from "./performance.js";
import { renderTimeline } from "./timeline.js";

const main = document.getElementById("main");
const signInSection = document.getElementById("sign-in");
const signInForm = document.getElementById("sign-in-form");
const signInProblem = document.getElementById("sign-in-problem");
const credentialInput = document.getElementById("credential");

/** What every screen may use: who is signed in, and a few shared caches. */
const context = {
  caller: null,
  policies: new Map(),
  // Deadlines within 7 days by default: a ship-by is often a handling day and a weekend
  // away, so the API's own default (24 h) would hide most orders at risk.
  attentionFilters: { tenant: "", warehouse: "", reason: "", within: "168" },
};

const ROUTES = [
  { pattern: /^#?\/?(?:attention)?$/, name: "attention", render: (view) => renderAttention(view, context) },
  {
    pattern: /^#\/orders\/([a-z0-9][a-z0-9-]{0,29})\/([^/]+)$/,
    name: "attention",
    render: (view, match) => renderTimeline(view, context, match[1], decodeURIComponent(match[2])),
  },
  { pattern: /^#\/performance$/, name: "performance", render: (view) => renderPerformance(view, context) },
];

function showSignIn(problem) {
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  replaceChildren(main, signInSection);
  signInSection.hidden = false;
  signInProblem.hidden = !problem;
  signInProblem.textContent = problem || "";
  credentialInput.focus();
}

function showSignedIn() {
  const { caller } = context;
  document.getElementById("who-party").textContent = `${caller.party} · ${caller.tenants.join(", ")}`;
  document.getElementById("nav").hidden = false;
  document.getElementById("who").hidden = false;
}

async function route() {
  if (!context.caller) return showSignIn();
  const hash = window.location.hash;
  const found = ROUTES.map((candidate) => [candidate, hash.match(candidate.pattern)]).find(([, match]) => match);
  for (const link of document.querySelectorAll("#nav a")) {
    link.toggleAttribute("aria-current", false);
    if (found && link.dataset.route === found[0].name) link.setAttribute("aria-current", "page");
  }
  // Each screen draws into its own element: a slow answer for a screen the operator has
  // already left lands in a detached element and is never seen.
  const view = h("div", { class: "view" });
  replaceChildren(main, view);
  if (!found) {
    view.append(h("h1", { tabindex: "-1" }, "Not found"),
      h("p", {}, "This console has no such page. ", h("a", { href: "#/attention" }, "Back to what needs attention")));
    return;
  }
  try {
    await found[0].render(view, found[1]);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signOut("Your credential is no longer accepted: sign in again.");
    view.append(h("p", { class: "problem", role: "alert" }, error.message || String(error)));
  }
  const heading = view.querySelector("h1");
  if (heading && document.activeElement === document.body) heading.focus();
}

async function signIn(token, remember) {
  useCredential(token);
  let caller;
  try {
    caller = await get("caller");
  } catch (error) {
    dropCredential();
    throw error;
  }
  if (caller.role !== "operator") {
    dropCredential();
    throw new Error(`This is a ${caller.role} credential (${caller.party}): the console is for operators.`);
  }
  context.caller = caller;
  context.policies.clear();
  if (remember) await seal(token);
  showSignedIn();
  announce(`Signed in as ${caller.party}`);
}

async function signOut(problem) {
  dropCredential();
  context.caller = null;
  context.policies.clear();
  await forget();
  showSignIn(problem);
}

signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  // What `dev.py stack` prints, or onboarding returns: with or without the "Bearer " in front.
  const token = credentialInput.value.trim().replace(/^Bearer\s+/i, "");
  const button = document.getElementById("sign-in-button");
  if (!/^mlk_[a-z0-9]+\..+$/.test(token)) {
    signInProblem.textContent = "That is not an operator credential: it looks like mlk_<id>.<secret>.";
    signInProblem.hidden = false;
    credentialInput.focus();
    return;
  }
  button.disabled = true;
  try {
    await signIn(token, document.getElementById("remember").checked);
    credentialInput.value = "";  // not left in the DOM either
    if (!window.location.hash) window.location.hash = "#/attention";  // the hashchange draws it
    else await route();
  } catch (error) {
    signInProblem.textContent = error.message;
    signInProblem.hidden = false;
    credentialInput.focus();
  } finally {
    button.disabled = false;
  }
});

document.getElementById("sign-out").addEventListener("click", () => signOut());
document.getElementById("skip").addEventListener("click", () => {
  (main.querySelector("h1") || main).focus();
});
window.addEventListener("hashchange", () => {
  route().then(() => {
    const heading = main.querySelector("h1");
    if (heading) heading.focus();
  });
});

async function start() {
  const kept = await unseal();
  if (kept) {
    try {
      await signIn(kept, true);
    } catch {
      await signOut("Your session ended: sign in again.");
      document.getElementById("sign-in-button").disabled = false;
      return;
    }
  }
  document.getElementById("sign-in-button").disabled = false;
  await route();
}

start();
