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
      this.retryMs = 500;
      this.state("live");
      for (const frame of this.queue.splice(0)) this.ws.send(JSON.stringify(frame));
    };
    this.ws.onmessage = (message) => this.receive(JSON.parse(message.data));
    this.ws.onclose = (closed) => {
      this.state("offline");
      if (closed.code === 4401 || closed.code === 4403) return;  // signed out: no retry
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 15000);
    };
  }

  receive(frame) {
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
