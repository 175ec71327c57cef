// An incident in detail: its facts, each need's fill, every offer's state (sent,
// delivered, seen, accepted, declined, expired…) and, for coordinators, manual assign /
// unassign with a reason, cancel and resolve. All writes go through the REST API.

import { fill, getJSON, postCreating, postJSON } from "../tongxin/api.js";
import { h } from "../tongxin/dom.js";
import { unfilledNeeds } from "./filters.js";
import { addNeed, cancelledNeedItem, IncidentEditor, needControls } from "./changes.js";
import { phoneLink } from "./units.js";
import { addUnmetPanels } from "./unmet.js";

const OPEN_STATES = new Set(["sent", "delivered", "seen", "accepted", "en_route", "on_scene"]);

// The one dialog every action uses: a title, an optional choice, a reason.
class ActionDialog {
  constructor(ctx) {
    this.ctx = ctx;
    this.dialog = document.getElementById("action-dialog");
    if (!this.dialog) return;
    this.form = document.getElementById("action-form");
    this.choice = document.getElementById("action-choice");
    this.reason = document.getElementById("action-reason");
    this.errors = document.getElementById("action-errors");
    this.amount = document.getElementById("action-amount");
    this.amount.addEventListener("input", () => this.warn(this.onAmount?.(Number(this.amount.value))));
    document.getElementById("action-dismiss").addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.confirm(); });
  }

  // `choices` fills a drop-down (who to assign; what to add), named `choiceName`;
  // `amount` asks for a number ({ name, value, max }); `noReason` hides the reason.
  async open({ title, text = "", warning = null, confirm, reasonRequired = true, noReason = false,
               choices = null, choiceName = null, amount = null, onAmount = null, run }) {
    this.run = run;
    this.onAmount = onAmount;
    this.choices = choices;
    this.reasonRequired = reasonRequired && !noReason;
    this.amountMax = amount?.max ?? 500;
    document.getElementById("action-title").textContent = title;
    document.getElementById("action-text").textContent = text;
    document.getElementById("action-confirm").textContent = confirm;
    // Only an assignment chooses someone: the close dialogs have no drop-down.
    document.getElementById("action-choice-label").hidden = !choices;
    const named = document.getElementById("action-choice-name");
    named.textContent = choiceName ?? named.dataset.default;
    document.getElementById("action-amount-label").hidden = !amount;
    document.getElementById("action-amount-name").textContent = amount?.name ?? "";
    this.amount.value = amount?.value ?? "";
    this.amount.max = String(this.amountMax);
    document.getElementById("action-reason-label").hidden = noReason;
    this.warn(warning);
    this.reason.value = "";
    this.reason.required = this.reasonRequired;
    this.errors.textContent = "";
    this.choice.replaceChildren();
    this.dialog.showModal();
    if (choices) {
      this.choice.append(h("option", { value: "" }, this.ctx.t("loading")));
      await this.loadChoices();
    }
    if (amount) this.amount.select();
    else if (choices) this.choice.focus();
    else this.reason.focus();
  }

  warn(warning) {
    const warned = document.getElementById("action-warning");
    warned.hidden = !warning;
    warned.replaceChildren(...(warning ?? []));
  }

  async loadChoices() {
    try {
      const options = await this.choices();
      this.choice.replaceChildren(...options);
      if (!options.some((option) => !option.disabled)) {
        this.errors.textContent = this.ctx.t("no_candidates");
      }
    } catch (error) {
      this.errors.textContent = error.message;
    }
  }

  async confirm() {
    const reason = this.reason.value.trim();
    const choice = this.choice.value;
    const amount = Number(this.amount.value);
    if (this.reasonRequired && !reason) {
      this.errors.textContent = this.ctx.t("reason_required");
      return;
    }
    if (!document.getElementById("action-amount-label").hidden &&
        !(Number.isInteger(amount) && amount >= 1 && amount <= this.amountMax)) {
      this.errors.textContent = this.ctx.t("amount_required");
      return;
    }
    if (!document.getElementById("action-choice-label").hidden && !choice) {
      this.errors.textContent = this.ctx.t("choose_candidate");
      return;
    }
    const button = document.getElementById("action-confirm");
    button.disabled = true;
    try {
      await this.run({ reason, choice, amount });
      this.dialog.close();
    } catch (error) {
      const refusal = this.ctx.t("request_failed", { reason: error.message });
      // Refused (the list was stale: they took a place meanwhile, say): the list as it
      // is now, with nobody chosen, so a second click cannot assign someone else.
      if (this.choices && error.status) {
        await this.loadChoices();
        this.choice.value = "";
      }
      this.errors.textContent = refusal;
    } finally {
      button.disabled = false;
    }
  }
}

