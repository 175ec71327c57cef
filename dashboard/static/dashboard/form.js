// The new-incident form: a place (typed and geocoded, or clicked on the map), what
// happened, and its needs → POST /api/incidents/.

import { getJSON, postCreating, RequestError } from "../tongxin/api.js";

// "YYYY-MM-DDTHH:MM" in the city's time zone, as a datetime-local input shows it. The
// API reads such a value without an offset as city time too.
function cityInputValue(date, timeZone) {
  const text = new Intl.DateTimeFormat("sv-SE", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", hourCycle: "h23",
  }).format(date);
  return text.replace(" ", "T").slice(0, 16);
}

export class IncidentForm {
  constructor(ctx, map, handlers) {
    this.ctx = ctx;
    this.map = map;
    this.handlers = handlers;
    this.form = document.getElementById("incident-form");
    this.needs = document.getElementById("needs");
    this.template = document.getElementById("need-template");
    this.status = document.getElementById("location-status");
    this.errors = document.getElementById("form-errors");
    this.place = null;  // {latitude, longitude, name, township}

    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
    document.getElementById("locate").addEventListener("click", () => this.locate());
    this.form.address.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); this.locate(); }
    });
    this.form.kind.addEventListener("change", () => this.showShifts());
    for (const button of this.form.querySelectorAll("[data-add-need]")) {
      button.addEventListener("click", () => this.addNeed(button.dataset.addNeed));
    }
  }

  get isOpen() { return !this.form.hidden; }

  open(latlng = null) {
    this.form.hidden = false;
    if (latlng) this.setPlace({ latitude: latlng.lat, longitude: latlng.lng });
    (latlng ? this.form.title : this.form.address).focus();
  }

  reset() {
    this.form.reset();
    this.needs.replaceChildren();
    this.place = null;
    this.status.textContent = this.ctx.t("no_location");
    this.status.className = "hint";
    this.errors.textContent = "";
    this.map.clearDraft();
  }

  close() {
    this.form.hidden = true;
    this.reset();
  }

  setPlace(place, { pan = false } = {}) {
    this.place = place;
    this.map.setDraft(place.latitude, place.longitude, { pan });
    const where = `${place.latitude.toFixed(5)}, ${place.longitude.toFixed(5)}`;
    this.status.className = "hint located";
    this.status.textContent = place.name
      ? `${this.ctx.t("located", { name: place.name })} (${where})`
      : `${this.ctx.t("picked_on_map")} (${where})`;
  }

  movedOnMap(latitude, longitude) {
    this.setPlace({ ...this.place, latitude, longitude, name: null, township: null });
  }

  async locate() {
    const query = this.form.address.value.trim();
    if (!query) {
      this.status.textContent = this.ctx.t("geocode_empty");
      this.status.className = "hint wrong";
      return;
    }
    this.status.textContent = this.ctx.t("geocode_searching");
    this.status.className = "hint";
    try {
      const url = `${this.ctx.config.urls.geocode}?q=${encodeURIComponent(query)}`;
      const found = await getJSON(url);
      this.setPlace({ latitude: found.latitude, longitude: found.longitude, name: found.name,
                      township: found.township }, { pan: true });
    } catch (error) {
      this.status.textContent = error instanceof RequestError ? error.message : this.ctx.t("geocode_failed");
      this.status.className = "hint wrong";
    }
  }

  staffing() {
    return this.ctx.config.staffing_kinds.includes(this.form.kind.value);
  }

  showShifts() {
    for (const label of this.needs.querySelectorAll('[data-for="shift"]')) {
      label.hidden = !this.staffing();
    }
  }

  addNeed(kind) {
    const row = this.template.content.firstElementChild.cloneNode(true);
    row.dataset.kind = kind;
    row.querySelector(".need-kind").textContent = this.ctx.label("need_kind", kind);
    for (const label of row.querySelectorAll("[data-for]")) {
      const shift = label.dataset.for === "shift";
      label.hidden = shift ? !this.staffing() : !label.dataset.for.split(" ").includes(kind);
    }
    const start = new Date(Math.ceil(Date.now() / 3600000) * 3600000);
    row.querySelector("[name=shift_start]").value = cityInputValue(start, this.ctx.config.time_zone);
    row.querySelector("[name=shift_end]").value =
      cityInputValue(new Date(start.getTime() + 8 * 3600000), this.ctx.config.time_zone);
    if (kind === "people" && this.form.kind.value === "testing_site") row.querySelector("[name=skill]").value = "sampling";
    if (kind === "people" && ["flood_rescue", "search", "evacuation"].includes(this.form.kind.value)) {
      row.querySelector("[name=skill]").value = "rescue";
    }
    if (kind === "people" && this.form.kind.value === "medical") row.querySelector("[name=skill]").value = "first_aid";
    row.querySelector("[data-remove-need]").addEventListener("click", () => row.remove());
    this.needs.append(row);
    row.querySelector("input, select").focus();
    return row;
  }

  collect() {
    const f = this.form;
    const kindLabel = this.ctx.label("incident_kind", f.kind.value);
    const place = f.address.value.trim() || this.place?.name ||
      this.ctx.townshipName(this.place?.township) || this.ctx.t("picked_on_map");
    const body = {
      kind: f.kind.value,
      title: f.title.value.trim() || this.ctx.t("untitled", { kind: kindLabel, place }),
      description: f.description.value.trim(),
      address: f.address.value.trim(),
      latitude: Number(this.place.latitude.toFixed(6)),
      longitude: Number(this.place.longitude.toFixed(6)),
      priority: Number(f.priority.value),
      people_affected: Number(f.people_affected.value || 0),
      needs: [...this.needs.children].map((row) => this.needOf(row)),
    };
    if (this.place.township) body.township = this.place.township;
    return body;
  }

  needOf(row) {
    const value = (name) => row.querySelector(`[name=${name}]`).value;
    const kind = row.dataset.kind;
    const need = { kind };
    if (kind === "people") Object.assign(need, { count: Number(value("count")), skill: value("skill") });
    if (kind === "vehicle") {
      Object.assign(need, { count: Number(value("count")), vehicle_kind: value("vehicle_kind") });
    }
    if (kind === "capability") {
      Object.assign(need, { people_to_move: Number(value("people_to_move")),
                            water_depth_m: value("water_depth_m") });
    }
    if (this.staffing() && value("shift_start") && value("shift_end")) {
      Object.assign(need, { shift_start: value("shift_start"), shift_end: value("shift_end") });
    }
    return need;
  }

  async submit() {
    this.errors.textContent = "";
    if (!this.place) {
      this.errors.textContent = this.ctx.t("no_location");
      return;
    }
    if (!this.needs.children.length) {
      this.errors.textContent = this.ctx.t("need_one");
      return;
    }
    const button = this.form.querySelector("[type=submit]");
    button.disabled = true;
    const label = button.textContent;
    button.textContent = this.ctx.t("saving");
    try {
      // With an Idempotency-Key: saving again after a failure cannot open it twice.
      const incident = await postCreating(this.ctx.config.urls.incidents, this.collect());
      this.close();
      this.handlers.onOpened?.(incident);
    } catch (error) {
      this.errors.textContent = `${this.ctx.t("save_failed")}\n${error.message}`;
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }
}
