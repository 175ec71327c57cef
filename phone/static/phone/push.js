// Web Push (dispatch/push.py): offers that reach the phone with this page closed.
//
// The server gives its key in the alerts button's data-push-key, empty while Web Push is
// off there (the default: an intranet often cannot reach the browsers' push services).
// With a key, and notifications allowed, the service worker subscribes through the
// browser's push service and the page gives the subscription to the server, which then
// pushes each new offer; sw.js shows it. Whatever fails (no push service reachable, a
// browser without push) leaves the page's own ring and notifications as they were.
//
// pushKeyBytes is pure (tests/js/phone-push.test.js); the rest touch the browser only
// when called.

// The server's key (base64url, as dispatch.push.push_public_key gives it) as the bytes
// PushManager.subscribe() takes for applicationServerKey.
export function pushKeyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
}

const sameBytes = (a, b) => a.length === b.length && a.every((byte, i) => byte === b[i]);

// Subscribe (or keep the subscription this browser has for the same key) and give it to
// the server. "subscribed", "off" (the server has no key) or "unavailable".
// `send(method, url, data)`: tongxin/api.js's sendJSON.
export async function pushSubscribe({ key, url, send }) {
  if (!key) return "off";
  if (!("PushManager" in window) || !("serviceWorker" in navigator)) return "unavailable";
  if (Notification.permission !== "granted") return "unavailable";
  try {
    const registration = await navigator.serviceWorker.ready;
    const wanted = pushKeyBytes(key);
    let subscription = await registration.pushManager.getSubscription();
    const heldKey = subscription?.options?.applicationServerKey;
    if (subscription && heldKey && !sameBytes(new Uint8Array(heldKey), wanted)) {
      // The server's key changed (python manage.py webpush_keys): the old subscription
      // can no longer be pushed to.
      await subscription.unsubscribe();
      subscription = null;
    }
    subscription ??= await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: wanted,
    });
    await send("POST", url, subscription.toJSON());
    return "subscribed";
  } catch {
    return "unavailable";
  }
}

// Signing out: the server forgets this browser's subscription and the browser drops it,
// so that the next person to use the phone is not shown the last one's offers.
export async function pushUnsubscribe({ url, send }) {
  try {
    const registration = await navigator.serviceWorker?.getRegistration();
    const subscription = await registration?.pushManager?.getSubscription();
    if (!subscription) return;
    const query = new URLSearchParams({ endpoint: subscription.endpoint });
    await send("DELETE", `${url}?${query}`).catch(() => {});
    await subscription.unsubscribe();
  } catch {
    // Nothing to drop, or the browser refused: the server forgets it on its next 410.
  }
}
