// Words, numbers, dates and times in the page's language (the server picks the
// language; Intl formats per locale, in the city's time zone).

export function makeContext(config) {
  const chinese = config.language.startsWith("zh");
  const locale = chinese ? "zh-Hans-CN" : "en-GB";
  const timeZone = config.time_zone;
  const skills = new Map(config.skills.map((skill) => [skill.code, skill.name]));
  const townships = new Map(config.townships.map((township) => [township.id, township]));
  const numbers = new Intl.NumberFormat(locale);
  const unit = (name, digits = 0) =>
    new Intl.NumberFormat(locale, { style: "unit", unit: name, unitDisplay: "short",
                                    maximumFractionDigits: digits });
  const kilometres = unit("kilometer", 1);
  const metres = unit("meter", 1);
  const minutes = unit("minute");
  const secondsUnit = unit("second");
  const hours = unit("hour", 1);
  const clock = new Intl.DateTimeFormat(locale, { timeZone, hour: "2-digit", minute: "2-digit",
                                                  second: "2-digit", hourCycle: "h23" });
  const shortClock = new Intl.DateTimeFormat(locale, { timeZone, hour: "2-digit",
                                                       minute: "2-digit", hourCycle: "h23" });
  const dayAndClock = new Intl.DateTimeFormat(locale, { timeZone, month: "short", day: "numeric",
                                                        hour: "2-digit", minute: "2-digit",
                                                        hourCycle: "h23" });
  const dayOf = new Intl.DateTimeFormat("en-CA", { timeZone });  // YYYY-MM-DD
  const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: "short" });

  const t = (key, params = {}) =>
    (config.strings[key] ?? key).replace(/%\((\w+)\)s/g, (_, name) => params[name] ?? "");
  const label = (group, value) => config.labels[group]?.[value] ?? value;

  const ctx = {
    config, chinese, locale, t, label, townships,
    canEdit: config.can_edit,
    skillName: (code) => skills.get(code) ?? code,
    townshipName: (id) => townships.get(id)?.name ?? "",
    number: (n) => (n === null || n === undefined ? "" : numbers.format(n)),
    distance: (m) => (m === null || m === undefined ? "" :
      m < 1000 ? metres.format(Math.round(m)) : kilometres.format(m / 1000)),
    km: (km) => (km === null || km === undefined ? "" : kilometres.format(km)),
    depth: (m) => metres.format(Number(m)),
    eta: (s) => (s === null || s === undefined ? "" : minutes.format(Math.max(1, Math.round(s / 60)))),
    time: (iso) => (iso ? clock.format(new Date(iso)) : ""),
    // How long after `from` it happened: "+4 s", "+2 min" (the full time on hover).
    after: (iso, from) => {
      if (!iso) return "";
      const seconds = Math.max(0, Math.round((new Date(iso) - new Date(from)) / 1000));
      return "+" + (seconds < 60 ? secondsUnit.format(seconds)
        : seconds < 3600 ? minutes.format(Math.round(seconds / 60)) : hours.format(seconds / 3600));
    },
    // Today's times as a clock, other days with the date.
    when: (iso) => {
      if (!iso) return "";
      const moment = new Date(iso);
      return dayOf.format(moment) === dayOf.format(new Date())
        ? shortClock.format(moment) : dayAndClock.format(moment);
    },
    ago: (iso) => {
      const seconds = Math.round((new Date(iso) - Date.now()) / 1000);
      const steps = [[60, "second"], [3600, "minute"], [86400, "hour"], [Infinity, "day"]];
      let size = 1;
      for (const [limit, name] of steps) {
        if (Math.abs(seconds) < limit) return relative.format(Math.round(seconds / size), name);
        size = limit;
      }
      return "";
    },
  };

  ctx.needText = (need) => {
    if (need.kind === "people")
      return t("people_count", { count: ctx.number(need.count), skill: ctx.skillName(need.skill) });
    if (need.kind === "vehicle")
      return t("vehicle_count", { count: ctx.number(need.count),
                                  kind: label("vehicle_kind", need.vehicle_kind) });
    return t("capability", { people: ctx.number(need.people_to_move),
                             depth: ctx.depth(need.water_depth_m) });
  };
  // A shift ending the day it starts shows its end as a clock only.
  const sameDay = (a, b) => dayOf.format(new Date(a)) === dayOf.format(new Date(b));
  const shiftEnd = (need) => (sameDay(need.shift_start, need.shift_end)
    ? shortClock.format(new Date(need.shift_end)) : ctx.when(need.shift_end));
  ctx.shiftText = (need) => (need.shift_start
    ? t("shift", { start: ctx.when(need.shift_start), end: shiftEnd(need) }) : "");
  ctx.shiftShort = (need) => (need.shift_start
    ? `${shortClock.format(new Date(need.shift_start))}–${shortClock.format(new Date(need.shift_end))}` : "");
  // How many places a need has: people or vehicles asked for; a capability need is
  // filled vehicle by vehicle until the people are moved, so it shows what it got.
  ctx.places = (need) => (need.kind === "capability" ? null : need.count);
  return ctx;
}
