// The dev mailbox shows a new email by itself: it asks /dev/mail.json every two seconds and,
// when the newest email is not the one on the page, loads the mailbox again (showing the newest).
(function () {
  var section = document.getElementById('dev-mailbox');
  if (!section || !window.fetch) return;
  var url = section.getAttribute('data-poll-url');
  var newest = section.getAttribute('data-newest') || '';
  function poll() {
    fetch(url, { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (messages) {
        var latest = messages.length > 0 ? messages[0].id : '';
        if (latest !== newest) window.location.assign(url.replace(/\.json$/, ''));
        else setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
