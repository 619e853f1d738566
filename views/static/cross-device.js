// The "check your inbox" page: asks the server about once a second whether the link was
// approved or refused on another device, and then submits the page's own "continue" form,
// so this browser (which holds the app's state and PKCE verifier) finishes the sign-in.
// When the sign-in is over (e.g. the link signed in from another tab) it says so instead.
// Without JavaScript the same form is a button. Nothing here can approve anything.
(function () {
  'use strict';
  var section = document.getElementById('cross-device');
  var form = document.getElementById('continue-form');
  if (!section || !form || !window.fetch) return;

  var statusUrl = section.getAttribute('data-status-url');
  var expiresIn = Number(section.getAttribute('data-expires-in')) || 600;
  var INTERVAL_MS = 1000;
  // Stop a little after the code would have expired: nothing can change after that.
  var stopAt = Date.now() + (expiresIn + 5) * 1000;
  // Approved or refused on another device: this tab's "continue" form finishes (or tells why not).
  var CONTINUE = { approved: true, denied: true };

  function show(state) {
    var notes = section.querySelectorAll('[data-when]');
    for (var i = 0; i < notes.length; i += 1) notes[i].hidden = notes[i].getAttribute('data-when') !== state;
  }

  // The sign-in is over (it finished in another tab of this browser, or it expired): every form of
  // this page would only answer "this sign-in request is over", so they go and the page says so.
  function finished() {
    var parts = document.querySelectorAll('[data-needs-sign-in]');
    for (var i = 0; i < parts.length; i += 1) parts[i].hidden = true;
    show('finished');
  }

  function poll() {
    if (Date.now() > stopAt) return show('stopped');
    fetch(statusUrl, { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (response) {
        if (response.status === 404) return { state: 'gone' };
        return response.ok ? response.json() : { state: 'waiting' };
      })
      .then(function (body) {
        var state = body && body.state;
        if (CONTINUE[state]) return form.submit();
        // The code was used: only this browser can use a code of its sign-in, so another tab did.
        if (state === 'gone' || state === 'used') return finished();
        // After a wrong number the link can still be refused from the other device: keep asking.
        if (state === 'void') show('void');
        setTimeout(poll, INTERVAL_MS);
      })
      .catch(function () {
        // A network blip: try again, a little later.
        setTimeout(poll, INTERVAL_MS * 2);
      });
  }

  setTimeout(poll, INTERVAL_MS);
})();
