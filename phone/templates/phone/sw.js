// Tongxin's phone page service worker (served by phone.views.service_worker).
// It keeps the page's shell so the page opens on a weak connection or none:
// It also opens the page on an offer when its notification is tapped (notificationclick),
// and shows an offer pushed by the server (push; dispatch/push.py) with the page closed.
// - the shell's static files: from the cache (named after their contents' hash);
// - the page itself: from the network, the last copy when the network fails or is slow;
// - everything else (the API, the state, the socket): the network only. The live state
//   comes from the server; a cached copy of it would only mislead.
const VERSION = "{{ version }}";
const CACHE = `tongxin-phone-${VERSION}`;
const SHELL = {{ shell|safe }};
const PAGE = {{ page|safe }};
const ICON = {{ icon|safe }};
const SLOW_PAGE_MS = 6000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((name) => name.startsWith("tongxin-phone-") && name !== CACHE)
          .map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

async function page(request) {
  const cache = await caches.open(CACHE);
  const network = fetch(request).then((response) => {
    // Only the page itself: a redirect to the sign-in page is not worth keeping.
    if (response.ok && !response.redirected) cache.put(PAGE, response.clone());
    return response;
  });
  const kept = await cache.match(PAGE);
  if (!kept) return network;
  // With a copy in hand, wait for the network only so long, then show the copy
  // (the page catches up over its socket once it is open).
  const slow = new Promise((resolve) => setTimeout(() => resolve(kept), SLOW_PAGE_MS));
  return Promise.race([network.catch(() => kept), slow]);
}

async function shell(request) {
  const kept = await caches.match(request, { cacheName: CACHE });
  return kept || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== location.origin) return;
  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(page(request));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(shell(request));
  }
});

// A new offer's notification (alerts.js) tapped: the page, focused on that offer. An
// open page is told which offer (it stops ringing and scrolls to it); with none open,
// one opens at #offer-<id>, which does the same.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const offer = event.notification.data?.offer;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => new URL(client.url).pathname === PAGE);
    if (open) {
      await open.focus().catch(() => {});
      open.postMessage({ type: "open-offer", offer });
      return;
    }
    await self.clients.openWindow(offer ? `${PAGE}#offer-${offer}` : PAGE);
  })());
});

// An offer pushed by the server (dispatch.push.offer_push_message). Shown with the same
// tag as the page's own notification of that offer (alerts.js), so the two are one. When
// a page is in view it rings and shows the offer itself: no notification then. Nothing
// once the offer has expired (a push service may deliver late).
self.addEventListener("push", (event) => {
  let message = null;
  try {
    message = event.data?.json();
  } catch {
    return;
  }
  if (message?.type !== "offer") return;
  if (message.expires_at && Date.parse(message.expires_at) <= Date.now()) return;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const inView = windows.some((client) =>
      new URL(client.url).pathname === PAGE && client.visibilityState === "visible");
    if (inView) return;
    await self.registration.showNotification(message.title, {
      body: message.body,
      tag: String(message.offer),
      renotify: true,
      requireInteraction: true,
      icon: ICON,
      badge: ICON,
      vibrate: [300, 60, 300, 60, 300],
      data: { offer: message.offer },
    });
  })());
});
