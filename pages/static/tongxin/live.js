// The live connection both the dashboard and the phone page use (docs/websockets.md).
// The database is the truth; this socket only tells us something changed. It
// reconnects by itself, resumes with ?since=<last seq seen>, and hands each event to
// the page exactly once (events can arrive twice: a publish and a relay).
//
//   const live = new LiveSocket("/ws/volunteer/", {
//     onSnapshot(frame) {...}, onEvent(event) {...}, onFrame(frame) {...},
//     onState(state) {...},   // "connecting" | "live" | "offline"
//   });
//   live.send({type: "accept", assignment: 12, ref: "a1"});

// Close codes (docs/websockets.md). Signed out or the wrong role: no retry. The server
// is short of a part, its channel layer (4503; 1013 is the standard "try again later"):
// retry later, each wait spread at random so that a city's phones do not all come back
// in the same second.
const SIGNED_OUT = [4401, 4403];
const TRY_LATER = [4503, 1013];

export class LiveSocket {
  constructor(path, handlers = {}) {
    this.path = path;
    this.handlers = handlers;
    this.lastSeq = null;
    this.retryMs = 500;
    this.queue = [];
    this.connect();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.lastSeq === null ? "" : `?since=${this.lastSeq}`;
    return `${scheme}//${location.host}${this.path}${since}`;
  }

  connect() {
    this.state("connecting");
    this.ws = new WebSocket(this.url());
    this.ws.onopen = () => {
      this.state("live");
      for (const frame of this.queue.splice(0)) this.ws.send(JSON.stringify(frame));
    };
    this.ws.onmessage = (message) => this.receive(JSON.parse(message.data));
    this.ws.onclose = (closed) => {
      this.state("offline");
      if (SIGNED_OUT.includes(closed.code)) return;
      let delay = this.retryMs;
      if (TRY_LATER.includes(closed.code)) {
        this.retryMs = Math.max(this.retryMs, 2000);
        delay = this.retryMs * (0.5 + Math.random());  // ½ to 1½ times the back-off
      }
      setTimeout(() => this.connect(), delay);
      this.retryMs = Math.min(this.retryMs * 2, 15000);
    };
  }

  receive(frame) {
    // Served: the back-off starts again from the bottom. Not on open: a server short of
    // its channel layer accepts, then closes with 4503.
    if (frame.type === "hello") this.retryMs = 500;
    if (frame.type === "hello" && this.lastSeq === null) this.lastSeq = frame.last_seq;
    if (frame.type === "snapshot") this.handlers.onSnapshot?.(frame);
    if (frame.type === "event") {
      if (this.lastSeq !== null && frame.seq <= this.lastSeq) return;  // seen already
      this.lastSeq = frame.seq;
      this.handlers.onEvent?.(frame);
    }
    this.handlers.onFrame?.(frame);
  }

  send(frame) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
    else this.queue.push(frame);  // sent once the socket is back
  }

  state(name) {
    this.current = name;
    this.handlers.onState?.(name);
  }
}
