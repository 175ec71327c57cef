// Changing a live incident (issue 13): its priority, words and place (the edit dialog),
// and its needs: enlarged or reduced, cancelled with a reason, or added. Every change
// goes through the REST API, which logs it; the log event it writes refreshes the
// incident on every dashboard, this one included.

import { fill, postCreating, postJSON, sendJSON } from "../tongxin/api.js";
import { h } from "../tongxin/dom.js";

const needUrl = (pattern, incident, need) =>
  pattern.replace("{incident}", encodeURIComponent(incident)).replace("{need}", encodeURIComponent(need));

// A cancelled need stays listed, struck through: the log and the offers point at it.
export function cancelledNeedItem(need, ctx) {
  return h("li", { dataset: { need: need.id }, class: "need cancelled" },
    h("div", { class: "need-head" },
      h("s", {}, ctx.needText(need)), " ",
      h("span", { class: "tag" }, ctx.t("need_cancelled"))));
}

// The buttons of one need of an open incident.
export function needControls(detail, need, index) {
  const { ctx } = detail;
  return [
    h("button", { type: "button", class: "small", dataset: { changeNeed: need.id },
                  onclick: () => changeNeed(detail, need, index) }, ctx.t("need_change")),
    h("button", { type: "button", class: "small", dataset: { cancelNeed: need.id },
                  onclick: () => cancelNeed(detail, need, index) }, ctx.t("need_cancel")),
  ];
}

// Reducing below the places taken stands people down: the dialog says how many.
function standDownWarning(ctx, need, size) {
  const surplus = need.kind === "capability" ? 0 : (need.filled ?? 0) - size;
  return surplus > 0 ? [h("p", {}, ctx.t("need_stand_down_warning", { count: ctx.number(surplus) }))] : null;
}

function changeNeed(detail, need, index) {
  const { ctx } = detail;
  const capability = need.kind === "capability";
  const field = capability ? "people_to_move" : "count";
  detail.dialog.open({
    title: ctx.t("need_change_title", { number: index + 1 }),
    text: `${ctx.needText(need)} · ${ctx.t("need_change_text")}`,
    confirm: ctx.t("need_save"),
    noReason: true,
    amount: {
      name: ctx.t(capability ? "need_size_capability" : "need_size_people"),
      value: need[field],
      max: capability ? 100000 : 500,
    },
    onAmount: (size) => standDownWarning(ctx, need, size),
    run: async ({ amount }) => {
      const incident = detail.current.id;
      await sendJSON("PATCH", needUrl(ctx.config.urls.need, incident, need.id), { [field]: amount });
      detail.handlers.onChanged?.(incident);
    },
  });
}

function cancelNeed(detail, need, index) {
  const { ctx } = detail;
  detail.dialog.open({
    title: ctx.t("need_cancel_title", { number: index + 1 }),
    text: `${ctx.needText(need)} · ${ctx.t("need_cancel_text")}`,
    confirm: ctx.t("need_cancel"),
    run: async ({ reason }) => {
      const incident = detail.current.id;
      await postJSON(needUrl(ctx.config.urls.need_cancel, incident, need.id), { reason });
      detail.handlers.onChanged?.(incident);
    },
  });
}

// What may be added: people of a skill, or vehicles of a kind. A capability need
// ("move 40 people through 1.2 m of water") is opened with the incident or by the API.
function needChoices(ctx) {
  const group = (kind, options) => h("optgroup", { label: ctx.label("need_kind", kind) }, options);
  return [
    group("people", ctx.config.skills.map((skill) =>
      h("option", { value: `people:${skill.code}` }, skill.name))),
    group("vehicle", Object.entries(ctx.config.labels.vehicle_kind).map(([value, name]) =>
      h("option", { value: `vehicle:${value}` }, name))),
  ];
}

export function addNeed(detail) {
  const { ctx } = detail;
  const incident = detail.current;
  detail.dialog.open({
    title: ctx.t("need_add_title", { title: incident.title }),
    text: ctx.t("need_add_text"),
    confirm: ctx.t("need_add"),
    noReason: true,
    choiceName: ctx.t("need_add_what"),
    choices: async () => needChoices(ctx),
    amount: { name: ctx.t("need_add_count"), value: 1, max: 500 },
    run: async ({ choice, amount }) => {
      const [kind, what] = choice.split(":");
      const need = kind === "people" ? { kind, skill: what, count: amount }
        : { kind, vehicle_kind: what, count: amount };
      await postCreating(fill(ctx.config.urls.needs, incident.id), need);
      detail.handlers.onChanged?.(incident.id);
    },
  });
}

// The edit dialog: only the fields changed are sent, so one coordinator's new priority
// does not undo another's new description typed meanwhile.
export class IncidentEditor {
  constructor(ctx, onChanged) {
    this.ctx = ctx;
    this.onChanged = onChanged;
    this.dialog = document.getElementById("edit-dialog");
    this.form = document.getElementById("edit-form");
    this.errors = document.getElementById("edit-errors");
    document.getElementById("edit-dismiss").addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.save(); });
  }

  open(incident) {
    this.incident = incident;
    this.before = {
      title: incident.title,
      priority: String(incident.priority),
      people_affected: String(incident.people_affected),
      description: incident.description ?? "",
      address: incident.address ?? "",
      latitude: String(incident.latitude),
      longitude: String(incident.longitude),
    };
    for (const [name, value] of Object.entries(this.before)) this.form.elements[name].value = value;
    this.errors.textContent = "";
    this.dialog.showModal();
    this.form.elements.priority.focus();
  }

  changes() {
    const changed = {};
    for (const [name, before] of Object.entries(this.before)) {
      const value = this.form.elements[name].value.trim();
      if (value !== before) changed[name] = value;
    }
    for (const name of ["priority", "people_affected"]) {
      if (name in changed) changed[name] = Number(changed[name]);
    }
    // A place is its two coordinates together, as given here: a point.
    if ("latitude" in changed || "longitude" in changed) {
      changed.latitude = Number(this.form.elements.latitude.value);
      changed.longitude = Number(this.form.elements.longitude.value);
    }
    return changed;
  }

  async save() {
    const changed = this.changes();
    if (!Object.keys(changed).length) {
      this.dialog.close();
      return;
    }
    const button = document.getElementById("edit-confirm");
    button.disabled = true;
    try {
      await sendJSON("PATCH", fill(this.ctx.config.urls.incident, this.incident.id), changed);
      this.dialog.close();
      this.onChanged(this.incident.id);
    } catch (error) {
      this.errors.textContent = this.ctx.t("request_failed", { reason: error.message });
    } finally {
      button.disabled = false;
    }
  }
}
