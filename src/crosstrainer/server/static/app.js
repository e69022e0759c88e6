// Upload a file to POST /v1/assessments, poll GET /v1/assessments/{id}, then open the report.
// Plain JS, no dependencies: XMLHttpRequest for upload progress, fetch for polling.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("upload-form");
const fileInput = $("file");

function show(stage, fraction) {
  $("status").hidden = false;
  $("stage").textContent = stage;
  const pct = Math.round(100 * Math.max(0, Math.min(1, fraction)));
  $("bar").style.width = pct + "%";
  $("pct").textContent = pct + "%";
}

function fail(message) {
  $("error").hidden = false;
  $("error").textContent = message;
  $("status").hidden = true;
  $("submit").disabled = false;
}

function upload(data) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/assessments");
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) show("Uploading…", e.loaded / e.total); };
    xhr.onload = () => {
      const body = xhr.response || {};
      if (xhr.status === 202) resolve(body);
      else reject(new Error(body.detail || ("upload failed (HTTP " + xhr.status + ")")));
    };
    xhr.onerror = () => reject(new Error("the server could not be reached"));
    xhr.send(data);
  });
}

async function poll(job) {
  for (;;) {
    const r = await fetch(job.status_url, { cache: "no-store" });
    const body = await r.json();
    if (!r.ok) throw new Error(body.detail || ("HTTP " + r.status));
    if (body.status === "done") return body;
    if (body.status === "failed") throw new Error(body.error ? body.error.message : "the assessment failed");
    const label = body.status === "queued"
      ? "Waiting in the queue" + (body.queue_position ? " (position " + body.queue_position + ")" : "") + "…"
      : "Working: " + body.stage + "…";
    show(label, body.progress);
    await new Promise((res) => setTimeout(res, 700));
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!fileInput.files.length) return fail("Choose a file first.");
  $("error").hidden = true;
  $("submit").disabled = true;
  const data = new FormData();
  data.append("kind", $("kind").value);
  if ($("sport").value.trim()) data.append("sport", $("sport").value.trim());
  data.append("file", fileInput.files[0]);
  try {
    show("Uploading…", 0);
    const job = await upload(data);
    const done = await poll(job);
    show("Done: opening the report…", 1);
    window.location.assign(done.report_url);
  } catch (err) {
    fail(err.message);
  }
});

fileInput.addEventListener("change", () => {
  $("file-label").textContent = fileInput.files.length ? fileInput.files[0].name : "Choose a file or drop it here";
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) {
    fileInput.files = e.dataTransfer.files;
    fileInput.dispatchEvent(new Event("change"));
  }
});
