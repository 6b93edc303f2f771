/*! mqlapp tracking tag — page views, mql.track / identify / page; no dependencies.
 *  <script async src="https://APP/static/mqlapp/mql.js" data-write-key="KEY"></script>
 *  Calls made before it loads: window.mql = window.mql || []; mql.push(["track", "Name", {}]);
 */
(function (window, document) {
  "use strict";
  var VERSION = "1.0.0";
  var COOKIE = "mql_aid";
  var USER_KEY = "mql_uid";
  var YEAR_SECONDS = 31536000;
  var MAX_PER_REQUEST = 20; // keeps a keepalive body well under the browsers' 64 KB
  var UTM = { utm_source: "source", utm_medium: "medium", utm_campaign: "name", utm_term: "term", utm_content: "content" };

  var before = window.mql;
  if (before && before.loaded) return; // the tag is on the page twice

  var script = document.currentScript;
  if (!script) {
    var tagged = document.querySelectorAll("script[data-write-key]");
    script = tagged[tagged.length - 1];
  }
  if (!script || !script.getAttribute("data-write-key")) return;
  var writeKey = script.getAttribute("data-write-key");
  var appOrigin = new URL(script.src, window.location.href).origin;
  var endpoint = appOrigin + "/v1/batch";

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function readCookie(name) {
    var found = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return found ? decodeURIComponent(found[1]) : null;
  }

  function writeCookie(name, value) {
    var cookie = name + "=" + encodeURIComponent(value) + "; path=/; max-age=" + YEAR_SECONDS + "; SameSite=Lax";
    var domain = script.getAttribute("data-cookie-domain");
    if (domain) cookie += "; domain=" + domain;
    if (window.location.protocol === "https:") cookie += "; Secure";
    document.cookie = cookie;
  }

  function storage(action, value) {
    try {
      if (action === "get") return window.localStorage.getItem(USER_KEY);
      if (action === "set") window.localStorage.setItem(USER_KEY, value);
      if (action === "remove") window.localStorage.removeItem(USER_KEY);
    } catch (e) { /* storage disabled: the id lives for this page only */ }
    return null;
  }

  function assign(target) {
    for (var i = 1; i < arguments.length; i++) {
      var source = arguments[i];
      if (source && typeof source === "object") {
        for (var key in source) if (Object.prototype.hasOwnProperty.call(source, key)) target[key] = source[key];
      }
    }
    return target;
  }

  var anonymousId = readCookie(COOKIE) || uuid();
  writeCookie(COOKIE, anonymousId); // first-party, one year from the last visit
  var userId = storage("get");

  function campaign() {
    var found = {};
    var params = new URLSearchParams(window.location.search);
    for (var key in UTM) if (params.get(key)) found[UTM[key]] = params.get(key);
    return found;
  }

  function pageProperties() {
    return {
      url: window.location.href,
      path: window.location.pathname,
      title: document.title,
      referrer: document.referrer,
      search: window.location.search
    };
  }

  function context() {
    var ctx = {
      library: { name: "mql.js", version: VERSION },
      page: pageProperties(),
      userAgent: window.navigator.userAgent,
      locale: window.navigator.language
    };
    var utm = campaign();
    if (Object.keys(utm).length) ctx.campaign = utm;
    return ctx;
  }

  var queue = [];
  var timer = null;

  function enqueue(message) {
    message.messageId = uuid();
    message.timestamp = new Date().toISOString();
    message.anonymousId = anonymousId;
    if (userId) message.userId = userId;
    message.context = assign(context(), message.context);
    queue.push(message);
    if (!timer) timer = window.setTimeout(flush, 50); // calls made together travel together
  }

  function send(body, leaving) {
    var blob = new Blob([body], { type: "text/plain" }); // a "simple" request: no preflight
    if (leaving && window.navigator.sendBeacon && window.navigator.sendBeacon(endpoint, blob)) return;
    if (window.fetch) {
      window.fetch(endpoint, {
        method: "POST",
        body: body,
        headers: { "Content-Type": "text/plain" },
        credentials: "omit",
        keepalive: true
      }).catch(function () { /* offline or refused: nothing to do */ });
      return;
    }
    if (window.navigator.sendBeacon && window.navigator.sendBeacon(endpoint, blob)) return;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", endpoint, true);
    xhr.setRequestHeader("Content-Type", "text/plain");
    xhr.send(body);
  }

  function flush(leaving) {
    if (timer) window.clearTimeout(timer);
    timer = null;
    while (queue.length) {
      var batch = queue.splice(0, MAX_PER_REQUEST);
      send(JSON.stringify({ batch: batch, writeKey: writeKey, sentAt: new Date().toISOString() }), leaving === true);
    }
  }

  function tagForm(form) {
    // Forms that post to this app's /f/<slug>/ carry the visitor's id, so the lead gets the history.
    var action;
    try { action = new URL(form.getAttribute("action") || "", window.location.href); } catch (e) { return; }
    if (action.origin !== appOrigin || !/^\/f\/[^/]+\/?$/.test(action.pathname)) return;
    var input = form.querySelector('input[name="' + COOKIE + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = COOKIE;
      form.appendChild(input);
    }
    if (!input.value) input.value = anonymousId;
  }

  function tagForms() {
    var forms = document.querySelectorAll("form");
    for (var i = 0; i < forms.length; i++) tagForm(forms[i]);
  }

  var mql = {
    loaded: true,
    version: VERSION,
    track: function (event, properties) {
      if (!event) return;
      enqueue({ type: "track", event: String(event), properties: properties || {} });
    },
    page: function (name, properties) {
      if (name && typeof name === "object") { properties = name; name = null; }
      var message = { type: "page", properties: assign(pageProperties(), properties) };
      if (name) message.name = String(name);
      enqueue(message);
    },
    identify: function (id, traits) {
      if (id && typeof id === "object") { traits = id; id = null; }
      if (id !== null && id !== undefined && id !== "") {
        userId = String(id);
        storage("set", userId);
      }
      enqueue({ type: "identify", traits: traits || {} });
    },
    reset: function () {
      userId = null;
      storage("remove");
      anonymousId = uuid();
      writeCookie(COOKIE, anonymousId);
    },
    anonymousId: function () { return anonymousId; },
    flush: flush,
    push: function (call) {
      if (!call || !call.length || typeof mql[call[0]] !== "function" || call[0] === "push") return;
      mql[call[0]].apply(mql, Array.prototype.slice.call(call, 1));
    }
  };

  var pending = before && before.length ? Array.prototype.slice.call(before) : [];
  window.mql = mql;
  var pagesQueued = pending.some(function (call) { return call && call[0] === "page"; });
  if (script.getAttribute("data-auto-page") !== "false" && !pagesQueued) mql.page();
  for (var i = 0; i < pending.length; i++) mql.push(pending[i]);

  document.addEventListener("submit", function (event) {
    if (event.target && event.target.tagName === "FORM") tagForm(event.target);
  }, true);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", tagForms);
  else tagForms();
  window.addEventListener("pagehide", function () { flush(true); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush(true);
  });
})(window, document);