// The address, and the township unless the address already names it.
function whereOf(incident, ctx) {
  const township = ctx.townshipName(incident.township);
  const address = incident.address ?? "";
  const seat = ctx.townships.get(incident.township);
  const named = address.includes(township) || (seat && address.includes(seat.name));
  return [address, named ? "" : township].filter(Boolean).join(" · ");
}

// A place known only as a street, or a township's or the city's centre, says so: the
// crews are sent there (incidents.geocoding, the place's precision).
const COARSE = new Set(["street", "township", "city"]);
function roughness(incident, ctx) {
  const precision = incident.location_precision;
  if (!COARSE.has(precision)) return null;
  return h("small", { class: "precision-coarse", dataset: { precision } },
    ` · ${ctx.t(`precision_${precision}`)}`);
}

// The engine's own reasons, in the page's language; a coordinator's stay as written.
const SYSTEM_REASONS = {
  "not needed": "reason_not_needed",
  "accepted another task": "reason_accepted_another",
  "incident resolved": "reason_incident_resolved",
  "incident cancelled": "reason_incident_cancelled",
};

// Why a candidate cannot be assigned by hand (need_manual_candidates' "unavailable"),
// in words; "" when they can.
function unavailableText(candidate, ctx) {
  const why = candidate.unavailable ?? (candidate.busy ? "busy" : null);
  if (why === "on_this_need") {
    return ctx.t("unavailable_on_this_need",
      { state: ctx.label("offer_state", candidate.place_status ?? "accepted") });
  }
  if (why === "busy" && candidate.busy_on) {
    const { incident, title } = candidate.busy_on;
    return ctx.t("unavailable_busy_on", { incident: title || ctx.t("incident_n", { id: incident }) });
  }
  return why ? ctx.t(`unavailable_${why}`) : "";
}

export class IncidentDetail {
  constructor(ctx, handlers) {
    this.ctx = ctx;
    this.handlers = handlers;
    this.element = document.getElementById("detail");
    this.dialog = new ActionDialog(ctx);
    this.current = null;
    for (const button of this.element.querySelectorAll("[data-close-incident]")) {
      button.addEventListener("click", () => this.closeIncident(button.dataset.closeIncident));
    }
    this.editor = ctx.canEdit ? new IncidentEditor(ctx, (id) => this.handlers.onChanged?.(id)) : null;
    document.getElementById("edit-incident")?.addEventListener("click", () => this.editor.open(this.current));
    document.getElementById("add-need")?.addEventListener("click", () => addNeed(this));
  }

  get id() { return this.element.hidden ? null : this.current?.id ?? null; }

  show(incident, offers) {
    this.element.hidden = false;
    this.render(incident, offers);
  }

  hide() {
    this.element.hidden = true;
    this.current = null;
  }

  render(incident, offers) {
    const { ctx } = this;
    this.current = incident;
    this.offers = offers ?? [];
    this.element.dataset.incident = incident.id;
    this.element.dataset.status = incident.status;
    document.getElementById("detail-title").replaceChildren(
      h("span", { class: `priority-tag p${incident.priority}` }, ctx.label("priority", incident.priority)),
      " ", incident.title);
    const fact = (term, ...value) => [h("dt", {}, term), h("dd", {}, ...value)];
    document.getElementById("detail-facts").replaceChildren(
      ...fact(ctx.t("fact_kind"), ctx.label("incident_kind", incident.kind)),
      ...fact(ctx.t("fact_status"), h("span", { class: `status s-${incident.status}` },
        ctx.label("incident_status", incident.status))),
      ...fact(ctx.t("fact_where"), whereOf(incident, ctx) || "—",
        h("small", {}, ` (${incident.latitude.toFixed(4)}, ${incident.longitude.toFixed(4)})`),
        roughness(incident, ctx)),
      ...fact(ctx.t("fact_affected"), ctx.number(incident.people_affected)),
      ...fact(ctx.t("fact_opened"), `${ctx.when(incident.opened_at)} · ${incident.reporter ?? ""}`),
      ...(incident.description ? fact(ctx.t("fact_description"), incident.description) : []),
      ...(ctx.config.staffing_kinds?.includes(incident.kind) && ctx.config.urls.rota
        ? fact(ctx.t("fact_rota"), h("a", { class: "rota-link", href: fill(ctx.config.urls.rota, incident.id),
          target: "_blank" }, ctx.t("rota_link")))
        : []),
      ...(incident.closed_at ? fact(ctx.t("fact_closed"),
        `${ctx.when(incident.closed_at)} ${incident.close_note ?? ""}`) : []),
    );
    const open = incident.status === "open";
    document.getElementById("detail-needs").replaceChildren(
      ...incident.needs.map((need, index) => this.needItem(need, index, open)));
    addUnmetPanels(document.getElementById("detail-needs"), incident, ctx, {
      onChanged: (id) => this.handlers.onChanged?.(id) });
    this.renderOffers(open);
    const actions = document.getElementById("detail-actions");
    if (actions) actions.hidden = !open;
  }

