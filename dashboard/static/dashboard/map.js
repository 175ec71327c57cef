// The dashboard's Leaflet map (window.L, from /static/leaflet/leaflet.js). With no tile
// server configured it draws on a plain background: township seats as labelled points,
// and each township's area as the system counts it (the places nearest its seat:
// volunteers.selectors.township_areas), so the incidents, volunteers and vehicles still
// have a place to stand and a coordinator sees which township a place counts in.

import { escapeHtml, h } from "../tongxin/dom.js";
import { boxWithin, clusterLook, grownBox, gridClusters, inBox, nearestWithin } from "./cluster.js";
import { liveNeeds } from "./filters.js";

// Volunteers are drawn one by one from this zoom on; below it, counted per square.
const CLUSTER_BELOW_ZOOM = 16;
const CLUSTER_CELL_PX = 56;
const CLICK_RADIUS_PX = 8;

// The same colours as .dot.priority-N in dashboard.css (the legend).
export const PRIORITY_COLOURS = { 4: "#b71c1c", 3: "#e65100", 2: "#1565c0", 1: "#607d8b" };

export class DashboardMap {
  constructor(element, ctx, handlers) {
    const L = window.L;
    this.L = L;
    this.ctx = ctx;
    this.handlers = handlers;
    const tiles = ctx.config.tiles;
    this.map = L.map(element, { preferCanvas: true, attributionControl: Boolean(tiles.url),
                                zoomSnap: 0.25 });
    if (tiles.url) {
      L.tileLayer(tiles.url, { attribution: tiles.attribution, maxZoom: 19 }).addTo(this.map);
    } else {
      element.classList.add("no-tiles");
    }
    for (const [name, zIndex] of [["areas", 405], ["seats", 410], ["volunteers", 420], ["incidents", 450]]) {
      this.map.createPane(name).style.zIndex = zIndex;
    }
    this.areaLayer = L.layerGroup().addTo(this.map);
    this.seatLayer = L.layerGroup().addTo(this.map);
    this.volunteerLayer = L.layerGroup().addTo(this.map);
    this.vehicleLayer = L.layerGroup().addTo(this.map);
    this.incidentLayer = L.layerGroup().addTo(this.map);
    this.incidentMarkers = new Map();
    this.volunteers = [];  // [{id, latitude, longitude, busy}] from the markers view
    this.projected = null;  // {zoom, points}: the volunteers in pixels at that zoom
    this.drawnBox = null;  // the pixel box (and zoom) the volunteer layer was drawn for
    this.singles = [];  // the volunteers drawn one by one, in pixels at the drawn zoom
    this.drawAreas();
    this.drawSeats();
    L.control.scale({ imperial: false }).addTo(this.map);
    const overlays = {
      [ctx.t("layer_incidents")]: this.incidentLayer,
      [ctx.t("layer_volunteers")]: this.volunteerLayer,
      [ctx.t("layer_vehicles")]: this.vehicleLayer,
      [ctx.t("layer_townships")]: this.seatLayer,
    };
    if (ctx.config.township_areas.length) overlays[ctx.t("layer_township_areas")] = this.areaLayer;
    L.control.layers(null, overlays, { position: "topright" }).addTo(this.map);
    this.addLegend();
    this.map.on("click", (event) => {
      const volunteer = this.volunteerAt(event.latlng);
      if (volunteer) this.openVolunteer(volunteer.id, L.latLng(volunteer.latitude, volunteer.longitude));
      else handlers.onMapClick?.(event.latlng);
    });
    this.map.on("zoomend moveend resize", () => this.drawVolunteers());
    this.map.on("overlayadd", () => {
      this.drawnBox = null;
      this.drawVolunteers();
    });
    this.fitCity();
  }

  fitCity() {
    const seats = this.ctx.config.townships.map((t) => [t.latitude, t.longitude]);
    if (seats.length) this.map.fitBounds(seats, { padding: [40, 40] });
    else this.map.setView([34.40, 113.74], 11);
  }

  // Thin lines, no fill: the base map under everything else, never in the way of a click.
  drawAreas() {
    const L = this.L;
    for (const area of this.ctx.config.township_areas) {
      L.polygon(area.polygon, {
        pane: "areas", color: "#9aa5b1", weight: 1, dashArray: "4 3", fill: false, interactive: false,
      }).addTo(this.areaLayer);
    }
  }

  drawSeats() {
    const L = this.L;
    for (const township of this.ctx.config.townships) {
      L.circleMarker([township.latitude, township.longitude], {
        pane: "seats", radius: 3, color: "#7b8794", weight: 1, fillColor: "#fff", fillOpacity: 1,
        interactive: false,
      }).bindTooltip(escapeHtml(township.name), { permanent: true, direction: "right", className: "seat-label",
                                      offset: [4, 0], pane: "seats" })
        .addTo(this.seatLayer);
    }
  }

