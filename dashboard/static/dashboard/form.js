// The new-incident form: a place (typed and geocoded, or clicked on the map), what
// happened, and its needs → POST /api/incidents/.
//
// A place says how precise it is (issue 12): an exact address is green; a street amber;
// a township's or the city's centre red, and the incident cannot be opened there until
// the coordinator drags the pin to the place, clicks the map, or confirms the pin.

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

// Coarser than a street: the pin stands for an area, not the place.
const COARSE = new Set(["township", "city"]);
// The hint's colour by precision (dashboard.css): green for an exact address only.
const TONE = { address: "located", pin: "located", street: "approximate", township: "coarse",
               city: "coarse" };

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
    this.confirmRow = document.getElementById("confirm-place-row");
    this.confirmBox = document.getElementById("confirm-place");
    this.submitButton = this.form.querySelector("[type=submit]");
    // {latitude, longitude, name, township, precision, partial, confirmed}: precision is
    // the geocoder's (address, street, township, city) or "pin" (placed on the map).
    this.place = null;

    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
    document.getElementById("locate").addEventListener("click", () => this.locate());
    this.form.address.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); this.locate(); }
    });
    this.form.kind.addEventListener("change", () => this.showShifts());
    this.confirmBox.addEventListener("change", () => {
      if (this.place) this.setPlace({ ...this.place, confirmed: this.confirmBox.checked });
    });
    for (const button of this.form.querySelectorAll("[data-add-need]")) {
      button.addEventListener("click", () => this.addNeed(button.dataset.addNeed));
    }
  }

  get isOpen() { return !this.form.hidden; }

  open(latlng = null) {
    this.form.hidden = false;
    if (latlng) this.setPlace({ latitude: latlng.lat, longitude: latlng.lng, precision: "pin" });
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
    this.showConfirmation();
  }

  close() {
    this.form.hidden = true;
    this.reset();
  }

  setPlace(place, { pan = false } = {}) {
    // A point clicked on the map is where the coordinator put it.
    this.place = { ...place, precision: place.precision ?? "pin" };
    const precision = this.precision();
    this.map.setDraft(place.latitude, place.longitude, { pan });
    const where = `${place.latitude.toFixed(5)}, ${place.longitude.toFixed(5)}`;
    const name = place.name;
    let text;
    if (!name) text = this.ctx.t("picked_on_map");
    else if (place.confirmed) text = this.ctx.t("confirmed_on_map", { name });
    else if (precision === "address") text = this.ctx.t("located", { name });
    else text = this.ctx.t(`located_${precision}`, { name });
    this.status.className = `hint ${TONE[precision] ?? "coarse"}`;
    this.status.dataset.precision = precision;
    this.status.textContent = `${text} (${where})`;
    this.labelDraft(precision, where);
    this.showConfirmation();
  }

  // The precision the incident is opened with: a confirmed centre is a pin.
  precision() {
    if (!this.place) return null;
    return this.place.confirmed ? "pin" : this.place.precision;
  }

  needsConfirmation() {
    return Boolean(this.place) && COARSE.has(this.precision());
  }

  // The confirmation box shows for a centre (and stays, ticked, once confirmed); the
  // Open button waits for it.
  showConfirmation() {
    const coarse = Boolean(this.place) && COARSE.has(this.place.precision);
    this.confirmRow.hidden = !coarse;
    this.confirmBox.checked = coarse && Boolean(this.place.confirmed);
    const waiting = this.needsConfirmation();
    this.submitButton.disabled = waiting;
    this.submitButton.title = waiting ? this.ctx.t("confirm_first") : "";
  }

  // The draft pin says how precise it is and where it stands (no tiles: the township
  // seats are the only landmarks around it).
  labelDraft(precision, where) {
    const marker = this.map.draft;
    if (!marker?.bindTooltip) return;
    const text = `${this.ctx.t(`precision_${precision}`)} · ${where}`;
    const tone = TONE[precision] ?? "coarse";
    // One tooltip, rewritten: a permanent one unbound mid-flight stays on the map.
    if (!marker.getTooltip()) {
      marker.bindTooltip("", { permanent: true, direction: "top", offset: [-15, -10],
                               className: "draft-tip" }).openTooltip();
    }
    const label = document.createElement("span");
    label.className = tone;
    label.textContent = text;
    marker.setTooltipContent(label);
  }

  movedOnMap(latitude, longitude) {
    this.setPlace({ ...this.place, latitude, longitude, name: null, township: null,
                    precision: "pin", partial: false, confirmed: false });
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
                      township: found.township, precision: found.precision ?? "township",
                      partial: Boolean(found.partial), confirmed: false }, { pan: true });
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
      location_precision: this.precision(),
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
    if (this.needsConfirmation()) {
      this.errors.textContent = this.ctx.t("confirm_first");
      return;
    }
    if (!this.needs.children.length) {
      this.errors.textContent = this.ctx.t("need_one");
      return;
    }
    const button = this.submitButton;
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
      button.textContent = label;
      this.showConfirmation();
    }
  }
}