  needItem(need, index, open) {
    const { ctx } = this;
    if (need.cancelled_at) return cancelledNeedItem(need, ctx);
    const places = ctx.places(need);
    const carried = need.kind === "capability"
      ? this.offers.filter((o) => o.need === need.id && ["accepted", "en_route", "on_scene", "completed"]
        .includes(o.status)).reduce((sum, o) => sum + (o.vehicle_capacity ?? 0), 0)
      : null;
    const share = places ? need.filled / places : Math.min(1, carried / (need.people_to_move || 1));
    return h("li", { dataset: { need: need.id }, class: share >= 1 ? "need full" : "need" },
      h("div", { class: "need-head" },
        h("b", {}, ctx.needText(need)),
        ctx.shiftText(need) ? h("small", {}, " ", ctx.shiftText(need)) : null,
        need.note ? h("small", {}, " · ", need.note) : null),
      h("div", { class: "fill" }, h("span", { style: { width: `${Math.round(Math.min(1, share) * 100)}%` } })),
      h("div", { class: "need-state" },
        h("span", { class: "filled-count" }, places
          ? `${ctx.number(need.filled)}/${ctx.number(places)} ${ctx.t("filled")}`
          : ctx.t("carried", { vehicles: ctx.number(need.filled), people: ctx.number(carried),
                               of: ctx.number(need.people_to_move) })),
        need.offered ? h("span", { class: "waiting" }, ` · ${ctx.number(need.offered)} ${ctx.t("waiting")}`) : null,
        ctx.canEdit && open && share < 1
          ? h("button", { type: "button", class: "small", dataset: { assign: need.id },
                          onclick: () => this.assign(need, index) }, ctx.t("assign_by_hand"))
          : null,
        ctx.canEdit && open ? needControls(this, need, index) : null));
  }

