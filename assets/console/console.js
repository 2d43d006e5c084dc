// The console's only script: progress and resumable chunked uploads, in-page audio recording,
// and the review shortcuts. Every page works without it (forms post normally).
"use strict";

(function () {
  function $(id) { return document.getElementById(id); }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  // ---- Uploads: chunks through /console/api, resumed from what the server acknowledged ----
  var form = $("upload-form");
  if (form) {
    var csrf = form.dataset.csrf;
    var chunkSize = parseInt(form.dataset.chunk, 10) || 524288;
    var progress = $("upload-progress");
    var statusLine = $("upload-status");

    var say = function (text) { statusLine.textContent = text; };
    var show = function (done, total) {
      progress.hidden = false;
      progress.max = total;
      progress.value = done;
    };

    var newId = function () {
      if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
      return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
        return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
      });
    };

    var post = function (url, body) {
      return fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    };

    // Which chunks the server lacks; all of them when it has never heard of the upload.
    var missingChunks = async function (uuid, total) {
      for (var attempt = 0; attempt < 60; attempt++) {
        try {
          var r = await fetch("/console/api/records/upload/" + uuid + "/status", { credentials: "same-origin" });
          if (r.status === 404) { return Array.from({ length: total }, function (_, i) { return i; }); }
          if (r.ok) { return (await r.json()).missing_chunks; }
        } catch (e) { /* still offline */ }
        await sleep(Math.min(500 * (attempt + 1), 5000));
      }
      throw new Error("the server cannot be reached");
    };

    var uploadBlob = async function (blob, filename, fields) {
      var uuid = newId();
      var total = Math.max(1, Math.ceil(blob.size / chunkSize));
      var missing = Array.from({ length: total }, function (_, i) { return i; });
      show(0, total);
      while (missing.length) {
        var failed = false;
        for (var k = 0; k < missing.length; k++) {
          var i = missing[k];
          var body = new FormData();
          body.append("upload_uuid", uuid);
          body.append("chunk_index", String(i));
          body.append("total_chunks", String(total));
          body.append("filename", filename);
          body.append("chunk", blob.slice(i * chunkSize, Math.min(blob.size, (i + 1) * chunkSize)), filename);
          var ok = false;
          try {
            var r = await post("/console/api/records/upload/chunk", body);
            if (r.ok) { ok = true; } else if (r.status < 500 && r.status !== 408 && r.status !== 429) {
              throw new Error((await r.json().catch(function () { return {}; })).detail || r.statusText);
            }
          } catch (e) {
            if (!(e instanceof TypeError)) { throw e; } // a refusal, not a dropped connection
          }
          if (!ok) { failed = true; break; }
          show(total - missing.length + k + 1, total);
        }
        if (failed) {
          say(form.dataset.resuming);
          await sleep(500);
          missing = await missingChunks(uuid, total);
          show(total - missing.length, total);
        } else {
          missing = [];
        }
      }
      var finish = new FormData();
      finish.append("upload_uuid", uuid);
      finish.append("filename", filename);
      finish.append("total_chunks", String(total));
      Object.keys(fields).forEach(function (name) { if (fields[name]) { finish.append(name, fields[name]); } });
      for (var attempt = 0; ; attempt++) {
        try {
          var done = await post("/console/api/records/upload", finish);
          if (done.ok) { break; }
          var detail = (await done.json().catch(function () { return {}; })).detail;
          if (done.status < 500 || attempt > 5) { throw new Error(detail || done.statusText); }
        } catch (e) {
          if (!(e instanceof TypeError) || attempt > 20) { throw e; }
        }
        await sleep(1000);
      }
      say(form.dataset.done);
      window.location.assign("/console/mine?uploaded=1");
    };

    var fieldsOf = function (mediaType) {
      return {
        title: form.elements.title.value || ("Recording " + new Date().toISOString()),
        description: form.elements.description.value,
        category_id: form.elements.category_id.value,
        media_type: mediaType || form.elements.media_type.value,
      };
    };

    var run = function (blob, filename, mediaType) {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      uploadBlob(blob, filename, fieldsOf(mediaType)).catch(function (e) {
        say(String(e.message || e));
        form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      });
    };

    form.addEventListener("submit", function (event) {
      var file = $("file-input").files[0];
      if (!file || !window.fetch) { return; } // the plain form post does it
      event.preventDefault();
      if (!form.reportValidity()) { return; }
      run(file, file.name, null);
    });

    // ---- Recording audio in the page ----
    var recorder = $("recorder");
    if (recorder && navigator.mediaDevices && window.MediaRecorder) {
      recorder.hidden = false;
      var media = null, parts = [], recorded = null;
      var start = $("record-start"), stop = $("record-stop"), send = $("record-upload"), preview = $("record-preview");
      start.addEventListener("click", async function () {
        try {
          var stream = await navigator.mediaDevices.getUserMedia({ audio: true });
          parts = [];
          media = new MediaRecorder(stream);
          media.ondataavailable = function (e) { if (e.data.size) { parts.push(e.data); } };
          media.onstop = function () {
            stream.getTracks().forEach(function (t) { t.stop(); });
            recorded = new Blob(parts, { type: media.mimeType || "audio/webm" });
            preview.src = URL.createObjectURL(recorded);
            preview.hidden = false;
            send.disabled = false;
          };
          media.start(250);
          start.disabled = true;
          stop.disabled = false;
        } catch (e) { say(String(e.message || e)); }
      });
      stop.addEventListener("click", function () {
        if (media && media.state !== "inactive") { media.stop(); }
        start.disabled = false;
        stop.disabled = true;
      });
      send.addEventListener("click", function () {
        if (!recorded) { return; }
        if (!form.elements.category_id.reportValidity()) { return; }
        var ext = (recorded.type.indexOf("ogg") >= 0) ? ".ogg" : (recorded.type.indexOf("mp4") >= 0 ? ".m4a" : ".webm");
        run(recorded, "recording" + ext, "audio");
      });
    }
  }

  // ---- Review shortcuts: A approve, R reject, S skip, Space play/pause ----
  var review = $("review-form");
  if (review) {
    document.addEventListener("keydown", function (event) {
      var tag = (event.target.tagName || "").toLowerCase();
      if (tag === "textarea" || tag === "input" || event.ctrlKey || event.metaKey || event.altKey) { return; }
      var key = event.key.toLowerCase();
      if (key === "a") { event.preventDefault(); $("approve").click(); }
      else if (key === "r") { event.preventDefault(); $("reject").click(); }
      else if (key === "s") { event.preventDefault(); window.location.assign($("skip").href); }
      else if (key === " ") {
        var player = $("review-media");
        if (player) { event.preventDefault(); if (player.paused) { player.play(); } else { player.pause(); } }
      }
    });
  }
})();
