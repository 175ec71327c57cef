// Numbers, times and places as the volunteer's phone shows them, in the page's language
// and the city's time zone. No DOM here: Node's test runner checks it (tests/js/).

function numberFormat(language, options) {
  try {
    return new Intl.NumberFormat(language, options);
  } catch {
    return null;
  }
}

function dateFormat(language, timeZone, options) {
  try {
    return new Intl.DateTimeFormat(language, { timeZone, ...options });
  } catch {
    return new Intl.DateTimeFormat(undefined, options);
  }
}

// The formats of one page: makeFormat("zh-hans", "Asia/Shanghai").
export function makeFormat(language, timeZone) {
  const KM = numberFormat(language, { style: "unit", unit: "kilometer", maximumFractionDigits: 1 });
  const MINUTES = numberFormat(language, { style: "unit", unit: "minute", unitDisplay: "short" });
  const CLOCK = dateFormat(language, timeZone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const DAY = dateFormat(language, timeZone, { month: "short", day: "numeric", weekday: "short" });

  const clock = (iso) => (iso ? CLOCK.format(new Date(iso)) : "");

  return {
    // 2300 → "2.3 km"; nothing known → "–".
    km(metres) {
      if (metres === null || metres === undefined) return "–";
      const value = metres / 1000;
      return KM ? KM.format(value) : `${value.toFixed(1)} km`;
    },
    // 360 → "≈ 6 min", never less than a minute.
    minutes(seconds) {
      if (seconds === null || seconds === undefined) return "–";
      const value = Math.max(1, Math.round(seconds / 60));
      return `≈ ${MINUTES ? MINUTES.format(value) : `${value} min`}`;
    },
    clock,
    // "Thu, 5 Jun 08:00–16:00" for a row with a shift, "" without.
    shiftText(row) {
      if (!row.shift_start) return "";
      const start = new Date(row.shift_start);
      return `${DAY.format(start)} ${CLOCK.format(start)}–${clock(row.shift_end)}`;
    },
  };
}

// Time left to answer: 83_400 ms → "1:24"; never below "0:00".
export function countdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = String(total % 60).padStart(2, "0");
  return `${m}:${s}`;
}

// The address, then the township unless the address names it already: an address typed
// as the township's name ("龙湖镇") would otherwise read "龙湖镇 · 龙湖镇".
export function place(row) {
  const address = (row.incident_address || "").trim();
  const township = row.township && !address.includes(row.township) ? row.township : "";
  return [address, township].filter(Boolean).join(" · ") || coordinates(row);
}

export function coordinates(row) {
  if (row.latitude === undefined || row.latitude === null) return "";
  return `${row.latitude.toFixed(5)}, ${row.longitude.toFixed(5)}`;
}

// Metres between two {latitude, longitude}: flat-earth, good enough for "moved 100 m".
export function metresBetween(a, b) {
  const rad = Math.PI / 180;
  const x = (b.longitude - a.longitude) * rad * Math.cos(((a.latitude + b.latitude) / 2) * rad);
  const y = (b.latitude - a.latitude) * rad;
  return Math.hypot(x, y) * 6371000;
}