  renderOffers(open) {
    const { ctx } = this;
    const body = document.querySelector("#offers tbody");
    const columns = ctx.canEdit ? 7 : 6;
    if (!this.offers.length) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: columns, class: "quiet" }, ctx.t("none"))));
      return;
    }
    const needs = new Map(this.current.needs.map((need, index) => [need.id, [need, index]]));
    const rows = [];
    let lastNeed = null;
    for (const offer of this.offers) {
      if (offer.need !== lastNeed && needs.size > 1) {
        const [need, index] = needs.get(offer.need) ?? [null, 0];
        rows.push(h("tr", { class: "group" }, h("th", { colspan: columns },
          `${ctx.t("need", { number: index + 1 })}: ${need ? ctx.needText(need) : ""}`)));
      }
      lastNeed = offer.need;
      rows.push(this.offerRow(offer, open));
    }
    body.replaceChildren(...rows);
  }

  offerRow(offer, open) {
    const { ctx } = this;
    const who = offer.volunteer
      ? [offer.volunteer_name, offer.volunteer_phone]
      : [offer.vehicle_call_sign, ctx.label("vehicle_kind", offer.vehicle_kind)];
    const reason = SYSTEM_REASONS[offer.reason] ? ctx.t(SYSTEM_REASONS[offer.reason]) : offer.reason;
    const note = [offer.offered_by ? ctx.t("manual") : "", reason].filter(Boolean).join(" · ");
    // The state, when it was reached (the answer, arrival, completion), and why.
    const since = offer.finished_at ?? offer.on_scene_at ?? offer.en_route_at ?? offer.answered_at;
    return h("tr", { dataset: { assignment: offer.id, state: offer.state } },
      h("td", {}, who[0], h("small", { class: "line" },
        offer.volunteer ? phoneLink(ctx, who[1], who[0]) : who[1])),
      h("td", {}, h("span", { class: `state st-${offer.state}` }, ctx.label("offer_state", offer.state)),
        since && !["sent", "delivered", "seen"].includes(offer.state)
          ? h("small", { class: "line" }, ctx.time(since)) : null,
        note ? h("small", { class: "line reason" }, note) : null),
      h("td", { class: "num" }, ctx.distance(offer.distance_m),
        offer.eta_seconds ? h("small", { class: "line" }, ctx.eta(offer.eta_seconds)) : null),
      h("td", {}, ctx.time(offer.offered_at)),
      h("td", { title: ctx.time(offer.delivered_at) }, ctx.after(offer.delivered_at, offer.offered_at)),
      h("td", { title: ctx.time(offer.seen_at) }, ctx.after(offer.seen_at, offer.offered_at)),
      ctx.canEdit ? h("td", {}, open && OPEN_STATES.has(offer.state)
        ? h("button", { type: "button", class: "small", dataset: { unassign: offer.id },
                        onclick: () => this.unassign(offer) }, ctx.t("unassign"))
        : null) : null);
  }

  assign(need, index) {
    const { ctx } = this;
    this.dialog.open({
      title: ctx.t("assign_title", { number: index + 1 }),
      text: ctx.needText(need),
      confirm: ctx.t("assign_confirm"),
      choices: async () => {
        const found = await getJSON(fill(ctx.config.urls.candidates, need.id));
        return found.candidates.map((c) => {
          const why = unavailableText(c, ctx);
          return h("option", {
            value: c.volunteer ? `volunteer:${c.volunteer}` : `vehicle:${c.vehicle}`,
            disabled: Boolean(why), dataset: { unavailable: c.unavailable ?? "" },
          }, [c.name, c.phone, c.distance_km !== null ? ctx.km(c.distance_km) : "",
              why || (c.on_duty ? "" : ctx.t("off_duty"))].filter(Boolean).join(" · "));
        });
      },
      run: async ({ reason, choice }) => {
        const [kind, id] = choice.split(":");
        await postCreating(fill(ctx.config.urls.assign, need.id), { [kind]: Number(id), reason });
        this.handlers.onChanged?.(this.current.id);
      },
    });
  }

  unassign(offer) {
    const { ctx } = this;
    const name = offer.volunteer_name ?? offer.vehicle_call_sign;
    this.dialog.open({
      title: ctx.t("unassign_title", { name }),
      text: ctx.t("unassign_text"),
      confirm: ctx.t("unassign"),
      run: async ({ reason }) => {
        await postJSON(fill(ctx.config.urls.unassign, offer.id), { reason });
        this.handlers.onChanged?.(this.current.id);
      },
    });
  }

  // Closing with places still open says which: nobody will be sent to them afterwards.
  unfilledWarning(incident) {
    const { ctx } = this;
    const open = unfilledNeeds(incident);
    if (!open.length) return null;
    return [
      h("p", {}, ctx.t("unfilled_warning")),
      h("ul", {}, open.map(({ need, filled, places }) => h("li", { dataset: { need: need.id } },
        need.kind === "capability"
          ? ctx.t("unfilled_vehicle", { need: ctx.needText(need) })
          : ctx.t("unfilled_line", { need: ctx.needText(need), filled: ctx.number(filled),
                                      places: ctx.number(places) }),
        need.shift_start ? ` (${ctx.shiftText(need)})` : ""))),
    ];
  }

  closeIncident(how) {
    const { ctx } = this;
    const incident = this.current;
    this.dialog.open({
      title: ctx.t(how === "resolve" ? "resolve_title" : "cancel_title", { title: incident.title }),
      text: ctx.t(how === "resolve" ? "resolve_text" : "cancel_text"),
      warning: this.unfilledWarning(incident),
      confirm: ctx.t(how === "resolve" ? "resolve" : "cancel_incident"),
      reasonRequired: how === "cancel",
      run: async ({ reason }) => {
        const url = fill(ctx.config.urls[how], incident.id);
        const closed = await postJSON(url, { note: reason });
        this.handlers.onChanged?.(incident.id, closed);
      },
    });
  }
}
