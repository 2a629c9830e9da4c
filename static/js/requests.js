// The request list's live feed: rows pushed over a websocket are prepended to
// the table. The server renders (and escapes) each row; this script only
// places it. It applies the page's filters to each row first, and
// reconnects with a growing delay when the socket drops.
(function () {
  "use strict";

  // Empty filters stay out of the URL, so a filtered link reads as what it filters.
  var form = document.getElementById("filters");
  if (form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (field.name && !field.value) field.disabled = true;
      });
    });
    // Back/forward restores the page from cache with the fields still disabled.
    window.addEventListener("pageshow", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        field.disabled = false;
      });
    });
  }

  var tbody = document.getElementById("request-rows");
  var status = document.getElementById("live-status");
  if (!tbody || tbody.dataset.live !== "1" || !("WebSocket" in window)) {
    return;
  }
  var filtersNode = document.getElementById("live-filters");
  var filters = filtersNode ? JSON.parse(filtersNode.textContent) : {};
  var maxRows = parseInt(tbody.dataset.maxRows, 10) || 200;
  var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + tbody.dataset.wsPath;
  var delay = 1000;
  var MAX_DELAY = 30000;

  function setStatus(state, text) {
    status.className = "live-status " + state;
    status.textContent = text;
  }

  function matches(row) {
    if (filters.provider && row.provider !== filters.provider) return false;
    if (filters.model && row.requested_model !== filters.model && row.target_model !== filters.model) return false;
    if (filters.subagent && row.subagent !== filters.subagent) return false;
    if (filters.route && row.route !== filters.route) return false;
    if (filters.conversation && row.conversation_key !== filters.conversation) return false;
    if (filters.stream && (row.stream ? "1" : "0") !== filters.stream) return false;
    if (filters.error && (row.is_error ? "1" : "0") !== filters.error) return false;
    if (filters.status) {
      if (/xx$/.test(filters.status)) {
        if (Math.floor(row.status / 100) !== parseInt(filters.status.charAt(0), 10)) return false;
      } else if (String(row.status) !== filters.status) {
        return false;
      }
    }
    return true;
  }

  function insert(row) {
    if (!matches(row)) return;
    if (tbody.querySelector('tr[data-request-id="' + CSS.escape(row.request_id) + '"]')) return;
    var template = document.createElement("template");
    template.innerHTML = row.html.trim();
    var tr = template.content.querySelector("tr");
    if (!tr) return;
    var empty = tbody.querySelector("tr.empty-row");
    if (empty) empty.remove();
    tr.classList.add("fresh");
    tbody.insertBefore(tr, tbody.firstChild);
    var rows = tbody.querySelectorAll("tr.request-row");
    for (var i = maxRows; i < rows.length; i++) rows[i].remove();
  }

  function connect() {
    var socket = new WebSocket(url);
    socket.onopen = function () {
      delay = 1000;
      setStatus("connected", "live");
    };
    socket.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      // Rows come oldest first: each one prepended ends up below the next.
      (message.rows || []).forEach(insert);
    };
    socket.onclose = function () {
      var wait = delay + Math.random() * 500;
      setStatus("reconnecting", "reconnecting in " + Math.round(wait / 1000) + " s…");
      setTimeout(connect, wait);
      delay = Math.min(delay * 2, MAX_DELAY);
    };
  }

  connect();
})();
