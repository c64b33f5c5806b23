// verbund: small progressive enhancement for the server-rendered UI.
// Loaded with <script src="/static/app.js" defer>; no inline script, no eval,
// no dependencies, so it runs under CSP script-src 'self'. Every page works
// without it; this file only adds live updates, shortcuts and conveniences.
(function () {
  'use strict';

  var doc = document;
  var body = doc.body;

  // ---------- Screen-reader announcements (#live-status, aria-live="polite") ----------
  // Texts come from data attributes the server renders through the i18n catalogue:
  // data-msg-connecting, data-msg-connected, data-msg-disconnected, data-msg-new, data-msg-reloading, data-msg-copied.
  var statusEl = doc.getElementById('live-status');
  function msg(name, fallback) { return (statusEl && statusEl.getAttribute('data-msg-' + name)) || fallback; }
  function announce(text) {
    if (!statusEl || !text) return;
    statusEl.textContent = '';
    // A fresh text node after a tick makes screen readers repeat identical messages.
    setTimeout(function () { statusEl.textContent = text; }, 50);
  }

  // ---------- CSRF for state-changing fetch calls ----------
  // Forms carry a hidden _csrf field rendered by the server; script-initiated
  // requests send the token from <meta name="csrf-token"> as X-CSRF-Token.
  function csrfToken() {
    var m = doc.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') || '' : '';
  }
  function send(url, opts) {
    opts = opts || {};
    var method = (opts.method || 'GET').toUpperCase();
    var headers = new Headers(opts.headers || {});
    if (method !== 'GET' && method !== 'HEAD') headers.set('X-CSRF-Token', csrfToken());
    return fetch(url, Object.assign({}, opts, { method: method, headers: headers, credentials: 'same-origin' }));
  }
  window.verbund = Object.freeze({ fetch: send, announce: announce });

  // ---------- Live updates over Server-Sent Events ----------
  var liveURL = body && body.getAttribute('data-live');
  var indicators = doc.querySelectorAll('.live');
  function setLive(state) {
    var label = msg(state, '');
    indicators.forEach(function (el) {
      el.classList.toggle('connected', state === 'connected');
      el.classList.toggle('disconnected', state !== 'connected');
      if (label) el.setAttribute('title', label);
    });
  }

  function sameOrigin(url) {
    try {
      var u = new URL(url, location.href);
      return u.origin === location.origin ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  // Lists name the event types they take (space separated) in
  // data-live-list; data-live-view picks another fragment of the same event
  // (e.g. "feed" uses data.feed instead of data.fragment); data-live-move
  // lists (threads by last activity) take a new version of an entry they
  // show and move it to the top.
  function insertInto(list, html, replace) {
    // Safe: html is a same-origin fragment that the server rendered through
    // html/template (contextual escaping) after the policy check for this
    // user; <template> parsing runs no scripts and CSP forbids inline script.
    var tpl = doc.createElement('template');
    tpl.innerHTML = html;
    var nodes = Array.prototype.slice.call(tpl.content.children);
    var asc = list.getAttribute('data-live-order') === 'asc';
    var move = list.hasAttribute('data-live-move');
    if (!asc) nodes.reverse();
    var added = 0;
    nodes.forEach(function (node) {
      var existing = node.id && doc.getElementById(node.id);
      if (existing && !replace && !move) return; // already on the page
      node.classList.add('new-item');
      if (existing && move) {
        existing.remove();
      } else if (existing) {
        existing.replaceWith(node);
        added++;
        return;
      }
      if (asc) {
        list.appendChild(node);
      } else {
        list.insertBefore(node, list.firstElementChild);
      }
      added++;
    });
    if (added) list.querySelectorAll('[data-live-empty]').forEach(function (e) { e.remove(); });
    return added;
  }

  // withdrawn applies an event that something was deleted: the elements it
  // names (remove: ids; remove_thread: every entry of that thread) leave
  // the page, and the page of the thing itself (gone: its path) says so
  // and stops taking input.
  function withdrawn(data) {
    if (typeof data.remove === 'string') {
      data.remove.split(' ').forEach(function (id) {
        var el = id && doc.getElementById(id);
        if (el) el.remove();
      });
    }
    if (typeof data.remove_thread === 'string') {
      doc.querySelectorAll('[data-thread="' + CSS.escape(data.remove_thread) + '"]').forEach(function (el) { el.remove(); });
    }
    if (typeof data.gone === 'string' && data.gone === location.pathname && !doc.getElementById('gone-notice')) {
      var main = doc.querySelector('main') || body;
      var note = doc.createElement('div');
      note.id = 'gone-notice';
      note.className = 'flash flash-error';
      note.setAttribute('role', 'alert');
      note.textContent = msg('gone', 'This has been withdrawn.');
      main.insertBefore(note, main.firstChild);
      main.querySelectorAll('form button, form textarea, form input, form select').forEach(function (el) { el.disabled = true; });
    }
  }

  var queue = Promise.resolve(); // keep arrival order when events come in bursts

  // Summaries (counts, rates) that an event changes but no fragment
  // carries name its type in data-live-summary: on such an event the page
  // is fetched again and each summary takes its fresh content (by id).
  function refreshSummaries(type) {
    var sums = doc.querySelectorAll('[data-live-summary~="' + CSS.escape(type) + '"][id]');
    if (!sums.length) return;
    queue = queue.then(function () {
      return fetch(location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
        .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, 'text/html');
          sums.forEach(function (el) {
            var other = fresh.getElementById(el.id);
            if (other) el.innerHTML = other.innerHTML;
          });
          doc.dispatchEvent(new CustomEvent('verbund:refreshed'));
        })
        .catch(function () { /* the next page load shows it */ });
    });
  }

  function handle(data) {
    if (!data || typeof data.type !== 'string') return;
    withdrawn(data);
    refreshSummaries(data.type);
    var lists = doc.querySelectorAll('[data-live-list~="' + CSS.escape(data.type) + '"]');
    var replace = data.replace === true || data.replace === 'true';
    lists.forEach(function (list) {
      var view = list.getAttribute('data-live-view');
      var src = view ? data[view] : data.fragment;
      var url = typeof src === 'string' && sameOrigin(src);
      if (!url) return;
      queue = queue.then(function () {
        return fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
          .then(function (res) {
            if (!res.ok || res.redirected) return null; // e.g. 404: no longer visible to us
            return res.text();
          })
          .then(function (html) {
            if (html && insertInto(list, html, replace)) announce(msg('new', 'New entry'));
          })
          .catch(function () { /* network hiccup: the next page load shows the item */ });
      });
    });
  }

  var source = null;
  var retryDelay = 2000;
  var wasDown = false;
  function reloadForAccessChange() {
    if (source) source.close();
    announce(msg('reloading', ''));
    setTimeout(function () { location.reload(); }, 300);
  }
  // resync replaces the live lists of the page with the server's current
  // ones: after a broken stream (a restart, a network hiccup, a database
  // outage) the events in between are not replayed, the lists are.
  function resync() {
    fetch(location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, 'text/html');
        doc.querySelectorAll('[data-live-list][id]').forEach(function (list) {
          var other = fresh.getElementById(list.id);
          if (other) list.innerHTML = other.innerHTML;
        });
      })
      .catch(function () {});
  }
  function connect() {
    var es = new EventSource(liveURL); // same-origin: the session cookie is sent
    source = es;
    es.onopen = function () {
      retryDelay = 2000;
      setLive('connected');
      if (wasDown) {
        announce(msg('connected', ''));
        resync(); // events may have been missed while the stream was down
      }
      wasDown = false;
    };
    es.onerror = function () {
      if (!wasDown) announce(msg('disconnected', ''));
      wasDown = true;
      setLive('disconnected');
      // The browser retries by itself unless the server answered with an
      // error status; then the stream is CLOSED and we retry with backoff.
      if (es.readyState === EventSource.CLOSED) {
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 60000);
      }
    };
    es.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (data && data.type === 'revoked') return reloadForAccessChange();
      if (data && data.type === 'resync') return resync();
      if (data && data.type === 'view') {
        // What this user may see or send changed: lists and compose forms
        // catch up (events in between were judged with the old view).
        doc.dispatchEvent(new CustomEvent('verbund:view'));
        return resync();
      }
      handle(data);
    };
    es.addEventListener('revoked', reloadForAccessChange);
  }
  if (liveURL && 'EventSource' in window && sameOrigin(liveURL)) {
    setLive('connecting');
    connect();
  }

  // ---------- Compose forms: level, audience, whom to name, who receives it ----------
  // <div class="sharing" data-recipients="URL"> holds the level (tlp) and
  // audience selects, the pickers (<fieldset class="picker" data-for=orgs|people>,
  // each entry with data-max, the highest level that may reach it) and the
  // line #recipients. Without this script every picker and entry is shown
  // and the server checks the choice when the form is sent; with it, only
  // what the chosen level and audience allow is offered, and the server says
  // who would receive it as the form changes.
  function levelOf(el) { return parseInt(el.getAttribute('data-max'), 10); }
  // The lowest level an audience is offered at (data-min, default CLEAR):
  // TLP:CLEAR reaches every organisation, so a narrower audience is not
  // offered for it.
  function minOf(el) { return parseInt(el.getAttribute('data-min') || '0', 10); }
  function setupSharing(box) {
    var tlp = box.querySelector('select[name="tlp"]');
    var aud = box.querySelector('select[name="audience"]');
    var line = box.querySelector('.recipients');
    var url = sameOrigin(box.getAttribute('data-recipients') || '');
    var form = box.closest('form');
    var reshare = form && form.querySelector('input[name="reshare"]');
    if (!tlp || !aud) return;
    var timer = 0;
    var asked = 0;
    function level() {
      var o = tlp.options[tlp.selectedIndex];
      return o ? parseInt(o.getAttribute('data-level'), 10) : 0;
    }
    function show() {
      var l = level();
      box.querySelectorAll('[data-tlp-desc]').forEach(function (p) { p.hidden = p.getAttribute('data-tlp-desc') !== tlp.value; });
      Array.prototype.forEach.call(aud.options, function (o) { o.disabled = l > levelOf(o) || l < minOf(o); });
      if (aud.selectedIndex < 0 || aud.options[aud.selectedIndex].disabled) {
        var first = Array.prototype.find.call(aud.options, function (o) { return !o.disabled; });
        if (first) aud.value = first.value;
      }
      box.querySelectorAll('.picker').forEach(function (fs) {
        fs.hidden = fs.getAttribute('data-for') !== aud.value;
        var filter = fs.querySelector('.picker-filter');
        if (filter) filter.hidden = false;
        var q = filter ? filter.value.trim().toLowerCase() : '';
        fs.querySelectorAll('label[data-max]').forEach(function (lb) {
          var tooHigh = l > levelOf(lb);
          var input = lb.querySelector('input');
          if (tooHigh && input) input.checked = false; // the level may not reach them
          lb.hidden = tooHigh || (q !== '' && lb.textContent.toLowerCase().indexOf(q) < 0);
        });
      });
    }
    function ask() {
      if (!url || !line) return;
      var params = new URLSearchParams();
      params.set('tlp', tlp.value);
      params.set('audience', aud.value);
      box.querySelectorAll('.picker').forEach(function (fs) {
        if (fs.getAttribute('data-for') !== aud.value) return;
        fs.querySelectorAll('input[type="checkbox"]:checked').forEach(function (c) { params.append(c.name, c.value); });
        // A picker may be a select (the incident form's trust circle).
        fs.querySelectorAll('select[name]').forEach(function (c) { params.append(c.name, c.value); });
      });
      var mine = ++asked;
      fetch(url + '?' + params.toString(), { credentials: 'same-origin', headers: { Accept: 'text/html' } })
        .then(function (res) { return res.ok && !res.redirected ? res.text() : null; })
        .then(function (html) {
          if (html === null || mine !== asked) return; // a later answer is on its way
          // Safe: rendered by the server through html/template for this user.
          var t = doc.createElement('template');
          t.innerHTML = html;
          line.replaceChildren(t.content);
        })
        .catch(function () { /* the line keeps the last answer; the server checks on send */ });
    }
    function changed(ev) {
      show();
      if (reshare && ev && ev.isTrusted) reshare.checked = true; // changing the sharing means to change it
      clearTimeout(timer);
      timer = setTimeout(ask, 150);
    }
    box.addEventListener('change', changed);
    // The reader's agreements or circles changed: who the form as it
    // stands reaches may have too.
    doc.addEventListener('verbund:view', ask);
    box.addEventListener('input', function (ev) {
      if (ev.target.classList.contains('picker-filter')) show();
    });
    show();
  }
  doc.querySelectorAll('.sharing[data-recipients]').forEach(setupSharing);

  // ---------- Fields for one choice: data-show-when="selectId=value" ----------
  // Such fields (the review that closing an incident needs) show only while
  // the select has that value. Without this script they always show and the
  // server ignores them for other choices. A live refresh may replace the
  // select (verbund:refreshed), so the choice is read again then.
  function showWhen() {
    doc.querySelectorAll('[data-show-when]').forEach(function (el) {
      var rule = el.getAttribute('data-show-when').split('=');
      var sel = doc.getElementById(rule[0]);
      if (sel) el.hidden = sel.value !== rule[1];
    });
  }
  doc.addEventListener('change', function (ev) {
    if (ev.target instanceof HTMLSelectElement) showWhen();
  });
  doc.addEventListener('verbund:refreshed', showWhen);
  showWhen();

  // ---------- Navigation on a narrow screen: one row that scrolls ----------
  // The row starts at the current page's entry, and the edge behind which
  // more entries wait fades (classes more-left / more-right; app.css).
  var navRow = doc.querySelector('.sidenav ul');
  function navEdges() {
    var max = navRow.scrollWidth - navRow.clientWidth;
    navRow.classList.toggle('more-left', max > 1 && navRow.scrollLeft > 1);
    navRow.classList.toggle('more-right', max > 1 && navRow.scrollLeft < max - 1);
  }
  if (navRow) {
    var current = navRow.querySelector('[aria-current="page"]');
    if (current && navRow.scrollWidth > navRow.clientWidth) {
      var r = current.getBoundingClientRect();
      var at = r.left - navRow.getBoundingClientRect().left + navRow.scrollLeft;
      navRow.scrollLeft = Math.max(0, at - (navRow.clientWidth - r.width) / 2);
    }
    navRow.addEventListener('scroll', navEdges, { passive: true });
    window.addEventListener('resize', navEdges);
    navEdges();
  }

  // ---------- Confirmations ----------
  doc.addEventListener('click', function (ev) {
    var el = ev.target.closest && ev.target.closest('button[data-confirm], a[data-confirm], input[data-confirm]');
    if (el && !window.confirm(el.getAttribute('data-confirm'))) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);
  doc.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (form.hasAttribute('data-confirm') && !(ev.submitter && ev.submitter.hasAttribute('data-confirm')) &&
        !window.confirm(form.getAttribute('data-confirm'))) {
      ev.preventDefault();
    }
  }, true);

  // ---------- Print buttons: <button data-print> (a certificate) ----------
  doc.addEventListener('click', function (ev) {
    if (ev.target.closest && ev.target.closest('button[data-print]')) window.print();
  });

  // ---------- Copy buttons: <button data-copy="#token-value"> ----------
  function fallbackCopy(el) {
    var range = doc.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    var ok = false;
    try { ok = doc.execCommand('copy'); } catch (e) { /* unsupported */ }
    return ok ? Promise.resolve() : Promise.reject(new Error('copy failed'));
  }
  doc.addEventListener('click', function (ev) {
    var btn = ev.target.closest && ev.target.closest('button[data-copy]');
    if (!btn) return;
    ev.preventDefault();
    var ref = btn.getAttribute('data-copy') || '';
    var src = ref.charAt(0) === '#' ? doc.getElementById(ref.slice(1)) : null;
    if (!src) return;
    var text = ('value' in src && typeof src.value === 'string' ? src.value : src.textContent).trim();
    var done = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(src); })
      : fallbackCopy(src);
    done.then(function () {
      var label = btn.getAttribute('data-copied') || msg('copied', 'Copied');
      var original = btn.textContent;
      btn.classList.add('copied');
      btn.textContent = label;
      announce(label);
      setTimeout(function () { btn.textContent = original; btn.classList.remove('copied'); }, 2000);
    }, function () { /* selection stays so the user can press Ctrl+C */ });
  });

  // ---------- Uploads with progress: <form data-progress enctype="multipart/form-data"> ----------
  // The form is sent as it would be without script, by XMLHttpRequest so
  // that the upload's progress can be shown in the form's
  // .upload-progress (a <progress> and a text with data-msg-upload, where
  // {percent} is replaced, and data-msg-storing for the wait after the
  // upload); the page the server answers replaces this one's <main>.
  // Without script, or if the request fails, the browser sends the form
  // itself.
  function setupUpload(form) {
    var box = form.querySelector('.upload-progress');
    var bar = box && box.querySelector('progress');
    var text = box && box.querySelector('[data-msg-upload]');
    if (!box || !bar || !text || !window.FormData || !window.XMLHttpRequest) return;
    var sending = false;
    form.addEventListener('submit', function (ev) {
      if (ev.defaultPrevented || sending) return;
      ev.preventDefault();
      sending = true;
      var buttons = form.querySelectorAll('button[type="submit"]');
      buttons.forEach(function (b) { b.disabled = true; });
      box.hidden = false;
      var xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      xhr.setRequestHeader('X-CSRF-Token', csrfToken());
      xhr.setRequestHeader('Accept', 'text/html');
      xhr.upload.addEventListener('progress', function (e) {
        if (!e.lengthComputable) return;
        var pct = Math.floor(e.loaded * 100 / e.total);
        bar.value = pct;
        text.textContent = text.getAttribute('data-msg-upload').replace('{percent}', String(pct));
      });
      xhr.upload.addEventListener('load', function () {
        bar.removeAttribute('value'); // indeterminate while the server stores
        text.textContent = text.getAttribute('data-msg-storing');
        announce(text.textContent);
      });
      xhr.addEventListener('load', function () {
        // Safe: the hub's own page, rendered through html/template for
        // this user; DOMParser runs no scripts.
        var page = new DOMParser().parseFromString(xhr.responseText, 'text/html');
        var fresh = page.querySelector('main');
        var main = doc.querySelector('main');
        if (!fresh || !main) { location.reload(); return; }
        main.replaceWith(fresh);
        if (page.title) doc.title = page.title;
        fresh.focus();
        var heading = fresh.querySelector('#form-error, h2, h1');
        if (heading) announce(heading.textContent);
      });
      xhr.addEventListener('error', function () {
        sending = false;
        box.hidden = true;
        form.submit(); // the browser's own upload, without progress
      });
      xhr.send(new FormData(form));
    });
  }
  doc.querySelectorAll('form[data-progress]').forEach(setupUpload);

  // ---------- Keyboard shortcuts ----------
  var help = doc.getElementById('shortcuts');
  function toggleHelp() {
    if (!help || typeof help.showModal !== 'function') return;
    if (help.open) help.close(); else help.showModal();
  }
  function shortcut(name) { return doc.querySelector('[data-shortcut="' + name + '"]'); }
  function typing(el) {
    if (!el || el === body) return false;
    return el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
  }
  var goTargets = { h: 'home', f: 'forum', a: 'agreements', c: 'communities' };
  var pendingG = 0;

  doc.addEventListener('click', function (ev) {
    var t = ev.target.closest && ev.target.closest('[data-shortcut="help"]');
    if (t) { ev.preventDefault(); toggleHelp(); }
  });

  doc.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape') {
      pendingG = 0;
      doc.querySelectorAll('dialog[open]').forEach(function (d) { d.close(); });
      return;
    }
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
    if (typing(ev.target) || typing(doc.activeElement)) return;
    if (ev.key === '?') { ev.preventDefault(); toggleHelp(); return; }
    if (doc.querySelector('dialog[open]')) return; // a modal dialog owns the keyboard

    var el;
    if (pendingG && Date.now() - pendingG < 1500) {
      pendingG = 0;
      // The layout's places, then the capabilities' (data-go on their
      // navigation entries).
      el = (goTargets[ev.key] && shortcut(goTargets[ev.key])) || doc.querySelector('[data-go="' + CSS.escape(ev.key) + '"]');
      if (el) { ev.preventDefault(); el.click(); }
      return;
    }
    pendingG = 0;
    if (ev.key === 'g') { pendingG = Date.now(); return; }
    if (ev.key === '/') {
      el = shortcut('search');
      if (el) { ev.preventDefault(); el.focus(); if (el.select) el.select(); }
      return;
    }
    if (ev.key === 'n') {
      el = shortcut('new');
      if (!el) return;
      ev.preventDefault();
      if (typing(el)) el.focus(); else el.click();
    }
  });
})();
