// The resource board: on-duty volunteers per township and per team, vehicles by
// status and kind (GET /dashboard/resources/).

import { h } from "../tongxin/dom.js";

const TEAMS_SHOWN = 12;

function rows(table, items) {
  table.tBodies[0].replaceChildren(...items);
}

const num = (ctx, n, extra = "") => h("td", { class: `num ${extra}`.trim() }, ctx.number(n));

export function renderBoard(data, ctx) {
  const { volunteers, townships, teams, vehicles } = data;
  document.getElementById("volunteer-totals").replaceChildren(
    h("b", { id: "on-duty-total" }, ctx.number(volunteers.on_duty)), " ",
    ctx.t("on_duty_of", { total: ctx.number(volunteers.total) }), " · ",
    h("b", {}, ctx.number(volunteers.busy)), " ", ctx.t("busy_now"),
  );
  rows(document.getElementById("by-township"), townships.map((township) =>
    h("tr", { dataset: { township: township.id }, class: township.on_duty ? null : "quiet" },
      h("td", {}, township.name),
      num(ctx, township.on_duty, "strong"), num(ctx, township.busy), num(ctx, township.total))));

  const active = teams.filter((team) => team.on_duty > 0);
  const shown = (active.length ? active : teams).slice(0, TEAMS_SHOWN);
  const teamRows = shown.map((team) =>
    h("tr", { class: team.on_duty ? null : "quiet" },
      h("td", {}, team.name, " ", h("small", {}, ctx.label("team_kind", team.kind))),
      num(ctx, team.on_duty, "strong"), num(ctx, team.total)));
  const rest = teams.length - shown.length;
  if (rest > 0) {
    teamRows.push(h("tr", { class: "quiet" },
      h("td", { colspan: 3 }, ctx.t("more_teams", { count: ctx.number(rest) }))));
  }
  rows(document.getElementById("by-team"), teamRows);

  document.getElementById("vehicle-status").replaceChildren(
    ...Object.entries(vehicles.by_status).map(([status, count]) =>
      h("span", { class: `chip s-${status}`, dataset: { status } },
        h("b", {}, ctx.number(count)), " ", ctx.label("vehicle_status", status))));
  rows(document.getElementById("by-kind"), vehicles.by_kind.map((kind) =>
    h("tr", {},
      h("td", {}, ctx.label("vehicle_kind", kind.kind)),
      num(ctx, kind.available, "strong"), num(ctx, kind.assigned), num(ctx, kind.out_of_service))));
}
