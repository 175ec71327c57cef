// Nobody left to ask (issue 13): a need the engine could find nobody for, even after
// widening its search by itself, is raised (the API's need.unmet). The incident's card
// shows a red alarm with the reason; the detail shows, under the need, what the search
// found and the coordinator's ways out: search further, accept another skill, or assign
// by hand (the need's own "Assign…" button). A need.unmet or need.widened event makes
// the dashboard fetch the incident again, so this follows live.

import { fill, postJSON } from "../tongxin/api.js";
import { h } from "../tongxin/dom.js";

// The volunteers' own travel range unless they said otherwise (volunteers.models).
const OWN_RANGE_KM = 15;
const MOST_KM = 500;

// The needs raised and still short of people (a need filled by hand since is not).
export function unmetNeeds(incident) {
  return incident.needs.filter((need) => need.unmet && !need.cancelled_at &&
    (need.kind === "capability" || need.filled < need.count));
}

export function reasonText(need, ctx) {
  return ctx.t(`unmet_${need.unmet.reason}`);
}

// The card's alarm: one line per need raised.
export function unmetAlarm(incident, ctx) {
  const raised = unmetNeeds(incident);
  if (!raised.length) return null;
  return h("div", { class: "unmet-alarm", role: "alert" },
    raised.map((need) => h("p", { dataset: { need: need.id, reason: need.unmet.reason } },
      h("b", {}, ctx.t("unmet_title")), " ", ctx.needText(need), " — ", reasonText(need, ctx))));
}

// The next reach worth offering: twice as far as now, at least 20 km more than a
// volunteer's own range.
export function nextReachKm(need) {
  const now = need.unmet?.reach_km ?? need.reach_km ?? OWN_RANGE_KM;
  return Math.min(MOST_KM, Math.max(now * 2, OWN_RANGE_KM + 20));
}

function countsText(need, ctx) {
  const { unmet } = need;
  return ctx.t("unmet_counts", {
    asked: ctx.number(unmet.asked), declined: ctx.number(unmet.declined),
    expired: ctx.number(unmet.expired), on_duty: ctx.number(unmet.on_duty),
    busy: ctx.number(unmet.busy),
  }) + (unmet.reach_km ? ` · ${ctx.t("unmet_reach", { km: ctx.number(unmet.reach_km) })}` : "");
}

// Under each raised need of the detail: the reason, the counts and, for coordinators
// and people needs, widen and accept-another-skill. `onChanged` refreshes the incident.
export function addUnmetPanels(container, incident, ctx, { onChanged }) {
  const open = incident.status === "open";
  for (const need of unmetNeeds(incident)) {
    const item = container.querySelector(`li[data-need="${need.id}"]`);
    if (!item) continue;
    item.classList.add("unmet");
    item.append(unmetPanel(need, ctx, { open, onChanged: () => onChanged(incident.id) }));
  }
}

function unmetPanel(need, ctx, { open, onChanged }) {
  const errors = h("p", { class: "errors", role: "alert" });
  const widenable = ctx.canEdit && open && need.kind === "people";
  return h("div", { class: "unmet-panel", role: "alert", dataset: { reason: need.unmet.reason } },
    h("p", { class: "unmet-reason" }, h("b", {}, ctx.t("unmet_title")), " ", reasonText(need, ctx)),
    h("p", { class: "unmet-counts" }, countsText(need, ctx)),
    widenable ? widenForm(need, ctx, errors, onChanged) : null,
    widenable ? skillForm(need, ctx, errors, onChanged) : null,
    ctx.canEdit && open ? h("p", { class: "quiet" }, ctx.t("unmet_by_hand")) : null,
    errors);
}

async function widen(need, body, ctx, errors, onChanged, button) {
  button.disabled = true;
  errors.textContent = "";
  try {
    await postJSON(fill(ctx.config.urls.widen, need.id), body);
    onChanged();
  } catch (error) {
    errors.textContent = ctx.t("request_failed", { reason: error.message });
  } finally {
    button.disabled = false;
  }
}

function widenForm(need, ctx, errors, onChanged) {
  const input = h("input", { type: "number", name: "reach_km", min: 1, max: MOST_KM,
                             value: nextReachKm(need), inputmode: "numeric" });
  const button = h("button", { type: "submit", class: "small danger", dataset: { widen: need.id } },
    ctx.t("unmet_widen"));
  return h("form", { class: "unmet-widen", onsubmit: (event) => {
    event.preventDefault();
    widen(need, { reach_km: Number(input.value) }, ctx, errors, onChanged, button);
  } }, h("label", {}, ctx.t("unmet_widen_to"), " ", input, " km"), " ", button);
}

function skillForm(need, ctx, errors, onChanged) {
  const taken = new Set([need.skill, ...need.extra_skills]);
  const options = ctx.config.skills.filter((skill) => !taken.has(skill.code));
  if (!options.length) return null;
  const select = h("select", { name: "extra_skill" },
    options.map((skill) => h("option", { value: skill.code }, skill.name)));
  const button = h("button", { type: "submit", class: "small", dataset: { acceptSkill: need.id } },
    ctx.t("unmet_accept"));
  return h("form", { class: "unmet-skill", onsubmit: (event) => {
    event.preventDefault();
    widen(need, { extra_skills: [select.value] }, ctx, errors, onChanged, button);
  } }, h("label", {}, ctx.t("unmet_also_accept"), " ", select), " ", button);
}