  addLegend() {
    const L = this.L;
    const t = this.ctx.t;
    const legend = L.control({ position: "bottomright" });
    // Built as elements, not markup: the page's Content-Security-Policy refuses style
    // attributes, and the labels stay text.
    legend.onAdd = () => {
      const box = L.DomUtil.create("div", "map-legend");
      const dot = (kind) => h("i", { class: `dot ${kind}` });
      const icon = (kind) => h("i", { class: `vehicle-icon ${kind}` });
      box.append(
        h("div", {}, h("b", {}, t("layer_incidents")), " ",
          [4, 3, 2, 1].flatMap((p) => [dot(`priority-${p}`), this.ctx.label("priority", p), " "])),
        h("div", {}, dot("small available"), t("legend_volunteer"), " ",
          dot("small busy"), t("legend_volunteer_busy")),
        h("div", {}, icon("s-available"), t("legend_vehicle"), " ",
          icon("boat s-available"), this.ctx.label("vehicle_kind", "boat"), " ",
          icon("s-assigned"), this.ctx.label("vehicle_status", "assigned")));
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    legend.addTo(this.map);
  }

  setIncidents(incidents, selectedId) {
    const L = this.L;
    const seen = new Set();
    for (const incident of incidents) {
      seen.add(incident.id);
      const selected = incident.id === selectedId;
      const known = this.incidentMarkers.get(incident.id);
      // The same incident as drawn (the API's object is replaced when it changes): no work.
      if (known && known.incident === incident && known.selected === selected) continue;
      const style = {
        pane: "incidents", radius: 7 + incident.priority * 1.5,
        fillColor: PRIORITY_COLOURS[incident.priority] ?? "#555", fillOpacity: 0.9,
        color: selected ? "#111" : "#fff", weight: selected ? 4 : 2,
      };
      let marker = this.incidentMarkers.get(incident.id);
      if (!marker) {
        marker = L.circleMarker([incident.latitude, incident.longitude], style)
          .on("click", (event) => {
            L.DomEvent.stopPropagation(event);
            this.handlers.onIncidentClick?.(incident.id);
          })
          .addTo(this.incidentLayer);
        this.incidentMarkers.set(incident.id, marker);
      } else {
        marker.setLatLng([incident.latitude, incident.longitude]).setStyle(style);
      }
      marker.incident = incident;
      marker.selected = selected;
      // The selected incident keeps its title on the map; the others tell on hover.
      marker.unbindTooltip().bindTooltip(selected ? escapeHtml(incident.title) : this.tooltipOf(incident), {
        permanent: selected, direction: "top", offset: [0, -10],
        className: selected ? "incident-tip selected" : "incident-tip",
      });
      if (selected) marker.openTooltip();
    }
    for (const [id, marker] of this.incidentMarkers) {
      if (!seen.has(id)) {
        marker.remove();
        this.incidentMarkers.delete(id);
      }
    }
  }

  tooltipOf(incident) {
    const needs = liveNeeds(incident).map((need) => {
      const of = this.ctx.places(need);
      return `${this.ctx.needText(need)}: ${this.ctx.number(need.filled)}${of ? "/" + this.ctx.number(of) : ""}`;
    });
    return `<b>${escapeHtml(incident.title)}</b><br>${needs.map(escapeHtml).join("<br>")}`;
  }

  setResources({ volunteers, vehicles }) {
    const L = this.L;
    this.setVolunteers(volunteers.map(([id, latitude, longitude, busy]) =>
      ({ id, latitude, longitude, busy: Boolean(busy) })));
    this.vehicleLayer.clearLayers();
    for (const vehicle of vehicles) {
      const icon = L.divIcon({
        className: "vehicle-marker",
        html: `<i class="vehicle-icon ${vehicle.kind === "boat" ? "boat " : ""}s-${vehicle.status}"></i>`,
        iconSize: [12, 12], iconAnchor: [6, 6],
      });
      L.marker([vehicle.latitude, vehicle.longitude], { icon, keyboard: false })
        .bindTooltip(escapeHtml([
          vehicle.call_sign, this.ctx.label("vehicle_kind", vehicle.kind),
          this.ctx.label("vehicle_status", vehicle.status),
          // How old its position is: where its crew's phone last put it.
          vehicle.located_at && this.ctx.ago(vehicle.located_at),
        ].filter(Boolean).join(" · ")))
        .addTo(this.vehicleLayer);
    }
  }

  // --- volunteers: counted per square of the screen when dense, clickable when single

  setVolunteers(volunteers) {
    this.volunteers = volunteers;
    this.projected = null;
    this.drawnBox = null;
    this.drawVolunteers();
  }

  // One volunteer's busy flag changed (a live event): redrawn without a new fetch.
  markVolunteer(id, { busy, latitude, longitude } = {}) {
    const volunteer = this.volunteers.find((v) => v.id === id);
    if (!volunteer) return;
    if (busy !== undefined) volunteer.busy = busy;
    if (latitude !== undefined && latitude !== null) {
      Object.assign(volunteer, { latitude, longitude });
      this.projected = null;
    }
    this.drawnBox = null;
    this.drawVolunteers();
  }

  drawVolunteers() {
    if (!this.map.hasLayer(this.volunteerLayer)) return;
    const zoom = this.map.getZoom();
    const size = this.map.getSize();
    const origin = this.map.getPixelBounds().min;
    const view = { minX: origin.x, minY: origin.y, maxX: origin.x + size.x, maxY: origin.y + size.y };
    // A pan within what was drawn (a margin of half a screen each side) changes nothing.
    if (this.drawnBox && this.drawnBox.zoom === zoom && boxWithin(view, this.drawnBox)) return;
    if (!this.projected || this.projected.zoom !== zoom) {
      this.projected = {
        zoom,
        points: this.volunteers.map((volunteer) => {
          const at = this.map.project([volunteer.latitude, volunteer.longitude], zoom);
          return { x: at.x, y: at.y, ...volunteer };
        }),
      };
    }
    const box = { ...grownBox(view, 0.5), zoom };
    this.drawnBox = box;
    const visible = this.projected.points.filter((point) => inBox(point, box));
    const { clusters, singles } = zoom < CLUSTER_BELOW_ZOOM
      ? gridClusters(visible, { cell: CLUSTER_CELL_PX }) : { clusters: [], singles: visible };
    this.singles = singles;
    this.volunteerLayer.clearLayers();
    for (const cluster of clusters) this.clusterMarker(cluster, zoom).addTo(this.volunteerLayer);
    for (const single of singles) this.volunteerMarker(single).addTo(this.volunteerLayer);
  }

  clusterMarker(cluster, zoom) {
    const L = this.L;
    const { size, busy } = clusterLook(cluster);
    const icon = L.divIcon({
      className: `volunteer-cluster c-${size}${busy ? " busy" : ""}`,
      html: `<span>${Number(cluster.count)}</span>`,
      iconSize: size === "s" ? [24, 24] : size === "m" ? [30, 30] : [36, 36],
    });
    const where = this.map.unproject([cluster.x, cluster.y], zoom);
    const bounds = L.latLngBounds(cluster.members.map((m) => [m.latitude, m.longitude]));
    return L.marker(where, { icon, pane: "volunteers", keyboard: false,
                             title: this.ctx.t("volunteers_here", { count: this.ctx.number(cluster.count) }) })
      .on("click", (event) => {
        L.DomEvent.stopPropagation(event);
        this.map.fitBounds(bounds.pad(0.2), { maxZoom: CLUSTER_BELOW_ZOOM });
      });
  }

  // A dot, not itself clickable: the incidents' canvas above takes the clicks, and the
  // map's click finds the volunteer under it (volunteerAt).
  volunteerMarker(volunteer) {
    return this.L.circleMarker([volunteer.latitude, volunteer.longitude], {
      pane: "volunteers", radius: 4.5, weight: 1, color: "#fff",
      fillColor: volunteer.busy ? "#6a1b9a" : "#2e7d32", fillOpacity: 0.85, interactive: false,
    });
  }

  volunteerAt(latlng) {
    if (!this.singles.length || !this.map.hasLayer(this.volunteerLayer)) return null;
    const at = this.map.project(latlng, this.drawnBox?.zoom ?? this.map.getZoom());
    return nearestWithin(this.singles, at.x, at.y, CLICK_RADIUS_PX);
  }

  // A volunteer's popup: who (name, team), what they are doing and since when, and
  // their phone to tap. The person comes from the status board (handlers.personOf).
  async openVolunteer(id, latlng) {
    const L = this.L;
    const box = h("div", { class: "person-popup", dataset: { volunteer: id } }, this.ctx.t("loading"));
    const popup = L.popup({ className: "person", maxWidth: 280 }).setLatLng(latlng).setContent(box)
      .openOn(this.map);
    try {
      const person = await this.handlers.personOf?.(id);
      if (person) box.replaceChildren(...this.handlers.describePerson(person));
      else box.replaceChildren(this.ctx.t("none"));
      popup.update();
    } catch (error) {
      box.replaceChildren(error.message);
    }
  }

  focus(incident) {
    const zoom = Math.max(this.map.getZoom(), 12);
    this.map.flyTo([incident.latitude, incident.longitude], zoom, { duration: 0.6 });
  }

  setDraft(latitude, longitude, { pan = false } = {}) {
    const L = this.L;
    if (!this.draft) {
      this.draft = L.marker([latitude, longitude], { draggable: true, autoPan: true, zIndexOffset: 1000 })
        .on("dragend", () => {
          const { lat, lng } = this.draft.getLatLng();
          this.handlers.onDraftMoved?.(lat, lng);
        })
        .addTo(this.map);
    } else {
      this.draft.setLatLng([latitude, longitude]);
    }
    if (pan) this.map.flyTo([latitude, longitude], Math.max(this.map.getZoom(), 12), { duration: 0.6 });
  }

  clearDraft() {
    this.draft?.remove();
    this.draft = null;
  }

  offerHere(latlng, label, onChoose) {
    const L = this.L;
    const button = L.DomUtil.create("button", "primary");
    button.type = "button";
    button.textContent = label;
    const popup = L.popup({ closeButton: true }).setLatLng(latlng).setContent(button).openOn(this.map);
    button.addEventListener("click", () => {
      this.map.closePopup(popup);
      onChoose(latlng);
    });
  }

  resize() {
    this.map.invalidateSize();
  }
}
