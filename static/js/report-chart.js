// The report page's charts (R-UI-9, R-ENG-2): outcomes per send as stacked bars, and opens and clicks
// by people per hour in the first 48 hours after the sends as lines, drawn with the vendored Chart.js
// (global `Chart`, loaded before this module) from one /graphql/ request
// (graphql/operations/mailingReport.graphql). Labels come from the template (json_script); a failed
// request shows the template's message and a retry button instead of an empty box.

import { operation, request, signInUrl } from "./graphql.js";
import { momentParts } from "./moments.js";

const SERIES = [
  { key: "sent", color: "#198754" },
  { key: "failed", color: "#dc3545" },
  { key: "retrying", color: "#fd7e14" },
  { key: "pending", color: "#6c757d" },
  { key: "skipped", color: "#ced4da" },
];

// The 48-hour curve: drawn from the same answer as the outcomes.
function drawEngagement(engagement) {
  const figure = document.querySelector("[data-engagement-chart]");
  if (!figure || !engagement) return;
  const labels = JSON.parse(document.getElementById(figure.dataset.labels).textContent);
  const canvas = figure.querySelector("canvas");
  const hours = engagement.openCurve.map((_, hour) => String(hour));
  if (figure.chart) figure.chart.destroy();
  figure.chart = new window.Chart(canvas, {
    type: "line",
    data: {
      labels: hours,
      datasets: [
        { label: labels.opens, data: engagement.openCurve, borderColor: "#0d6efd", backgroundColor: "#0d6efd" },
        { label: labels.clicks, data: engagement.clickCurve, borderColor: "#198754", backgroundColor: "#198754" },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { title: { display: true, text: labels.axisX } },
        y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: labels.axisY } },
      },
      plugins: { legend: { position: "bottom" } },
    },
  });
  figure.dataset.state = "ready";
  figure.dataset.opens = String(engagement.openCurve.reduce((sum, n) => sum + n, 0));
  figure.dataset.clicks = String(engagement.clickCurve.reduce((sum, n) => sum + n, 0));
}

function setUp(figure) {
  const labels = JSON.parse(document.getElementById(figure.dataset.labels).textContent);
  const canvas = figure.querySelector("canvas");
  const loading = figure.querySelector("[data-chart-loading]");
  const empty = figure.querySelector("[data-chart-empty]");
  const error = figure.querySelector("[data-chart-error]");
  const errorText = figure.querySelector("[data-chart-error-text]");
  const sessionEnded = figure.querySelector("[data-chart-session-ended]");
  // Each bar's label is the send's moment as the page writes it, the date over the time.
  const label = momentParts(figure.dataset.timeZone);
  let chart = null;

  const draw = (occurrences) => {
    const data = {
      labels: occurrences.map((occurrence) => label(occurrence.scheduledFor)),
      datasets: SERIES.map(({ key, color }) => ({
        label: labels[key],
        data: occurrences.map((occurrence) => occurrence[key]),
        backgroundColor: color,
      })),
    };
    if (chart) chart.destroy();
    chart = new window.Chart(canvas, {
      type: "bar",
      data,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: true, title: { display: true, text: labels.axisX } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: labels.axisY } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    });
    figure.dataset.points = String(occurrences.length);
  };

  const load = async () => {
    error.hidden = true;
    loading.hidden = false;
    try {
      const { mailingReport } = await request(operation("mailingReport"), { id: figure.dataset.mailingId });
      const occurrences = mailingReport.occurrences;
      empty.hidden = occurrences.length > 0;
      canvas.hidden = occurrences.length === 0;
      if (occurrences.length) draw(occurrences);
      drawEngagement(mailingReport.engagement);
      figure.dataset.state = "ready";
    } catch (problem) {
      figure.dataset.state = "error";
      if (problem.sessionEnded) {
        // A retry cannot help until the user signs in again.
        const link = sessionEnded.querySelector("[data-sign-in]");
        link.href = signInUrl(link.getAttribute("href"));
        sessionEnded.hidden = false;
        return;
      }
      errorText.textContent = problem.messages && problem.messages.length ? problem.messages.join(" ") : "";
      error.hidden = false;
    } finally {
      loading.hidden = true;
    }
  };

  figure.querySelector("[data-chart-retry]").addEventListener("click", load);
  load();
}

document.querySelectorAll("[data-report-chart]").forEach(setUp);
