// Every state-changing request the page's scripts send to this site carries the session's
// CSRF token (from <meta name="csrf-token">) in the X-CSRFToken header.
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta || !window.fetch) { return; }
  var token = meta.getAttribute('content');
  var original = window.fetch.bind(window);
  var safe = {GET: true, HEAD: true, OPTIONS: true, TRACE: true};
  window.fetch = function (resource, init) {
    init = init || {};
    var method = (init.method || (resource && resource.method) || 'GET').toUpperCase();
    var url = new URL(typeof resource === 'string' ? resource : resource.url, window.location.href);
    if (!safe[method] && url.origin === window.location.origin) {
      var headers = new Headers(init.headers || (typeof resource === 'string' ? undefined : resource.headers));
      if (!headers.has('X-CSRFToken')) { headers.set('X-CSRFToken', token); }
      init = Object.assign({}, init, {headers: headers});
    }
    return original(resource, init);
  };
}());
